-- Keystores: named key/value stores of an environment (`weather` → `london` → the weather of
-- London), read and written by key over `/v1/keystore/{id}/{key}` and by flows, and searched
-- with the where-rules DSL.

CREATE TABLE keystores (
    org_id          bigint      NOT NULL,
    environment_id  bigint      NOT NULL,
    -- The client's name for the keystore, as it appears in the URL.
    keystore_id     text        NOT NULL
                    CHECK (keystore_id ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
    -- What its entries hold: 'json' (valid JSON), 'xml' (a well-formed document) or 'raw' (any
    -- text). It never changes: the stored entries were checked against it.
    data_type       text        NOT NULL CHECK (data_type IN ('json', 'xml', 'raw')),
    -- The empty structure that a key read before it was written is created with, as the client
    -- wrote it, and as the document that search reads (see keystore_entries).
    empty_value     text        NOT NULL,
    empty_document  jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, environment_id, keystore_id),
    FOREIGN KEY (org_id, environment_id) REFERENCES environments ON DELETE CASCADE
);

-- Entries are rewritten in place by PUT: the free space left in each page lets PostgreSQL keep
-- those updates HOT (no index changes, since only the key is indexed).
CREATE TABLE keystore_entries (
    org_id          bigint      NOT NULL,
    environment_id  bigint      NOT NULL,
    keystore_id     text        NOT NULL,
    key             text        NOT NULL CHECK (octet_length(key) BETWEEN 1 AND 512),
    -- The entry exactly as it was saved, byte for byte: what GET answers in the keystore's own
    -- format and what a search's `*` returns.
    value           text        NOT NULL,
    -- What search reads its JSON paths in: the JSON value of a JSON entry, the JSON reading of an
    -- XML entry (the gateway's XML reader: leaves are strings), NULL for a raw entry (every path
    -- is then missing).
    document        jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    -- Also the search's index: one keystore's entries, in key order.
    PRIMARY KEY (org_id, environment_id, keystore_id, key),
    FOREIGN KEY (org_id, environment_id, keystore_id) REFERENCES keystores ON DELETE CASCADE
) WITH (fillfactor = 80);
