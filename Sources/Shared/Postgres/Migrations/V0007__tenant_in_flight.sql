-- A tenant's own in-flight limit (NULL: the configured default), mirrored into Redis for the admission scripts.
ALTER TABLE tenants ADD COLUMN max_in_flight integer CHECK (max_in_flight > 0);
