-- 0009 views consumers depend on, and the top_gainers NOTIFY trigger.

-- Symbol-only join of CoinGecko coins (rank <= 500) to Bithumb KRW markets.
CREATE VIEW coingecko_bithumb_mapping AS
SELECT cg.coingecko_id,
       cg.symbol AS coingecko_symbol,
       cg.name,
       mb.market_code AS bithumb_market,
       replace(mb.market_code, 'KRW-', '') AS bithumb_symbol,
       cg.market_cap_rank,
       cg.current_price_usd,
       cg.market_cap_usd
  FROM coingecko_id_mapping cg
  LEFT JOIN market_code_bithumb mb
         ON upper(cg.symbol) = upper(replace(mb.market_code, 'KRW-', ''))
 WHERE cg.market_cap_rank <= 500;

-- Coin details with the Bithumb KRW price. Joins the LATEST ticker per market (the seed joined every
-- ticker row, multiplying each coin by its ticker history).
CREATE VIEW crypto_detail_with_bithumb AS
SELECT cd.*,
       mb.market_code AS bithumb_market,
       bt.trade_price AS bithumb_krw_price,
       bt.change_rate AS bithumb_change_rate,
       bt.acc_trade_volume_24h AS bithumb_volume_24h
  FROM coingecko_coin_details cd
  LEFT JOIN market_code_bithumb mb
         ON upper(cd.symbol) = upper(replace(mb.market_code, 'KRW-', ''))
  LEFT JOIN LATERAL (
        SELECT t.trade_price, t.change_rate, t.acc_trade_volume_24h
          FROM bithumb_ticker t
         WHERE t.market = mb.market_code
         ORDER BY t.timestamp_field DESC
         LIMIT 1) bt ON true
 WHERE cd.market_cap_rank <= 200;

-- Upbit vs Binance USD price for tickers created today (same definition as the seed).
CREATE VIEW v_kimchi_premium_realtime AS
WITH coins AS (
    SELECT DISTINCT symbol, coin_name, market_code
      FROM coingecko_tickers_bithumb
     WHERE created_at::date = current_date
), upbit AS (
    SELECT DISTINCT ON (symbol) symbol, converted_last_usd, volume_24h, last_traded_at, created_at,
           converted_volume_usd
      FROM coingecko_tickers_bithumb
     WHERE exchange_id = 'upbit' AND created_at::date = current_date AND converted_last_usd IS NOT NULL
     ORDER BY symbol, created_at DESC
), binance AS (
    SELECT DISTINCT ON (symbol) symbol, converted_last_usd, volume_24h, last_traded_at, created_at,
           converted_volume_usd
      FROM coingecko_tickers_bithumb
     WHERE exchange_id = 'binance' AND created_at::date = current_date AND converted_last_usd IS NOT NULL
     ORDER BY symbol, created_at DESC
)
SELECT coins.symbol,
       coins.coin_name,
       coins.market_code,
       upbit.converted_last_usd AS upbit_usd_price,
       upbit.volume_24h AS upbit_volume,
       upbit.last_traded_at AS upbit_last_traded,
       binance.converted_last_usd AS binance_usd_price,
       binance.volume_24h AS binance_volume,
       binance.last_traded_at AS binance_last_traded,
       CASE WHEN binance.converted_last_usd > 0
            THEN (upbit.converted_last_usd - binance.converted_last_usd) / binance.converted_last_usd * 100
       END AS kimchi_premium_percentage,
       upbit.converted_last_usd - binance.converted_last_usd AS price_difference_usd,
       greatest(coalesce(upbit.created_at, 'epoch'::timestamptz),
                coalesce(binance.created_at, 'epoch'::timestamptz)) AS data_updated_at,
       coalesce(upbit.converted_volume_usd, 0) + coalesce(binance.converted_volume_usd, 0) AS total_volume_usd
  FROM coins
  LEFT JOIN upbit ON upbit.symbol = coins.symbol
  LEFT JOIN binance ON binance.symbol = coins.symbol
 WHERE upbit.converted_last_usd IS NOT NULL OR binance.converted_last_usd IS NOT NULL
 ORDER BY CASE WHEN upbit.converted_last_usd IS NOT NULL AND binance.converted_last_usd > 0
               THEN abs((upbit.converted_last_usd - binance.converted_last_usd) / binance.converted_last_usd * 100)
               ELSE 0 END DESC;

