"""News and sentiment datasets (Finnhub, NewsAPI, Alpha Vantage NEWS_SENTIMENT)."""
