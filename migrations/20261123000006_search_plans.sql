-- The record search's date indexes cover the search (GET /v1/record/search, see
-- crates/records/src/search.rs). A date range's matches are gathered through its index and the
-- newest kept, rather than found by walking every record newer than the range first; with
-- record_id, flow_id and status in the index, a range alone or with a flow or a status is read
-- from index entries only (an index-only scan), however many records it spans, and its count
-- too. The columns are included, not keys: the order within a date does not matter.
--
-- Writing costs barely change: every index holds the same entries as before, a little wider,
-- and the included columns change no more updates into non-HOT ones, since flow_id and status
-- are in records_flow_idx and records_status_idx already.
DROP INDEX records_created_idx;
CREATE INDEX records_created_idx ON records (org_id, environment_id, created_at)
    INCLUDE (record_id, flow_id, status);

DROP INDEX records_started_idx;
CREATE INDEX records_started_idx ON records (org_id, environment_id, started_at)
    INCLUDE (record_id, flow_id, status) WHERE started_at IS NOT NULL;

DROP INDEX records_last_run_idx;
CREATE INDEX records_last_run_idx ON records (org_id, environment_id, last_run_at)
    INCLUDE (record_id, flow_id, status) WHERE last_run_at IS NOT NULL;
