-- Batched runs (DESIGN.md §5): outputs that survive a wait, and quiet scheduler transactions.

-- Outputs saved with `save_as` (`steps.NAME` in templates) outlive a delay, a retry or an http
-- call: the run that resumes the record reads them back. NULL when the run saved none.
ALTER TABLE records ADD COLUMN step_outputs jsonb;

-- The scheduler's own updates of the queue (claims, lease heartbeats, a run's re-scheduling)
-- wake nobody: the worker that made them knows, and a claim that woke every worker would make
-- each claim start another. Its transactions set `flowline.quiet`; everything else that queues
-- or re-queues records still notifies once per statement.
CREATE OR REPLACE FUNCTION flowline_notify_queue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(current_setting('flowline.quiet', true), '') <> 'on' THEN
        PERFORM pg_notify('flowline_queue', '');
    END IF;
    RETURN NULL;
END;
$$;

-- An environment's package caps the records it has in flight (`max_concurrent_runs`): a claim
-- counts the leased entries of the environments it takes from, through this small index of
-- the leased entries alone.
CREATE INDEX record_queue_leased_idx ON record_queue (org_id, environment_id)
    WHERE lease_owner IS NOT NULL;
