-- A run's step updates (current_stage, updated_at) change no indexed column, so PostgreSQL can update the row in
-- place (a HOT update, no index insertions) when its page has room: the active-runs index no longer includes
-- updated_at, and pages keep a fifth free for the new row versions.
DROP INDEX runs_active_idx;
-- The thread's active runs (multitask strategies, releasing a thread's waiting runs).
CREATE INDEX runs_thread_active_idx ON runs (thread_id) WHERE status IN ('queued', 'running') AND thread_id IS NOT NULL;
ALTER TABLE runs SET (fillfactor = 80);
