-- OHLCV candles (1 min, 5 min, 1 h) kept up to date by the stream sink from the trades it writes,
-- in the same transaction as the trades and the consumed offsets (so a replay never counts twice).
-- open/close are decided by the trade order key (timestamp_ms * 32768 + seq), not by arrival.
CREATE TABLE IF NOT EXISTS trade_candles (
    stream       text        NOT NULL,  -- sink kind: 'trades' (S&P 500) | 'topgainers'
    symbol       text        NOT NULL,
    interval_s   integer     NOT NULL CHECK (interval_s IN (60, 300, 3600)),
    bucket_start timestamptz NOT NULL,
    open         numeric     NOT NULL,
    high         numeric     NOT NULL,
    low          numeric     NOT NULL,
    close        numeric     NOT NULL,
    volume       numeric     NOT NULL,
    trades       integer     NOT NULL,
    open_key     bigint      NOT NULL,
    close_key    bigint      NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (stream, symbol, interval_s, bucket_start)
);
