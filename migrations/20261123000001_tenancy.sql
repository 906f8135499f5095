-- Tenancy: organizations, their environments, keys and applications.
-- Every tenant table leads its primary and unique keys with org_id, so that the schema can be
-- distributed by org_id. Secrets are stored as SHA-256 digests, never in clear.

CREATE TABLE organizations (
    org_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text        NOT NULL CHECK (length(name) BETWEEN 1 AND 128),
    created_at  timestamptz NOT NULL DEFAULT now()
);
-- Operators address organizations by name (`flowline admin create-app --org NAME`). On Citus this
-- table is a reference table, so the name index needs no org_id.
CREATE UNIQUE INDEX organizations_name_key ON organizations (lower(name));

CREATE TABLE environments (
    org_id          bigint      NOT NULL REFERENCES organizations ON DELETE CASCADE,
    environment_id  bigint      GENERATED ALWAYS AS IDENTITY,
    name            text        NOT NULL,
    is_default      boolean     NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, environment_id),
    CONSTRAINT environments_name_key UNIQUE (org_id, name)
);
CREATE UNIQUE INDEX environments_one_default_key ON environments (org_id) WHERE is_default;

-- kind 'api': the X-Apikey used with X-App; kind 'organization': the key of the organization API.
CREATE TABLE org_api_keys (
    org_id      bigint      NOT NULL REFERENCES organizations ON DELETE CASCADE,
    key_id      bigint      GENERATED ALWAYS AS IDENTITY,
    kind        text        NOT NULL CHECK (kind IN ('api', 'organization')),
    key_hash    bytea       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz,
    PRIMARY KEY (org_id, key_id)
);
-- Looked up by digest alone; a 256-bit random key cannot collide, so no unique index is needed.
CREATE INDEX org_api_keys_hash_idx ON org_api_keys (key_hash);

CREATE TABLE applications (
    org_id              bigint      NOT NULL,
    app_id              bigint      GENERATED ALWAYS AS IDENTITY,
    environment_id      bigint      NOT NULL,
    app_key             text        NOT NULL,
    description         text        NOT NULL DEFAULT '',
    scopes              text[]      NOT NULL,
    allowed_ips         text[]      NOT NULL DEFAULT '{}',
    oauth2              boolean     NOT NULL DEFAULT false,
    -- Requests per rate-limit window; NULL means the server's default.
    rate_limit          integer     CHECK (rate_limit > 0),
    client_id           text        NOT NULL,
    client_secret_hash  bytea       NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, app_id),
    CONSTRAINT applications_app_key_key UNIQUE (org_id, app_key),
    FOREIGN KEY (org_id, environment_id) REFERENCES environments ON DELETE CASCADE
);
CREATE INDEX applications_client_id_idx ON applications (client_id);

-- Refresh tokens are single-use: using one marks it used and issues its successor in the same
-- family; presenting a used one revokes the whole family.
CREATE TABLE oauth_refresh_tokens (
    org_id      bigint      NOT NULL,
    token_id    bigint      GENERATED ALWAYS AS IDENTITY,
    app_id      bigint      NOT NULL,
    family      uuid        NOT NULL,
    token_hash  bytea       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    revoked_at  timestamptz,
    PRIMARY KEY (org_id, token_id),
    FOREIGN KEY (org_id, app_id) REFERENCES applications ON DELETE CASCADE
);
CREATE INDEX oauth_refresh_tokens_hash_idx ON oauth_refresh_tokens (token_hash);
CREATE INDEX oauth_refresh_tokens_family_idx ON oauth_refresh_tokens (org_id, family);
