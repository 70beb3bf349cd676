-- Netra schema, version 1: tenants and identity, conversations, runs with their checkpoints and event log.
CREATE TABLE tenants (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    email text NOT NULL,
    name text NOT NULL,
    password_hash text NOT NULL,
    role text NOT NULL DEFAULT 'member' CHECK (role IN ('admin', 'member')),
    created_at timestamptz NOT NULL DEFAULT now()
);
-- Login is by email alone, so an email belongs to one user across all tenants.
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE INDEX users_tenant_idx ON users (tenant_id);

CREATE TABLE api_keys (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name text NOT NULL,
    prefix text NOT NULL,
    key_hash text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at timestamptz
);
CREATE UNIQUE INDEX api_keys_prefix_key ON api_keys (prefix);
CREATE INDEX api_keys_tenant_idx ON api_keys (tenant_id);

CREATE TABLE threads (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id uuid REFERENCES users (id) ON DELETE SET NULL,
    title text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX threads_tenant_idx ON threads (tenant_id, updated_at DESC, id DESC);

CREATE TABLE runs (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    thread_id uuid REFERENCES threads (id) ON DELETE SET NULL,
    pipeline text NOT NULL,
    input jsonb NOT NULL,
    status text NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'dead')),
    current_stage text,
    stage_count integer NOT NULL,
    attempt integer NOT NULL DEFAULT 0,
    deliveries integer NOT NULL DEFAULT 0,
    priority smallint NOT NULL DEFAULT 1,
    idempotency_key text,
    not_before timestamptz,
    worker_id text,
    lease_expires_at timestamptz,
    enqueued_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    finished_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    error jsonb,
    result jsonb
);
CREATE INDEX runs_tenant_created_idx ON runs (tenant_id, created_at DESC, id DESC);
CREATE UNIQUE INDEX runs_idempotency_key ON runs (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
-- The reconciler's and reaper's scans touch only unfinished runs.
CREATE INDEX runs_active_idx ON runs (status, updated_at) WHERE status IN ('queued', 'running');

CREATE TABLE messages (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    thread_id uuid NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
    run_id uuid REFERENCES runs (id) ON DELETE SET NULL,
    role text NOT NULL CHECK (role IN ('user', 'assistant', 'system')),
    content text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX messages_thread_idx ON messages (tenant_id, thread_id, created_at, id);

CREATE TABLE run_stages (
    run_id uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    stage_index integer NOT NULL,
    stage text NOT NULL,
    attempt integer NOT NULL,
    output jsonb NOT NULL,
    started_at timestamptz NOT NULL,
    finished_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, stage_index)
);

CREATE TABLE run_events (
    run_id uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq integer NOT NULL,
    tenant_id uuid NOT NULL,
    type text NOT NULL,
    agent_name text,
    data jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, seq)
);
