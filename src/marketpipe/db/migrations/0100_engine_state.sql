-- Engine state: the run ledger, per-item cursors and the quota ledger (owned by the collection engine).

-- One row per dataset run (the run id doubles as the batch id of snapshot tables).
CREATE TABLE IF NOT EXISTS collect_runs (
    run_id        bigserial PRIMARY KEY,
    dataset       text        NOT NULL,
    provider      text,
    logical_date  timestamptz,
    started_at    timestamptz NOT NULL DEFAULT now(),
    ended_at      timestamptz,
    status        text        NOT NULL DEFAULT 'running'
                  CHECK (status IN ('running', 'ok', 'partial', 'failed')),
    calls         integer     NOT NULL DEFAULT 0,
    rows_inserted integer     NOT NULL DEFAULT 0,
    rows_updated  integer     NOT NULL DEFAULT 0,
    items_done    integer     NOT NULL DEFAULT 0,
    items_failed  integer     NOT NULL DEFAULT 0,
    items_pending integer     NOT NULL DEFAULT 0,
    error_class   text,
    message       text        NOT NULL DEFAULT '',
    resume_at     timestamptz
);
CREATE INDEX IF NOT EXISTS collect_runs_dataset_started ON collect_runs (dataset, started_at DESC);

-- Per-item progress of progressive datasets: one row per (dataset, item) such as a symbol or a query.
CREATE TABLE IF NOT EXISTS collect_cursors (
    dataset          text        NOT NULL,
    item             text        NOT NULL,
    last_done_at     timestamptz,          -- last time the item completed (rows stored or provider had none)
    last_attempt_at  timestamptz,
    last_error_at    timestamptz,
    last_error_class text,
    last_error       text,
    attempts         integer     NOT NULL DEFAULT 0,  -- consecutive failed attempts
    done_count       integer     NOT NULL DEFAULT 0,
    last_run_id      bigint,
    state            jsonb       NOT NULL DEFAULT '{}'::jsonb,  -- item-specific cursor (minId, since_id, ...)
    PRIMARY KEY (dataset, item)
);

-- Calls counted per provider, key (short hash, never the key) and published window.
CREATE TABLE IF NOT EXISTS quota_ledger (
    provider     text        NOT NULL,
    key_hash     text        NOT NULL,
    window_name  text        NOT NULL,
    window_start timestamptz NOT NULL,
    window_end   timestamptz NOT NULL,
    used         integer     NOT NULL DEFAULT 0,
    quota_limit  integer     NOT NULL,
    PRIMARY KEY (provider, key_hash, window_name, window_start)
);

-- A key the provider refused for quota: spent until its window resets.
CREATE TABLE IF NOT EXISTS quota_key_state (
    provider    text        NOT NULL,
    key_hash    text        NOT NULL,
    spent_until timestamptz NOT NULL,
    reason      text        NOT NULL DEFAULT '',
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, key_hash)
);
