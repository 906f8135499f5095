-- The scheduler (DESIGN.md §5): wake-ups for idle workers, and the log of every step a record ran.

-- One notification per statement that queues or re-queues records, not per row: the ingest hot
-- path pays once per statement, and PostgreSQL folds identical notifications of a transaction
-- into one. Workers LISTEN on `flowline_queue` and claim whatever is due.
CREATE FUNCTION flowline_notify_queue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('flowline_queue', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER record_queue_notify
    AFTER INSERT OR UPDATE ON record_queue
    FOR EACH STATEMENT EXECUTE FUNCTION flowline_notify_queue();

-- Resuming a paused flow makes its queued records claimable again: wake the workers at once.
CREATE TRIGGER flows_status_notify
    AFTER UPDATE OF status ON flows
    FOR EACH STATEMENT EXECUTE FUNCTION flowline_notify_queue();

-- Every step execution: which step, which attempt, when, and how it ended ('ok', 'retry',
-- 'error'). It belongs to the record's tenant and is read by GET /v1/record.
CREATE TABLE record_step_log (
    org_id          bigint      NOT NULL,
    log_id          bigint      GENERATED ALWAYS AS IDENTITY,
    environment_id  bigint      NOT NULL,
    record_id       bigint      NOT NULL,
    step_id         text        NOT NULL,
    step_type       text        NOT NULL,
    attempt         integer     NOT NULL,
    started_at      timestamptz NOT NULL,
    finished_at     timestamptz NOT NULL,
    outcome         text        NOT NULL CHECK (outcome IN ('ok', 'retry', 'error')),
    error           text,
    PRIMARY KEY (org_id, log_id)
);
CREATE INDEX record_step_log_record_idx ON record_step_log (org_id, record_id, log_id);

-- The queue table is small and hot: vacuum it early so that claims stay on few pages.
ALTER TABLE record_queue SET (autovacuum_vacuum_scale_factor = 0.02,
                              autovacuum_analyze_scale_factor = 0.02);
