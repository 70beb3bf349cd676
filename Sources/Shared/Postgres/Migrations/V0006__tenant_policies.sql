-- Per-tenant overrides of the gateway's rate limits (NULL: the configured default) and suspension.
ALTER TABLE tenants ADD COLUMN runs_per_second integer CHECK (runs_per_second > 0);
ALTER TABLE tenants ADD COLUMN requests_per_second integer CHECK (requests_per_second > 0);
ALTER TABLE tenants ADD COLUMN suspended_at timestamptz;
