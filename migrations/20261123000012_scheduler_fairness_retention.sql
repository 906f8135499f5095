-- Fair claiming (DESIGN.md §5): the scheduler walks the organizations with queued records and
-- takes the earliest due records of each, so one organization's backlog never hides another's.
CREATE INDEX record_queue_org_due_idx ON record_queue (org_id, next_run_at) WHERE NOT paused;

-- Step-log retention deletes by age: a BRIN index on the append-ordered finish time finds the
-- old entries at almost no cost to inserts.
CREATE INDEX record_step_log_finished_idx ON record_step_log USING brin (finished_at);
