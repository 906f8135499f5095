-- Environments as the organization API manages them (issue 7): a status driven by background
-- jobs, a package (a quota: concurrent executions, storage, request rate), a region and a
-- timezone, the Flowline version the environment runs, storage add-ons, the measured storage
-- use, and an optional SSL certificate.

ALTER TABLE environments
    ADD COLUMN description          text        NOT NULL DEFAULT ''
        CHECK (length(description) <= 1024),
    ADD COLUMN status               text        NOT NULL DEFAULT 'ready'
        CHECK (status IN ('creating', 'updating', 'deleting', 'upgrading', 'ready', 'error')),
    ADD COLUMN package              text        NOT NULL DEFAULT 'SS-A'
        CHECK (package IN ('SS-A', 'SS-B', 'SS-C', 'SS-D')),
    ADD COLUMN region               text        NOT NULL DEFAULT 'amsterdam',
    ADD COLUMN timezone             text        NOT NULL DEFAULT 'Europe/Amsterdam',
    ADD COLUMN updated_at           timestamptz NOT NULL DEFAULT now(),
    -- The package's quotas, copied on create and upgrade so that the scheduler and the
    -- gateway read them from the row (the scheduler enforces max_concurrent_runs in SQL).
    ADD COLUMN base_storage_gb      integer     NOT NULL DEFAULT 20 CHECK (base_storage_gb >= 0),
    ADD COLUMN max_concurrent_runs  integer     NOT NULL DEFAULT 256 CHECK (max_concurrent_runs > 0),
    ADD COLUMN requests_per_minute  integer     NOT NULL DEFAULT 6000
        CHECK (requests_per_minute > 0),
    -- [{"storage": 100, "date_created": "…"}, …]: each upgrade adds 100 GB.
    ADD COLUMN storage_addons       jsonb       NOT NULL DEFAULT '[]',
    ADD COLUMN version              text        NOT NULL DEFAULT '',
    ADD COLUMN version_updated_at   timestamptz NOT NULL DEFAULT now(),
    -- Measured by the storage job, not per request.
    ADD COLUMN storage_used_bytes   bigint      NOT NULL DEFAULT 0,
    ADD COLUMN storage_measured_at  timestamptz,
    ADD COLUMN over_storage         boolean     NOT NULL DEFAULT false,
    ADD COLUMN last_error           text,
    -- The SSL certificate of the environment's public site: the chain as uploaded (leaf
    -- first), its private key (kept in clear, as a TLS terminator needs it), and the
    -- `ssl_certificate` object of the API, computed once at upload.
    ADD COLUMN certificate_chain_pem text,
    ADD COLUMN certificate_key_pem   text,
    -- json, not jsonb: the object keeps the reference's key order.
    ADD COLUMN certificate_info      json;

-- Organizations that existed before: their default environment is ready, on SS-A.
UPDATE environments SET status = 'ready', package = 'SS-A';

-- Deleted environments keep a tombstone, so that `GET …/:id/status` can answer `deleted`
-- after every row of the environment (the environments row included) is gone.
CREATE TABLE environment_tombstones (
    org_id          bigint      NOT NULL REFERENCES organizations ON DELETE CASCADE,
    environment_id  bigint      NOT NULL,
    name            text        NOT NULL,
    deleted_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, environment_id)
);

-- The background work on environments. Any server or worker process claims a due job with
-- FOR UPDATE SKIP LOCKED and holds it under a lease (locked_until) while it runs outside any
-- transaction (VACUUM cannot run in one); a crashed process's job is claimed again once its
-- lease expires. No foreign key: a deletion job outlives the environments row it removes.
CREATE TABLE environment_jobs (
    org_id          bigint      NOT NULL REFERENCES organizations ON DELETE CASCADE,
    job_id          bigint      GENERATED ALWAYS AS IDENTITY,
    environment_id  bigint      NOT NULL,
    kind            text        NOT NULL
        CHECK (kind IN ('create', 'delete', 'upgrade', 'update_version', 'optimize')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    locked_until    timestamptz,
    attempts        integer     NOT NULL DEFAULT 0,
    last_error      text,
    PRIMARY KEY (org_id, job_id)
);
CREATE INDEX environment_jobs_due_idx ON environment_jobs (locked_until NULLS FIRST, job_id);
