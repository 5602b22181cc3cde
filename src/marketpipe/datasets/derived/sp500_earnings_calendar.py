"""S&P 500 earnings calendar with the news around each report (docs/seed.md §3b), derived in SQL.

For the run's logical date D, every ``earnings_calendar`` event with ``report_date`` in [D−7, D+30] of a
current constituent becomes a ``sp500_earnings_calendar`` row (sector, sub-industry and headquarters
from ``sp500_companies``; an English title such as ``AAPL earnings (EPS est. $1.23)``). Then, in the
same transaction and with set-based statements only, ``sp500_earnings_news`` gets for every event:

- *forecast* news published on New York days [R−14, R−1] and *reaction* news on [R+1, R+7], where R is
  the report date;
- at most 10 articles per source table per window, newest first, from ``earnings_news_finnhub`` and
  ``company_news`` (by symbol), ``market_news`` (company name ``ILIKE`` in title/description/content,
  or a ticker of two or more letters as a whole, case-sensitive word — the seed's ``ILIKE '%A%'``
  matched every article for one-letter tickers) and ``market_news_sentiment`` (``ticker_sentiment @> '[{"ticker": "SYM"}]'``);
- deduplicated by URL per event (earnings news first, then company news, sentiment, market news);
- ``days_from_earnings`` = New York publication day − R.

Articles no longer among an event's picks are removed, events of the window that the calendar no longer
lists (rescheduled, or the company left the index) are removed with their news, and the three counts
on each event are refreshed — so a second run over the same data changes nothing.
"""

from __future__ import annotations

from datetime import timedelta

import psycopg

from marketpipe.db import MergeResult
from marketpipe.engine.registry import DERIVED, DatasetSpec, Row, RunContext

#: Events with report_date in [D − DAYS_BEFORE, D + DAYS_AFTER] of the logical date D.
DAYS_BEFORE = 7
DAYS_AFTER = 30
#: Articles per source table per window.
PER_TABLE = 10
#: Calendar days are New York days (US earnings dates).
MARKET_TZ = "America/New_York"

_EVENTS = """
SELECT ec.symbol, c.company_name, ec.report_date, ec.fiscal_date_ending, ec.estimate,
       coalesce(ec.currency, 'USD') AS currency, c.gics_sector, c.gics_sub_industry, c.headquarters,
       'earnings_report' AS event_type,
       ec.symbol || ' earnings' || CASE WHEN ec.estimate IS NULL THEN ''
           ELSE ' (EPS est. ' || CASE WHEN ec.estimate < 0 THEN '-' ELSE '' END || '$'
                || to_char(abs(ec.estimate), 'FM999999990.00') || ')' END AS event_title,
       c.company_name || ' (' || ec.symbol || ') ' || coalesce(ec.event_description, 'earnings report')
           || coalesce(' for the fiscal quarter ending ' || ec.fiscal_date_ending::text, '')
           AS event_description
  FROM earnings_calendar ec
  JOIN sp500_companies c ON c.symbol = ec.symbol AND c.is_current
 WHERE ec.report_date BETWEEN %(first)s AND %(last)s
 ORDER BY ec.report_date, ec.symbol
"""

_DROP_UNLISTED = """
DELETE FROM sp500_earnings_calendar
 WHERE report_date BETWEEN %(first)s AND %(last)s
   AND (symbol, report_date) NOT IN (SELECT * FROM unnest(%(symbols)s::text[], %(dates)s::date[]))
"""

