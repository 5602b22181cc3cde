-- Cheaper writes for the real-time trade tables (measured by bench/stream_sink.py).
-- * The surrogate `id` the seed's backend model carries draws from its sequence once per row; a
--   cache of 1000 values per session removes that per-row sequence access.
-- * `created_at` only ever grows with insertion order, so a BRIN index answers the backend's time
--   range scans at a fraction of a btree's write cost and size. The (symbol, created_at DESC) btree
--   stays: "latest trade per symbol" and per-symbol charts need it.
ALTER TABLE sp500_websocket_trades ALTER COLUMN id SET CACHE 1000;
ALTER TABLE finnhub_trades ALTER COLUMN id SET CACHE 1000;
ALTER TABLE etf_realtime_prices ALTER COLUMN id SET CACHE 1000;

DROP INDEX idx_sp500_trades_created;
CREATE INDEX idx_sp500_trades_created_brin ON sp500_websocket_trades USING brin (created_at);
DROP INDEX idx_finnhub_trades_created;
CREATE INDEX idx_finnhub_trades_created_brin ON finnhub_trades USING brin (created_at);
DROP INDEX idx_etf_realtime_prices_created;
CREATE INDEX idx_etf_realtime_prices_created_brin ON etf_realtime_prices USING brin (created_at);
