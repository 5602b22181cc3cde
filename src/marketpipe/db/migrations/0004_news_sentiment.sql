-- 0004 news and sentiment: NewsAPI, Finnhub market/company/earnings news, Alpha Vantage NEWS_SENTIMENT.

CREATE TABLE market_news (
    source       text NOT NULL,
    url          text NOT NULL,
    author       text,
    title        text NOT NULL,
    description  text,
    content      text,
    published_at timestamptz NOT NULL,
    fetched_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, url)
);
CREATE INDEX idx_market_news_published ON market_news (published_at DESC);
CREATE INDEX idx_market_news_title_fts ON market_news USING gin (to_tsvector('english', title));

-- Finnhub /news?category=…; "datetime" is the seed's column name for the publication instant.
CREATE TABLE market_news_finnhub (
    category   text NOT NULL,
    news_id    bigint NOT NULL,
    datetime   timestamptz NOT NULL,
    headline   text,
    image      text,
    related    text,
    source     text,
    summary    text,
    url        text,
    fetched_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (category, news_id)
);
CREATE INDEX idx_market_news_finnhub_datetime ON market_news_finnhub (category, datetime DESC);
CREATE INDEX idx_market_news_finnhub_related ON market_news_finnhub (related);

-- Alpha Vantage NEWS_SENTIMENT. batch_id is taken once per run from the sequence. ticker_sentiment
-- and topics keep AV's element keys (ticker, ticker_sentiment_score, ticker_sentiment_label,
-- relevance_score, topic) because the backend reads them. Text is stored whole (seed cut title 500,
-- summary 1000, authors 200).
CREATE SEQUENCE market_news_sentiment_batch_id_seq AS bigint;
CREATE TABLE market_news_sentiment (
    batch_id                bigint NOT NULL,
    title                   text NOT NULL,
    url                     text NOT NULL,
    time_published          timestamptz NOT NULL,
    authors                 text,
    summary                 text,
    source                  text,
    overall_sentiment_score numeric,
    overall_sentiment_label text,
    ticker_sentiment        jsonb,
    topics                  jsonb,
    query_type              text NOT NULL,
    query_params            text,
    created_at              timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (batch_id, url)
);
ALTER SEQUENCE market_news_sentiment_batch_id_seq OWNED BY market_news_sentiment.batch_id;
CREATE INDEX idx_market_news_sentiment_published ON market_news_sentiment (time_published DESC);
CREATE INDEX idx_market_news_sentiment_url ON market_news_sentiment (url);
CREATE INDEX idx_market_news_sentiment_tickers ON market_news_sentiment USING gin (ticker_sentiment);
CREATE INDEX idx_market_news_sentiment_topics ON market_news_sentiment USING gin (topics);

-- Finnhub /company-news per symbol.
CREATE TABLE company_news (
    symbol       text NOT NULL,
    source       text,
    url          text NOT NULL,
    title        text,
    description  text,
    content      text,
    published_at timestamptz,
    fetched_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol, url)
);
CREATE INDEX idx_company_news_symbol_published ON company_news (symbol, published_at DESC);

-- Orphaned in the seed (no DAG at HEAD); kept so its readers find it.
CREATE TABLE earnings_news (
    symbol       text NOT NULL,
    company_name text,
    report_date  date NOT NULL,
    source       text NOT NULL,
    title        text,
    url          text NOT NULL,
    published_at timestamptz,
    fetched_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol, report_date, source, url)
);

-- Finnhub /company-news in [report_date-14d, report_date].
CREATE TABLE earnings_news_finnhub (
    symbol       text NOT NULL,
    report_date  date NOT NULL,
    category     text,
    article_id   text,
    headline     text,
    image        text,
    related      text,
    source       text,
    summary      text,
    url          text NOT NULL,
    published_at timestamptz NOT NULL,
    fetched_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol, report_date, url)
);
CREATE INDEX idx_earnings_news_finnhub_symbol_published ON earnings_news_finnhub (symbol, published_at DESC);
