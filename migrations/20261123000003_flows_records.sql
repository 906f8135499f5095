-- Flows, their immutable published versions, data records, the queue and each record's history.

-- A flow of an environment. `status` is its lifecycle (DESIGN.md §4): 'draft' until its first
-- publication, then 'public' (published and running), 'paused', 'running' (resumed after a
-- pause) or 'inactive'. `draft` holds the definition saved since the last publication, if any;
-- publishing copies it into flow_versions and makes it `current_version`.
CREATE TABLE flows (
    org_id            bigint      NOT NULL,
    flow_id           bigint      GENERATED ALWAYS AS IDENTITY,
    environment_id    bigint      NOT NULL,
    name              text        NOT NULL,
    description       text        NOT NULL DEFAULT '',
    status            text        NOT NULL DEFAULT 'draft'
                      CHECK (status IN ('draft', 'public', 'running', 'paused', 'inactive')),
    draft             jsonb,
    draft_saved_at    timestamptz,
    current_version   integer,
    created_at        timestamptz NOT NULL DEFAULT now(),
    modified_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, flow_id),
    CONSTRAINT flows_name_key UNIQUE (org_id, environment_id, name),
    FOREIGN KEY (org_id, environment_id) REFERENCES environments ON DELETE CASCADE,
    CHECK ((status = 'draft') = (current_version IS NULL))
);

-- A published version: immutable. It hangs on its environment, not on its flow row, because
-- records reference the version they started on and outlive the flow: deleting a flow removes
-- the versions that no record ran on and keeps the others.
CREATE TABLE flow_versions (
    org_id          bigint      NOT NULL,
    flow_id         bigint      NOT NULL,
    version         integer     NOT NULL CHECK (version > 0),
    environment_id  bigint      NOT NULL,
    definition      jsonb       NOT NULL,
    published_at    timestamptz NOT NULL DEFAULT now(),
    -- The application that published it; NULL when an operator did.
    published_by    bigint,
    PRIMARY KEY (org_id, flow_id, version),
    FOREIGN KEY (org_id, environment_id) REFERENCES environments ON DELETE CASCADE
);

-- A data record. `status` holds the Flowize codes: 0 new or paused, 1 processing, 2 finished,
-- 3 finished with errors, 4 scheduled, 5 reviewed, 6 errors handled. The record keeps the flow
-- version it started on (no foreign key: its check would lock that one version row for every
-- record inserted; ingestion holds the flow row instead, and deleting a flow keeps the versions
-- records ran on). Its creation is the first entry of its history (created_at,
-- created_by); every later change appends to record_history.
CREATE TABLE records (
    org_id          bigint      NOT NULL,
    record_id       bigint      GENERATED ALWAYS AS IDENTITY,
    environment_id  bigint      NOT NULL,
    uuid            uuid        NOT NULL,
    flow_id         bigint      NOT NULL,
    flow_version    integer     NOT NULL,
    data            jsonb       NOT NULL,
    status          smallint    NOT NULL CHECK (status BETWEEN 0 AND 6),
    current_step    text,
    num_runs        integer     NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    created_by      bigint,
    started_at      timestamptz,
    last_run_at     timestamptz,
    next_run_at     timestamptz,
    modified_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, record_id),
    CONSTRAINT records_uuid_key UNIQUE (org_id, environment_id, uuid)
);
-- The search's access paths (GET /v1/record/search): newest first within an environment,
-- optionally narrowed by flow, status or a date; data fields through the GIN index.
CREATE INDEX records_recent_idx ON records (org_id, environment_id, record_id DESC);
CREATE INDEX records_flow_idx ON records (org_id, environment_id, flow_id, record_id DESC);
CREATE INDEX records_status_idx ON records (org_id, environment_id, status, record_id DESC);
CREATE INDEX records_created_idx ON records (org_id, environment_id, created_at);
CREATE INDEX records_started_idx ON records (org_id, environment_id, started_at)
    WHERE started_at IS NOT NULL;
CREATE INDEX records_last_run_idx ON records (org_id, environment_id, last_run_at)
    WHERE last_run_at IS NOT NULL;
CREATE INDEX records_data_idx ON records USING gin (data jsonb_path_ops);

-- The hot queue state, narrow and apart from the wide record (DESIGN.md §5): one row per record
-- that still has to run or is running. A finished record leaves the queue. Paused records stay
-- but are not claimed. No foreign key to records: its check would lock the new record row and run
-- a trigger for every record queued, on the hottest insert path; the record's service deletes
-- the queue row with the record, in the same statement.
CREATE TABLE record_queue (
    org_id          bigint      NOT NULL,
    record_id       bigint      NOT NULL,
    environment_id  bigint      NOT NULL,
    flow_id         bigint      NOT NULL,
    next_run_at     timestamptz NOT NULL DEFAULT now(),
    paused          boolean     NOT NULL DEFAULT false,
    attempts        integer     NOT NULL DEFAULT 0,
    lease_owner     uuid,
    lease_until     timestamptz,
    PRIMARY KEY (org_id, record_id)
) WITH (fillfactor = 70);
CREATE INDEX record_queue_due_idx ON record_queue (next_run_at) WHERE NOT paused;
CREATE INDEX record_queue_flow_idx ON record_queue (org_id, flow_id);

-- Every change a record goes through after its creation: what, when, by which application.
-- It outlives the record (no foreign key), so that a deletion can be traced too.
CREATE TABLE record_history (
    org_id          bigint      NOT NULL,
    entry_id        bigint      GENERATED ALWAYS AS IDENTITY,
    environment_id  bigint      NOT NULL,
    record_id       bigint      NOT NULL,
    uuid            uuid        NOT NULL,
    at              timestamptz NOT NULL DEFAULT now(),
    -- The application that made the change; NULL for the scheduler or an operator.
    app_id          bigint,
    action          text        NOT NULL,
    detail          jsonb       NOT NULL DEFAULT '{}',
    PRIMARY KEY (org_id, entry_id)
);
CREATE INDEX record_history_uuid_idx ON record_history (org_id, environment_id, uuid, entry_id);
