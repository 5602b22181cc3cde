-- 0003 macro indicators (FRED series; Alpha Vantage re-serves the same series as a fallback).

CREATE TABLE cpi (
    date          date PRIMARY KEY,
    cpi_value     numeric,
    interval_type text DEFAULT 'monthly',
    unit          text DEFAULT 'index 1982-1984=100',
    name          text
);

CREATE TABLE inflation (
    date           date PRIMARY KEY,
    inflation_rate numeric,
    interval_type  text DEFAULT 'annual',
    unit           text DEFAULT 'percent',
    name           text
);

CREATE TABLE federal_funds_rate (
    date          date PRIMARY KEY,
    rate          numeric,
    interval_type text DEFAULT 'monthly',
    unit          text DEFAULT 'percent',
    name          text DEFAULT 'Effective Federal Funds Rate'
);

CREATE TABLE treasury_yield (
    date          date NOT NULL,
    maturity      text NOT NULL,      -- '2year', '10year', '30year', ...
    interval_type text NOT NULL,      -- 'monthly', 'daily', ...
    yield_rate    numeric,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (date, maturity, interval_type)
);
CREATE INDEX idx_treasury_yield_maturity_date ON treasury_yield (maturity, date DESC);
