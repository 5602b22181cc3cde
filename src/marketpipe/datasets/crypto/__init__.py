"""Crypto reference and market datasets (Bithumb, CoinGecko)."""
