-- Calls by outcome: one row per (provider, endpoint, key hash, outcome), counted by the provider
-- session after it classifies each reply. The collection metrics exporter turns it into
-- marketpipe_collect_calls_total (a counter: rows only ever grow). Keys appear only as short hashes.
CREATE TABLE IF NOT EXISTS collect_call_outcomes (
    provider  text        NOT NULL,
    endpoint  text        NOT NULL,  -- a low-cardinality name: AV function, or the path with ids as {id}
    key_hash  text        NOT NULL,
    outcome   text        NOT NULL,  -- OutcomeKind value, or 'unreachable' when no reply came back
    calls     bigint      NOT NULL DEFAULT 0,
    first_at  timestamptz NOT NULL DEFAULT now(),
    last_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, endpoint, key_hash, outcome)
);
