-- A run's events and checkpoints are only ever inserted for a run that the same statement has just updated (the
-- worker's fenced commit, a queued run's cancellation), so the row always exists. The foreign keys made PostgreSQL
-- look the run up and lock it once per inserted row, 17 times per run of five stages: 15% of its commit time in the
-- throughput benchmark (pg_stat_statements). Deleting runs still deletes their events and checkpoints, once per
-- statement.
ALTER TABLE run_events DROP CONSTRAINT run_events_run_id_fkey;
ALTER TABLE run_stages DROP CONSTRAINT run_stages_run_id_fkey;
CREATE FUNCTION runs_delete_event_logs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM run_events e USING deleted_runs d WHERE e.run_id = d.id;
    DELETE FROM run_stages s USING deleted_runs d WHERE s.run_id = d.id;
    RETURN NULL;
END;
$$;
CREATE TRIGGER runs_delete_event_logs AFTER DELETE ON runs
    REFERENCING OLD TABLE AS deleted_runs FOR EACH STATEMENT EXECUTE FUNCTION runs_delete_event_logs();
