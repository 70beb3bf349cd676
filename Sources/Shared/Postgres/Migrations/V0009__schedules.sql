-- Cron schedules per tenant. next_fire_at is the next firing not yet made; the unique index on (schedule_id,
-- scheduled_for) makes each firing create at most one run, whichever scheduler replica makes it.
CREATE TABLE schedules (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name text NOT NULL,
    cron text NOT NULL,
    time_zone text NOT NULL,
    pipeline text NOT NULL,
    input jsonb NOT NULL,
    stage_count integer NOT NULL,
    priority smallint NOT NULL DEFAULT 1,
    catch_up text NOT NULL CHECK (catch_up IN ('skip', 'run_once')),
    enabled boolean NOT NULL DEFAULT true,
    next_fire_at timestamptz,
    last_fired_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX schedules_tenant_idx ON schedules (tenant_id, created_at);
CREATE INDEX schedules_due_idx ON schedules (next_fire_at) WHERE enabled;
ALTER TABLE runs ADD COLUMN schedule_id uuid REFERENCES schedules (id) ON DELETE SET NULL;
ALTER TABLE runs ADD COLUMN scheduled_for timestamptz;
CREATE UNIQUE INDEX runs_schedule_firing_idx ON runs (schedule_id, scheduled_for) WHERE schedule_id IS NOT NULL;