-- Latest /global row with derived sentiment labels.
CREATE VIEW latest_crypto_market_overview AS
SELECT active_cryptocurrencies,
       markets,
       total_market_cap_usd,
       total_volume_usd,
       btc_dominance,
       eth_dominance,
       btc_dominance + eth_dominance AS btc_eth_combined_dominance,
       100 - btc_dominance - eth_dominance AS altcoin_dominance,
       market_cap_change_percentage_24h_usd,
       CASE WHEN total_market_cap_usd > 3000000000000 THEN 'Bull Market'
            WHEN total_market_cap_usd > 1500000000000 THEN 'Stable Market'
            ELSE 'Bear Market' END AS market_sentiment,
       CASE WHEN btc_dominance > 60 THEN 'BTC Dominance High'
            WHEN btc_dominance > 45 THEN 'BTC Dominance Normal'
            ELSE 'Altseason' END AS dominance_analysis,
       collected_at,
       coingecko_updated_at
  FROM coingecko_global
 WHERE collected_at = (SELECT max(collected_at) FROM coingecko_global);

CREATE VIEW crypto_market_trends AS
WITH daily_stats AS (
    SELECT collected_at::date AS date,
           avg(total_market_cap_usd) AS avg_market_cap_usd,
           avg(total_volume_usd) AS avg_volume_usd,
           avg(btc_dominance) AS avg_btc_dominance,
           avg(eth_dominance) AS avg_eth_dominance,
           avg(market_cap_change_percentage_24h_usd) AS avg_change_24h
      FROM coingecko_global
     WHERE collected_at >= current_date - interval '7 days'
     GROUP BY collected_at::date
), trend AS (
    SELECT *, lag(avg_market_cap_usd) OVER (ORDER BY date) AS prev_market_cap,
              lag(avg_btc_dominance) OVER (ORDER BY date) AS prev_btc_dominance
      FROM daily_stats
)
SELECT date, avg_market_cap_usd, avg_volume_usd, avg_btc_dominance, avg_eth_dominance, avg_change_24h,
       (avg_market_cap_usd - prev_market_cap) / nullif(prev_market_cap, 0) * 100 AS daily_market_cap_change_percent,
       avg_btc_dominance - prev_btc_dominance AS daily_btc_dominance_change,
       CASE WHEN avg_change_24h > 5 THEN 'Strong Bullish'
            WHEN avg_change_24h > 2 THEN 'Bullish'
            WHEN avg_change_24h > -2 THEN 'Sideways'
            WHEN avg_change_24h > -5 THEN 'Bearish'
            ELSE 'Strong Bearish' END AS market_trend
  FROM trend
 ORDER BY date DESC;

CREATE VIEW monthly_dominance_history AS
SELECT date_trunc('month', collected_at) AS month,
       avg(btc_dominance) AS avg_btc_dominance,
       avg(eth_dominance) AS avg_eth_dominance,
       avg(btc_dominance + eth_dominance) AS avg_btc_eth_combined,
       max(btc_dominance) AS max_btc_dominance,
       min(btc_dominance) AS min_btc_dominance,
       stddev(btc_dominance) AS btc_dominance_volatility,
       count(*) AS data_points
  FROM coingecko_global
 WHERE collected_at >= current_date - interval '12 months'
 GROUP BY date_trunc('month', collected_at)
 ORDER BY month DESC;

-- Derivatives summaries over the latest batch (by collected_at).
CREATE VIEW latest_derivatives_summary AS
SELECT index_id,
       count(*) AS market_count,
       avg(funding_rate) AS avg_funding_rate,
       count(*) FILTER (WHERE funding_rate > 0) AS positive_funding_count,
       count(*) FILTER (WHERE funding_rate < 0) AS negative_funding_count,
       sum(open_interest_usd) AS total_open_interest,
       sum(volume_24h_usd) AS total_volume_24h,
       avg(basis) AS avg_basis,
       max(collected_at) AS latest_update
  FROM coingecko_derivatives
 WHERE batch_id = (SELECT batch_id FROM coingecko_derivatives ORDER BY collected_at DESC LIMIT 1)
 GROUP BY index_id
 ORDER BY total_open_interest DESC NULLS LAST;

CREATE VIEW derivatives_by_market AS
SELECT market,
       count(*) AS product_count,
       count(DISTINCT index_id) AS unique_assets,
       avg(funding_rate) AS avg_funding_rate,
       sum(open_interest_usd) AS total_open_interest,
       sum(volume_24h_usd) AS total_volume_24h,
       max(collected_at) AS latest_update
  FROM coingecko_derivatives
 WHERE batch_id = (SELECT batch_id FROM coingecko_derivatives ORDER BY collected_at DESC LIMIT 1)
 GROUP BY market
 ORDER BY total_open_interest DESC NULLS LAST;

