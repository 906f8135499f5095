-- Projects: versioned bundles of flows, keystores, tables and websites that an organization keeps
-- and deploys into its environments, and the URL mappings of an environment's public site.
--
-- A project version is immutable once created. Deploying one copies its flows, keystores and
-- tables into the environment's own runtime data (the `flows`, `keystores`, `data_tables` rows
-- and their entries and rows), and its website files into `environment_site_files`. File bytes
-- live once per organization in `project_blobs`, addressed by their SHA-256, so that versions
-- and environments share them instead of copying them.

CREATE TABLE projects (
    org_id          bigint      NOT NULL REFERENCES organizations ON DELETE CASCADE,
    project_id      bigint      GENERATED ALWAYS AS IDENTITY,
    name            text        NOT NULL CHECK (length(name) BETWEEN 1 AND 128),
    latest_version  integer     NOT NULL DEFAULT 0 CHECK (latest_version >= 0),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, project_id),
    CONSTRAINT projects_name_key UNIQUE (org_id, name)
);

CREATE TABLE project_versions (
    org_id      bigint      NOT NULL,
    project_id  bigint      NOT NULL,
    version     integer     NOT NULL CHECK (version > 0),
    -- The flow definitions, as `FlowDefinition::to_json` writes them, in file-name order.
    flows       jsonb       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, project_id, version),
    FOREIGN KEY (org_id, project_id) REFERENCES projects ON DELETE CASCADE
);

CREATE TABLE project_keystores (
    org_id       bigint  NOT NULL,
    project_id   bigint  NOT NULL,
    version      integer NOT NULL,
    keystore_id  text    NOT NULL,
    data_type    text    NOT NULL CHECK (data_type IN ('json', 'xml', 'raw')),
    -- The empty structure as text, NULL for the type's default.
    empty_value  text,
    -- [[key, value text], …] in file order.
    entries      jsonb   NOT NULL,
    PRIMARY KEY (org_id, project_id, version, keystore_id),
    FOREIGN KEY (org_id, project_id, version) REFERENCES project_versions ON DELETE CASCADE
);

CREATE TABLE project_tables (
    org_id      bigint  NOT NULL,
    project_id  bigint  NOT NULL,
    version     integer NOT NULL,
    name        text    NOT NULL,
    -- [{name, type, index}, …] as the tables API takes them.
    columns     jsonb   NOT NULL,
    -- [{id, column: value, …}, …]
    rows        jsonb   NOT NULL,
    PRIMARY KEY (org_id, project_id, version, name),
    FOREIGN KEY (org_id, project_id, version) REFERENCES project_versions ON DELETE CASCADE
);

CREATE TABLE project_blobs (
    org_id        bigint NOT NULL REFERENCES organizations ON DELETE CASCADE,
    content_hash  bytea  NOT NULL CHECK (octet_length(content_hash) = 32),
    content       bytea  NOT NULL,
    PRIMARY KEY (org_id, content_hash)
);

-- kind 'website': a static site (`websites/<slug>/…`); kind 'hostedpage': one page
-- (`hostedpages/<name>.html`, kept as its `index.html`).
CREATE TABLE project_files (
    org_id        bigint  NOT NULL,
    project_id    bigint  NOT NULL,
    version       integer NOT NULL,
    kind          text    NOT NULL CHECK (kind IN ('website', 'hostedpage')),
    name          text    NOT NULL,
    path          text    NOT NULL,
    content_type  text    NOT NULL,
    content_hash  bytea   NOT NULL,
    PRIMARY KEY (org_id, project_id, version, kind, name, path),
    FOREIGN KEY (org_id, project_id, version) REFERENCES project_versions ON DELETE CASCADE,
    FOREIGN KEY (org_id, content_hash) REFERENCES project_blobs
);

-- Which version of which project an environment holds.
CREATE TABLE environment_projects (
    org_id          bigint      NOT NULL,
    environment_id  bigint      NOT NULL,
    project_id      bigint      NOT NULL,
    version         integer     NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, environment_id, project_id),
    FOREIGN KEY (org_id, environment_id) REFERENCES environments ON DELETE CASCADE,
    FOREIGN KEY (org_id, project_id, version) REFERENCES project_versions
);

-- The website files and hosted pages an environment serves, as its deploys left them.
CREATE TABLE environment_site_files (
    org_id          bigint      NOT NULL,
    environment_id  bigint      NOT NULL,
    project_id      bigint      NOT NULL,
    kind            text        NOT NULL CHECK (kind IN ('website', 'hostedpage')),
    name            text        NOT NULL,
    path            text        NOT NULL,
    content_type    text        NOT NULL,
    content_hash    bytea       NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, environment_id, project_id, kind, name, path),
    FOREIGN KEY (org_id, environment_id, project_id) REFERENCES environment_projects
        ON DELETE CASCADE,
    FOREIGN KEY (org_id, content_hash) REFERENCES project_blobs
);

-- The relative URLs of an environment's public site and what each serves.
CREATE TABLE environment_urls (
    org_id          bigint      NOT NULL,
    environment_id  bigint      NOT NULL,
    -- Canonical: starts and ends with '/', segments of unreserved characters.
    url             text        NOT NULL CHECK (url ~ '^/([A-Za-z0-9._~-]+/)*$'),
    project_id      bigint      NOT NULL,
    kind            text        NOT NULL CHECK (kind IN ('website', 'hostedpage')),
    name            text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, environment_id, url),
    FOREIGN KEY (org_id, environment_id, project_id) REFERENCES environment_projects
        ON DELETE CASCADE
);
-- The public site is addressed by environment id alone (`/sites/{environment_id}/…`), before
-- the organization is known.
CREATE INDEX environment_urls_site_idx ON environment_urls (environment_id, url);
