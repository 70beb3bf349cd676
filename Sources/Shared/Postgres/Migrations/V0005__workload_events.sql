-- A tenant's AI workload: one row per LLM call, as ingested or generated. The analysis reads it only through a few
-- set-based aggregate queries per run, all by tenant and time range.
CREATE TABLE workload_events (
    tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    ts timestamptz NOT NULL,
    model text NOT NULL,
    provider text NOT NULL,
    input_tokens integer NOT NULL,
    output_tokens integer NOT NULL,
    cached_input_tokens integer,
    reasoning_tokens integer,
    latency_ms double precision NOT NULL,
    ttft_ms double precision,
    status text NOT NULL CHECK (status IN ('ok', 'error', 'timeout')),
    prompt_hash text,
    prefix_hash text,
    prefix_tokens integer,
    max_tokens integer,
    feature text,
    user_id text,
    interactive boolean,
    cost_usd double precision NOT NULL,
    -- The generation run that wrote the row (so a re-executed generation replaces its own rows), or NULL.
    run_id uuid
);
CREATE INDEX workload_events_tenant_ts_idx ON workload_events (tenant_id, ts);
CREATE INDEX workload_events_run_idx ON workload_events (run_id) WHERE run_id IS NOT NULL;
