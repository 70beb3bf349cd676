-- Delivery guarantees: cancellation requests and re-enqueue bookkeeping.
ALTER TABLE runs ADD COLUMN cancel_requested_at timestamptz;
ALTER TABLE runs ADD COLUMN retries integer NOT NULL DEFAULT 0;
UPDATE runs SET enqueued_at = created_at WHERE enqueued_at IS NULL;
ALTER TABLE runs ALTER COLUMN enqueued_at SET DEFAULT now();
-- The reconciler looks for queued runs by how long ago they were last handed to Redis.
CREATE INDEX runs_queued_enqueued_idx ON runs (enqueued_at) WHERE status = 'queued';