# One row per (event, window) with its instant bounds, then ≤ PER_TABLE candidates per source table.
# Each source subquery dedupes by URL first (an article may sit in several batches or report dates).
_PICK = r"""
CREATE TEMP TABLE sp500_earnings_news_picked ON COMMIT DROP AS
WITH windows AS (
    SELECT cal.id AS calendar_id, cal.symbol, cal.report_date, w.section,
           (cal.report_date + w.first_offset)::timestamp AT TIME ZONE %(tz)s AS since,
           (cal.report_date + w.last_offset + 1)::timestamp AT TIME ZONE %(tz)s AS until,
           '%%' || replace(replace(replace(
               regexp_replace(cal.company_name,
                   '[,.]?\s+(Inc|Incorporated|Corp|Corporation|Company|Co|Ltd|plc|Holdings|Group)\.?$', '', 'i'),
               '\', '\\'), '%%', '\%%'), '_', '\_') || '%%' AS name_pattern,
           CASE WHEN length(cal.symbol) > 1  -- "A" is a word in most titles: name match only
                THEN '\m' || regexp_replace(cal.symbol, '([^A-Za-z0-9])', '\\\1', 'g') || '\M'
           END AS ticker_word
      FROM sp500_earnings_calendar cal
     CROSS JOIN (VALUES ('forecast', -14, -1), ('reaction', 1, 7)) AS w(section, first_offset, last_offset)
     WHERE cal.report_date BETWEEN %(first)s AND %(last)s
),
candidates AS (
    SELECT w.calendar_id, w.report_date, w.section, 1 AS priority, a.*
      FROM windows w CROSS JOIN LATERAL (
        SELECT * FROM (
            SELECT DISTINCT ON (e.url) 'earnings_news_finnhub'::text AS source_table, e.headline AS title,
                   e.url, e.summary, NULL::text AS content, e.source, e.published_at
              FROM earnings_news_finnhub e
             WHERE e.symbol = w.symbol AND e.published_at >= w.since AND e.published_at < w.until
               AND e.headline IS NOT NULL
             ORDER BY e.url, e.published_at DESC) d
         ORDER BY d.published_at DESC, d.url LIMIT %(per_table)s) a
    UNION ALL
    SELECT w.calendar_id, w.report_date, w.section, 2, a.*
      FROM windows w CROSS JOIN LATERAL (
        SELECT 'company_news'::text, n.title, n.url, n.description, n.content, n.source, n.published_at
          FROM company_news n
         WHERE n.symbol = w.symbol AND n.published_at >= w.since AND n.published_at < w.until
           AND n.title IS NOT NULL
         ORDER BY n.published_at DESC, n.url LIMIT %(per_table)s) a
    UNION ALL
    SELECT w.calendar_id, w.report_date, w.section, 3, a.*
      FROM windows w CROSS JOIN LATERAL (
        SELECT * FROM (
            SELECT DISTINCT ON (s.url) 'market_news_sentiment'::text AS source_table, s.title, s.url,
                   s.summary, NULL::text AS content, s.source, s.time_published AS published_at
              FROM market_news_sentiment s
             WHERE s.ticker_sentiment @> jsonb_build_array(jsonb_build_object('ticker', w.symbol))
               AND s.time_published >= w.since AND s.time_published < w.until
             ORDER BY s.url, s.batch_id DESC) d
         ORDER BY d.published_at DESC, d.url LIMIT %(per_table)s) a
    UNION ALL
    SELECT w.calendar_id, w.report_date, w.section, 4, a.*
      FROM windows w CROSS JOIN LATERAL (
        SELECT * FROM (
            SELECT DISTINCT ON (m.url) 'market_news'::text AS source_table, m.title, m.url,
                   m.description AS summary, m.content, m.source, m.published_at
              FROM market_news m
             WHERE m.published_at >= w.since AND m.published_at < w.until
               AND (m.title ILIKE w.name_pattern OR m.description ILIKE w.name_pattern
                    OR m.content ILIKE w.name_pattern
                    OR m.title ~ w.ticker_word OR m.description ~ w.ticker_word)
             ORDER BY m.url, m.published_at DESC) d
         ORDER BY d.published_at DESC, d.url LIMIT %(per_table)s) a
)
SELECT DISTINCT ON (calendar_id, url)
       calendar_id, source_table, title, url, summary, content, source, published_at,
       section AS news_section,
       (published_at AT TIME ZONE %(tz)s)::date - report_date AS days_from_earnings
  FROM candidates
 ORDER BY calendar_id, url, priority, published_at DESC
"""

