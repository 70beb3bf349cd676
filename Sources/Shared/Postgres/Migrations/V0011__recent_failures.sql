-- The operations console lists the latest failed and dead runs of all tenants. Only those rows enter the index, so
-- runs that succeed pay nothing for it.
CREATE INDEX runs_failed_idx ON runs (finished_at DESC) WHERE status IN ('failed', 'dead');
