-- Webhooks: endpoints through which outside services push data into a flow without credentials
-- (the unguessable uri is the credential), and every event they accepted.

CREATE TABLE webhooks (
    org_id          bigint      NOT NULL,
    webhook_id      bigint      GENERATED ALWAYS AS IDENTITY,
    environment_id  bigint      NOT NULL,
    -- The uri is a bearer secret, so only its SHA-256 digest is stored, like the API keys; it is
    -- shown once, when the webhook is created. The prefix (a few of its characters, far too few
    -- to guess the rest) lets an operator tell webhooks apart in a listing.
    uri_hash        bytea       NOT NULL,
    uri_prefix      text        NOT NULL,
    flow_id         bigint      NOT NULL,
    -- The HMAC-SHA256 key that signs the sender's payloads (X-Flowline-Signature), NULL when the
    -- webhook is unsigned. Unlike every other secret it is kept in clear: verifying an HMAC needs
    -- the key itself, and a digest of it would not do. It is never shown after creation.
    secret          text,
    -- {record path → payload path}; NULL when the record is the payload itself.
    mapping         jsonb,
    -- The application that registered it; NULL when an operator did (admin API or CLI).
    app_id          bigint,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, webhook_id),
    FOREIGN KEY (org_id, environment_id) REFERENCES environments ON DELETE CASCADE,
    -- A webhook feeds one flow and goes with it.
    FOREIGN KEY (org_id, flow_id) REFERENCES flows ON DELETE CASCADE
);
-- Looked up by digest alone, as the API keys are: a 192-bit random uri cannot collide, so no
-- unique index (which could not lead with org_id) is needed.
CREATE INDEX webhooks_uri_hash_idx ON webhooks (uri_hash);
CREATE INDEX webhooks_environment_idx ON webhooks (org_id, environment_id, webhook_id);

-- What a webhook received: the payload as sent, the record it became and the answer given, so
-- that a retry with the same Idempotency-Key gets the same answer and creates nothing.
CREATE TABLE webhook_events (
    org_id           bigint      NOT NULL,
    event_id         bigint      GENERATED ALWAYS AS IDENTITY,
    environment_id   bigint      NOT NULL,
    webhook_id       bigint      NOT NULL,
    -- NULL when the sender gave none; NULLs never conflict, so such events are never merged.
    idempotency_key  text,
    -- The media type the payload was read as (application/json, …-form-urlencoded, …/xml).
    content_type     text        NOT NULL,
    -- The raw body, byte for byte, as its signature covered it.
    payload          bytea       NOT NULL,
    -- The record the event became. No foreign key: the event outlives a deleted record, as the
    -- record's history does.
    record_id        bigint,
    -- The 201 answer's resource, kept as text (json, not jsonb) so that a replay is byte for byte
    -- the first answer. It and record_id are written in the transaction that inserts the event,
    -- so a committed event always has both.
    response         json,
    received_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, event_id),
    CONSTRAINT webhook_events_idempotency_key UNIQUE (org_id, webhook_id, idempotency_key),
    FOREIGN KEY (org_id, webhook_id) REFERENCES webhooks ON DELETE CASCADE
);
