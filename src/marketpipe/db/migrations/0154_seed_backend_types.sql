-- 0154 the seed backend's column types (tests/contract_data/seed-backend-models.md).
--
-- The seed's backend reads these columns through SQLAlchemy models that declare them BIGINT/INTEGER
-- or a '12.3%' string; psycopg returns a numeric as Decimal, which its JSON encoder, its float
-- arithmetic and its pydantic schemas reject. marketpipe keeps the better-typed value it always had
-- in a new `<column>_exact` / `<column>_value` column — the one our writers write — and the
-- backend's column becomes a STORED generated column derived from it, so the two can never disagree
-- and no writer can set the backend's copy by mistake.
--
-- * Integer copies round half away from zero; a value beyond bigint's range (CoinGecko has sent
--   absurd volumes) gives NULL in the integer copy instead of failing the row, and stays whole in
--   the exact column (the seed nulled every value above 1e12).
-- * Renaming keeps the views of 0009 bound to the exact columns (a view follows a column, not its
--   name), so they still answer with the exact values under their old output names.
-- * Generated columns are copied by `CREATE TABLE ... (LIKE ... INCLUDING ALL)` (INCLUDING
--   GENERATED), so the trade tables keep them when they become partitioned.

-- top_gainers.change_percentage: Alpha Vantage's string ("12.3456%"), rebuilt from the number.
ALTER TABLE top_gainers RENAME COLUMN change_percentage TO change_percentage_value;
ALTER TABLE top_gainers
    ADD COLUMN change_percentage text GENERATED ALWAYS AS (change_percentage_value::text || '%') STORED;

-- CoinGecko amounts in USD the backend reads as integers.
ALTER TABLE coingecko_tickers_bithumb RENAME COLUMN converted_volume_usd TO converted_volume_usd_exact;
ALTER TABLE coingecko_tickers_bithumb RENAME COLUMN coin_mcap_usd TO coin_mcap_usd_exact;
ALTER TABLE coingecko_tickers_bithumb
    ADD COLUMN converted_volume_usd bigint GENERATED ALWAYS AS (
        CASE WHEN abs(converted_volume_usd_exact) < 9.2e18 THEN round(converted_volume_usd_exact)::bigint END
    ) STORED,
    ADD COLUMN coin_mcap_usd bigint GENERATED ALWAYS AS (
        CASE WHEN abs(coin_mcap_usd_exact) < 9.2e18 THEN round(coin_mcap_usd_exact)::bigint END
    ) STORED;

ALTER TABLE coingecko_coin_details RENAME COLUMN market_cap_usd TO market_cap_usd_exact;
ALTER TABLE coingecko_coin_details RENAME COLUMN total_volume_usd TO total_volume_usd_exact;
ALTER TABLE coingecko_coin_details
    ADD COLUMN market_cap_usd bigint GENERATED ALWAYS AS (
        CASE WHEN abs(market_cap_usd_exact) < 9.2e18 THEN round(market_cap_usd_exact)::bigint END
    ) STORED,
    ADD COLUMN total_volume_usd bigint GENERATED ALWAYS AS (
        CASE WHEN abs(total_volume_usd_exact) < 9.2e18 THEN round(total_volume_usd_exact)::bigint END
    ) STORED;

-- Trade volumes: the seed's tables (and the backend's models) had bigint volumes; Finnhub sends
-- fractional ones, kept exactly in volume_exact. All three trade tables, so they stay alike.
ALTER TABLE sp500_websocket_trades RENAME COLUMN volume TO volume_exact;
ALTER TABLE sp500_websocket_trades
    ADD COLUMN volume bigint GENERATED ALWAYS AS (
        CASE WHEN abs(volume_exact) < 9.2e18 THEN round(volume_exact)::bigint END
    ) STORED;
ALTER TABLE finnhub_trades RENAME COLUMN volume TO volume_exact;
ALTER TABLE finnhub_trades
    ADD COLUMN volume bigint GENERATED ALWAYS AS (
        CASE WHEN abs(volume_exact) < 9.2e18 THEN round(volume_exact)::bigint END
    ) STORED;
ALTER TABLE etf_realtime_prices RENAME COLUMN volume TO volume_exact;
ALTER TABLE etf_realtime_prices
    ADD COLUMN volume bigint GENERATED ALWAYS AS (
        CASE WHEN abs(volume_exact) < 9.2e18 THEN round(volume_exact)::bigint END
    ) STORED;
