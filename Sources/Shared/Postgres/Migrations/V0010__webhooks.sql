-- Completion webhooks: the run's URL and its delivery state (attempts with backoff until delivered or given up).
ALTER TABLE runs ADD COLUMN webhook_url text;
ALTER TABLE runs ADD COLUMN webhook_attempts integer NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN webhook_next_at timestamptz;
ALTER TABLE runs ADD COLUMN webhook_delivered_at timestamptz;
ALTER TABLE runs ADD COLUMN webhook_error text;
CREATE INDEX runs_webhook_due_idx ON runs (finished_at) WHERE webhook_url IS NOT NULL AND webhook_delivered_at IS NULL;