_UPSERT_NEWS = """
INSERT INTO sp500_earnings_news AS n
       (calendar_id, source_table, title, url, summary, content, source, published_at, news_section,
        days_from_earnings)
SELECT calendar_id, source_table, title, url, summary, content, source, published_at, news_section,
       days_from_earnings
  FROM sp500_earnings_news_picked
    ON CONFLICT (calendar_id, url) DO UPDATE
   SET source_table = EXCLUDED.source_table, title = EXCLUDED.title, summary = EXCLUDED.summary,
       content = EXCLUDED.content, source = EXCLUDED.source, published_at = EXCLUDED.published_at,
       news_section = EXCLUDED.news_section, days_from_earnings = EXCLUDED.days_from_earnings,
       fetched_at = now()
 WHERE (n.source_table, n.title, n.summary, n.content, n.source, n.published_at, n.news_section,
        n.days_from_earnings)
       IS DISTINCT FROM
       (EXCLUDED.source_table, EXCLUDED.title, EXCLUDED.summary, EXCLUDED.content, EXCLUDED.source,
        EXCLUDED.published_at, EXCLUDED.news_section, EXCLUDED.days_from_earnings)
RETURNING (xmax = 0) AS inserted
"""

_DROP_UNPICKED = """
DELETE FROM sp500_earnings_news n
 USING sp500_earnings_calendar cal
 WHERE n.calendar_id = cal.id AND cal.report_date BETWEEN %(first)s AND %(last)s
   AND NOT EXISTS (SELECT 1 FROM sp500_earnings_news_picked p
                    WHERE p.calendar_id = n.calendar_id AND p.url = n.url)
"""

_COUNTS = """
UPDATE sp500_earnings_calendar c
   SET total_news_count = x.total, forecast_news_count = x.forecast, reaction_news_count = x.reaction,
       updated_at = now()
  FROM (SELECT cal.id, count(n.id) AS total,
               count(n.id) FILTER (WHERE n.news_section = 'forecast') AS forecast,
               count(n.id) FILTER (WHERE n.news_section = 'reaction') AS reaction
          FROM sp500_earnings_calendar cal
          LEFT JOIN sp500_earnings_news n ON n.calendar_id = cal.id
         WHERE cal.report_date BETWEEN %(first)s AND %(last)s
         GROUP BY cal.id) x
 WHERE c.id = x.id
   AND (c.total_news_count, c.forecast_news_count, c.reaction_news_count)
       IS DISTINCT FROM (x.total, x.forecast, x.reaction)
"""


def _window(ctx: RunContext) -> dict[str, object]:
    day = ctx.logical_date
    return {"first": day - timedelta(days=DAYS_BEFORE), "last": day + timedelta(days=DAYS_AFTER)}


def derive(ctx: RunContext, item: str) -> list[Row]:
    """The window's events of current constituents, one row per (symbol, report_date)."""
    names = (
        "symbol", "company_name", "report_date", "fiscal_date_ending", "estimate", "currency",
        "gics_sector", "gics_sub_industry", "headquarters", "event_type", "event_title", "event_description",
    )  # fmt: skip
    return [dict(zip(names, row, strict=True)) for row in ctx.query(_EVENTS, _window(ctx))]


def attach_news(
    conn: psycopg.Connection, ctx: RunContext, item: str, rows: list[Row], merged: MergeResult
) -> MergeResult:
    """Forecast/reaction news for the window's events, in the events' transaction (set-based)."""
    window = _window(ctx)
    if rows:  # an empty source is "not collected yet", not "every event was cancelled"
        conn.execute(
            _DROP_UNLISTED,
            {**window, "symbols": [r["symbol"] for r in rows], "dates": [r["report_date"] for r in rows]},
        )
    conn.execute(_PICK, {**window, "tz": MARKET_TZ, "per_table": PER_TABLE})
    flags = [row[0] for row in conn.execute(_UPSERT_NEWS).fetchall()]
    conn.execute(_DROP_UNPICKED, window)
    conn.execute(_COUNTS, window)
    conn.execute("DROP TABLE sp500_earnings_news_picked")
    inserted = sum(1 for flag in flags if flag)
    return MergeResult(inserted=inserted, updated=len(flags) - inserted)


DATASET = DatasetSpec(
    name="sp500_earnings_calendar",
    table="sp500_earnings_calendar",
    group="derived",
    schedule="@daily",
    providers=(),
    description="S&P 500 earnings events [D−7, D+30] with forecast/reaction news (derived, no API call)",
    key=("symbol", "report_date"),
    fetch={DERIVED: derive},
    touch="updated_at",
    after_merge=attach_news,
    depends_on=(
        "earnings_calendar", "sp500_companies", "earnings_news_finnhub", "company_news", "market_news",
        "market_news_sentiment",
    ),
)  # fmt: skip
