-- Daily OHLCV history (one bar per trading day): stocks and ETFs in daily_prices, coins in
-- crypto_daily_prices (quoted in KRW on Bithumb, USD on CoinGecko). Filled by the daily-history
-- datasets; read by the query API's /daily routes and the charts beyond the streamed range.
CREATE TABLE IF NOT EXISTS daily_prices (
    symbol          VARCHAR(20)  NOT NULL,
    date            DATE         NOT NULL,
    open            NUMERIC(20, 6),
    high            NUMERIC(20, 6),
    low             NUMERIC(20, 6),
    close           NUMERIC(20, 6) NOT NULL,
    adj_close       NUMERIC(20, 6),
    volume          BIGINT,
    dividend        NUMERIC(20, 6),
    split_factor    NUMERIC(20, 10),
    source          VARCHAR(30)  NOT NULL,
    collected_at    TIMESTAMPTZ  NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol, date)
);

CREATE TABLE IF NOT EXISTS crypto_daily_prices (
    symbol          VARCHAR(20)  NOT NULL,
    quote           VARCHAR(10)  NOT NULL,
    date            DATE         NOT NULL,
    open            NUMERIC(30, 10),
    high            NUMERIC(30, 10),
    low             NUMERIC(30, 10),
    close           NUMERIC(30, 10) NOT NULL,
    volume          NUMERIC(38, 10),
    source          VARCHAR(30)  NOT NULL,
    collected_at    TIMESTAMPTZ  NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol, quote, date)
);
