-- An audit of stage executions (one row each time a stage starts), written by `bench` runs that ask for it:
-- the chaos check proves with it that no finished stage runs again.
CREATE TABLE stage_executions (
    run_id uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    stage_index integer NOT NULL,
    attempt integer NOT NULL,
    worker_id text NOT NULL,
    started_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX stage_executions_run_idx ON stage_executions (run_id, stage_index);
