-- The running runs, for the reconciler's search for runs whose lease ran out long ago with no stream entry left to
-- recover them (Redis lost it while their worker died). Keyed by id, which never changes, and filtered on status,
-- which other partial indexes already name: lease renewals and step updates stay HOT.
CREATE INDEX runs_running_idx ON runs (id) WHERE status = 'running';