-- Mapping quality views (seed).
CREATE VIEW v_bithumb_coingecko_mapping_summary AS
SELECT count(*) AS total_mappings,
       count(*) FILTER (WHERE coingecko_id IS NOT NULL) AS successful_mappings,
       count(*) FILTER (WHERE is_verified) AS verified_mappings,
       count(*) FILTER (WHERE has_issues) AS problematic_mappings,
       count(*) FILTER (WHERE match_method = 'MANUAL_MAPPING') AS manual_mappings,
       count(*) FILTER (WHERE match_method = 'EXACT_NAME_MATCH') AS exact_name_mappings,
       count(*) FILTER (WHERE match_method = 'TOP_10_RANK') AS top10_rank_mappings,
       count(*) FILTER (WHERE match_method LIKE '%AUTO%') AS auto_mappings,
       avg(match_score) AS average_match_score,
       count(*) FILTER (WHERE match_score >= 90) AS high_quality_mappings,
       count(*) FILTER (WHERE match_score >= 70 AND match_score < 90) AS medium_quality_mappings,
       count(*) FILTER (WHERE match_score < 70) AS low_quality_mappings,
       count(*) FILTER (WHERE market_cap_rank <= 100) AS top100_coins,
       count(*) FILTER (WHERE market_cap_rank <= 500) AS top500_coins,
       min(created_at) AS first_mapping_time,
       max(updated_at) AS last_update_time
  FROM bithumb_coingecko_mapping;

CREATE VIEW v_bithumb_coingecko_issues AS
SELECT market_code, symbol, bithumb_english_name, coingecko_id, coingecko_name, match_method,
       match_score, is_verified,
       CASE WHEN coingecko_id IS NULL THEN 'NO_COINGECKO_ID'
            WHEN match_score < 60 AND NOT is_verified THEN 'LOW_SCORE_UNVERIFIED'
            WHEN match_method = 'AUTO_MATCHING' AND match_score < 80 THEN 'AUTO_LOW_QUALITY'
            WHEN has_issues THEN 'MANUALLY_FLAGGED'
            ELSE 'REVIEW_RECOMMENDED' END AS issue_type,
       CASE WHEN coingecko_id IS NULL THEN 1
            WHEN match_score < 60 THEN 1
            WHEN match_score < 80 AND NOT is_verified THEN 2
            ELSE 3 END AS review_priority,
       notes, created_at, updated_at
  FROM bithumb_coingecko_mapping
 WHERE coingecko_id IS NULL OR match_score < 80 OR has_issues
    OR (match_method = 'AUTO_MATCHING' AND NOT is_verified);

CREATE VIEW v_bithumb_coingecko_successful AS
SELECT bcm.market_code, bcm.symbol, bcm.bithumb_korean_name, bcm.bithumb_english_name,
       bcm.coingecko_id, bcm.coingecko_name, bcm.market_cap_rank, bcm.current_price_usd,
       bcm.match_method, bcm.match_score, bcm.is_verified,
       cim.current_price_usd AS latest_price_usd,
       cim.market_cap_usd AS latest_market_cap_usd,
       cim.last_updated AS price_last_updated
  FROM bithumb_coingecko_mapping bcm
  LEFT JOIN coingecko_id_mapping cim ON cim.coingecko_id = bcm.coingecko_id
 WHERE bcm.coingecko_id IS NOT NULL AND bcm.is_active
 ORDER BY coalesce(bcm.market_cap_rank, 999999), bcm.match_score DESC, bcm.symbol;

-- top_gainers -> NOTIFY top_gainers_updated, ONCE per inserted batch (the seed sent one per gainer
-- row, ~20 per batch). Statement-level with a transition table: the rows inserted by one statement
-- are seen together; a batch is announced when its 'top_gainers' rows arrive. Rows merely updated
-- by a rerun (ON CONFLICT DO UPDATE) are not in the insert transition table, so a rerun is silent.
-- Payload: {"batch_id": <bigint>, "timestamp": <epoch seconds>}. Delivered at commit.
CREATE FUNCTION notify_top_gainers_update() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    inserted_batch bigint;
BEGIN
    FOR inserted_batch IN
        SELECT DISTINCT batch_id FROM inserted_top_gainers
         WHERE category = 'top_gainers' ORDER BY batch_id
    LOOP
        PERFORM pg_notify(
            'top_gainers_updated',
            json_build_object('batch_id', inserted_batch,
                              'timestamp', extract(epoch FROM now()))::text);
    END LOOP;
    RETURN NULL;
END;
$$;

CREATE TRIGGER top_gainers_notify_batch
    AFTER INSERT ON top_gainers
    REFERENCING NEW TABLE AS inserted_top_gainers
    FOR EACH STATEMENT EXECUTE FUNCTION notify_top_gainers_update();
