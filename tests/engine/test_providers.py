"""Pure provider logic: reply classification and parsers, on the examples of docs/providers.md."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from marketpipe.http.errors import MalformedResponse
from marketpipe.http.types import ApiRequest, OutcomeKind, Reply
from marketpipe.providers import alpha_vantage, fmp, fred, get_provider, newsapi, sp500_list, x
from marketpipe.providers.alpha_vantage import calendars as alpha_vantage_calendars
from marketpipe.providers.alpha_vantage import economics as alpha_vantage_economics
from marketpipe.providers.alpha_vantage import fundamentals as alpha_vantage_fundamentals
from marketpipe.providers.alpha_vantage import markets as alpha_vantage_markets
from marketpipe.providers.catalogue import provider_names

AV_JSON = ApiRequest(provider="alpha_vantage", path="/query", expect="json")
AV_CSV = ApiRequest(provider="alpha_vantage", path="/query", expect="csv")


def reply(text: str, status: int = 200, **headers: str) -> Reply:
    return Reply(status=status, headers={k.replace("_", "-"): v for k, v in headers.items()}, text=text)


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (
            '{"Information": "Thank you for using Alpha Vantage! Our standard API rate limit is 25 requests per day."}',
            OutcomeKind.QUOTA,
        ),
        (
            '{"Information": "We have detected your API key as XXXX and our standard API rate limit is 25 requests per day."}',
            OutcomeKind.QUOTA,
        ),
        (
            '{"Information": "Please consider spreading out your free API requests more sparingly (1 request per second)."}',
            OutcomeKind.THROTTLED,
        ),
        (
            '{"Note": "Thank you for using Alpha Vantage! Our standard API call frequency is 5 calls per minute and 500 calls per day."}',
            OutcomeKind.THROTTLED,
        ),
        (
            '{"Information": "Thank you for using Alpha Vantage! This is a premium endpoint."}',
            OutcomeKind.REFUSED,
        ),
        (
            '{"Information": "The **demo** API key is for demo purposes only. Please claim your free API key"}',
            OutcomeKind.INVALID_KEY,
        ),
        (
            '{"Error Message": "the parameter apikey is invalid or missing. Please claim your free API key"}',
            OutcomeKind.INVALID_KEY,
        ),
        ('{"Information": "the parameter apikey is invalid or missing."}', OutcomeKind.INVALID_KEY),
        (
            '{"Error Message": "Invalid API call. Please retry or visit the documentation"}',
            OutcomeKind.NOT_FOUND,
        ),
        ("{}", OutcomeKind.NOT_FOUND),
        ('{"Symbol": "IBM", "Name": "International Business Machines"}', OutcomeKind.OK),
        ('{"Symbol": "IBM", ', OutcomeKind.MALFORMED),
        ("<html>Bad gateway</html>", OutcomeKind.MALFORMED),
    ],
)
def test_alpha_vantage_json_replies_are_classified(body, kind):
    assert alpha_vantage.classify(AV_JSON, reply(body)).kind is kind


def test_alpha_vantage_csv_quota_row_is_a_quota_refusal():
    body = "symbol,name,reportDate,fiscalDateEnding,estimate,currency,timeOfTheDay\r\nI,n,f,o,r,m,a\r\n"
    assert alpha_vantage.classify(AV_CSV, reply(body)).kind is OutcomeKind.QUOTA
    six = "symbol,name,reportDate,fiscalDateEnding,estimate,currency\nI,n,f,o,r,m\n"
    assert alpha_vantage.classify(AV_CSV, reply(six)).kind is OutcomeKind.QUOTA
    json_quota = '{"Information": "... our standard API rate limit is 25 requests per day ..."}'
    assert alpha_vantage.classify(AV_CSV, reply(json_quota)).kind is OutcomeKind.QUOTA
    header_only = "symbol,name,ipoDate,priceRangeLow,priceRangeHigh,currency,exchange\r\n"
    assert alpha_vantage.classify(AV_CSV, reply(header_only)).kind is OutcomeKind.OK


def test_http_statuses_are_classified_for_every_provider():
    for name in provider_names():
        provider = get_provider(name)
        request = ApiRequest(provider=name)
        assert provider.classify(request, reply("oops", 503)).kind is OutcomeKind.TRANSIENT, name
        assert provider.classify(request, reply("<html>x</html>", 502)).kind is OutcomeKind.TRANSIENT, name


def test_throttling_and_quota_replies_of_the_other_providers():
    fred_req, fmp_req = ApiRequest(provider="fred"), ApiRequest(provider="fmp")
    limited = '{"error_code": 429, "error_message": "Too Many Requests.  Exceeded Rate Limit"}'
    assert fred.classify(fred_req, reply(limited, 429, retry_after="2")).kind is OutcomeKind.THROTTLED
    bad_key = '{"error_code": 400, "error_message": "Bad Request.  The value for variable api_key is not registered."}'
    assert fred.classify(fred_req, reply(bad_key, 400)).kind is OutcomeKind.INVALID_KEY
    no_series = '{"error_code": 400, "error_message": "Bad Request.  The series does not exist."}'
    assert fred.classify(fred_req, reply(no_series, 400)).kind is OutcomeKind.NOT_FOUND
    fmp_limit = '{"Error Message": "Limit Reach . Please upgrade your plan"}'
    assert fmp.classify(fmp_req, reply(fmp_limit, 200)).kind is OutcomeKind.QUOTA
    assert fmp.classify(fmp_req, reply(fmp_limit, 429)).kind is OutcomeKind.QUOTA
    assert (
        fmp.classify(fmp_req, reply("Premium Query Parameter: 'Special Endpoint'", 402)).kind
        is OutcomeKind.REFUSED
    )
    assert (
        fmp.classify(fmp_req, reply('{"Error Message": "Invalid API KEY."}', 401)).kind
        is OutcomeKind.INVALID_KEY
    )
    news = '{"status":"error","code":"rateLimited","message":"You have made too many requests recently."}'
    assert newsapi.classify(ApiRequest(provider="newsapi"), reply(news, 429)).kind is OutcomeKind.QUOTA
    assert newsapi.classify(ApiRequest(provider="newsapi"), reply(news, 200)).kind is OutcomeKind.QUOTA
    window = reply('{"title":"Too Many Requests","status":429}', 429, x_rate_limit_reset="1763300000")
    outcome = x.classify(ApiRequest(provider="x"), window)
    assert outcome.kind is OutcomeKind.QUOTA and outcome.reset_at is not None
    assert int(outcome.reset_at.timestamp()) == 1763300000


def test_overview_maps_strings_and_none_to_typed_columns():
    row = alpha_vantage_fundamentals.parse_overview(
        {
            "Symbol": "IBM", "AssetType": "Common Stock", "Name": "International Business Machines",
            "MarketCapitalization": "161692500000", "PERatio": "19.96", "PEGRatio": "None",
            "DividendYield": "0.038", "52WeekHigh": "197.22", "Beta": "-", "EBITDA": "",
        }
    )  # fmt: skip
    assert row["symbol"] == "IBM" and row["market_capitalization"] == 161692500000
    assert row["pe_ratio"] == Decimal("19.96") and row["week_52_high"] == Decimal("197.22")
    assert row["peg_ratio"] is None and row["beta"] is None and row["ebitda"] is None
    with pytest.raises(MalformedResponse):
        alpha_vantage_fundamentals.parse_overview({"Symbol": "IBM"})


def test_balance_sheet_keeps_quarterly_reports_lower_cased():
    rows = alpha_vantage_fundamentals.parse_balance_sheet(
        {
            "symbol": "AAPL",
            "annualReports": [{"fiscalDateEnding": "2024-09-30", "totalAssets": "364980000000"}],
            "quarterlyReports": [
                {"fiscalDateEnding": "2024-12-31", "reportedCurrency": "USD", "totalAssets": "344085000000",
                 "retainedEarnings": "-19154000000", "goodwill": "None"},
                {"fiscalDateEnding": "None"},
            ],
        },
        "AAPL",
    )  # fmt: skip
    assert len(rows) == 1
    assert rows[0]["fiscaldateending"] == date(2024, 12, 31)
    assert rows[0]["totalassets"] == Decimal("344085000000")
    assert rows[0]["retainedearnings"] == Decimal("-19154000000") and rows[0]["goodwill"] is None


def test_calendar_csvs_parse_by_header_name_with_quotes_and_crlf():
    earnings = (
        "symbol,name,reportDate,fiscalDateEnding,estimate,currency,timeOfTheDay\r\n"
        "NVDA,NVIDIA Corp,2026-05-27,2026-04-30,0.88,USD,post-market\r\n"
        '"BRK.B","Berkshire Hathaway, Inc",2026-08-01,2026-06-30,,USD,\r\n'
    )
    rows = alpha_vantage_calendars.parse_earnings_calendar_csv(earnings)
    assert [r["company_name"] for r in rows] == ["NVIDIA Corp", "Berkshire Hathaway, Inc"]
    assert rows[0]["estimate"] == Decimal("0.88") and rows[1]["estimate"] is None
    ipo = "symbol,name,ipoDate,priceRangeLow,priceRangeHigh,currency,exchange\nACME,Acme Corp,2026-03-15,18.00,20.00,USD,NASDAQ\n"
    (acme,) = alpha_vantage_calendars.parse_ipo_calendar_csv(ipo)
    assert acme["ipo_date"] == date(2026, 3, 15) and acme["price_range_high"] == Decimal("20.00")
    with pytest.raises(MalformedResponse):
        alpha_vantage_calendars.parse_ipo_calendar_csv("a,b\n1,2\n")


def test_top_gainers_change_percentage_is_numeric_and_time_is_eastern():
    rows = alpha_vantage_markets.parse_top_gainers(
        {
            "last_updated": "2025-11-06 16:16:00 US/Eastern",
            "top_gainers": [{"ticker": "JGH^", "price": "0.0108", "change_amount": "0.0062",
                             "change_percentage": "134.7826%", "volume": "393947"}],
            "top_losers": [{"ticker": "TLGYW", "price": "0.0433", "change_amount": "-0.0418",
                            "change_percentage": "-49.1187%", "volume": "4"}],
            "most_actively_traded": [],
        }
    )  # fmt: skip
    assert [(r["category"], r["rank_position"]) for r in rows] == [("top_gainers", 1), ("top_losers", 1)]
    assert rows[0]["change_percentage_value"] == Decimal("134.7826")
    assert rows[1]["change_percentage_value"] == Decimal("-49.1187")
    assert rows[0]["last_updated"].utcoffset().total_seconds() == -5 * 3600


def test_economic_series_missing_marker_becomes_null():
    envelope, points = alpha_vantage_economics.parse_economic_series(
        {"name": "CPI", "interval": "monthly", "unit": "index", "data": [
            {"date": "2023-11-01", "value": "307.051"}, {"date": "2023-10-01", "value": "."}]}
    )  # fmt: skip
    assert envelope["unit"] == "index"
    assert points == [(date(2023, 11, 1), Decimal("307.051")), (date(2023, 10, 1), None)]
    assert fred.parse_observations({"observations": [{"date": "2026-02-01", "value": "."}]}) == [
        (date(2026, 2, 1), None)
    ]


def test_fmp_earnings_calendar_and_constituents():
    (row,) = fmp.parse_earnings_calendar(
        [
            {
                "symbol": "AAPL",
                "date": "2025-10-29",
                "epsActual": None,
                "epsEstimated": 1.54,
                "lastUpdated": "2025-02-04",
            }
        ]
    )
    assert row["report_date"] == date(2025, 10, 29) and row["estimate"] == Decimal("1.54")
    (company,) = fmp.parse_sp500_constituents(
        [{"symbol": "APO", "name": "Apollo Global Management", "sector": "Financial Services", "subSector": "",
          "headQuarter": "New York City, New York", "dateFirstAdded": None, "cik": "0001858681", "founded": "1990"}]
    )  # fmt: skip
    assert company["cik"] == "0001858681" and company["date_added"] is None
    with pytest.raises(MalformedResponse):
        fmp.parse_earnings_calendar({"Error Message": "Limit Reach ."})


def test_constituents_page_parses_by_header_name():
    html = """<html><body><table class="wikitable sortable" id="constituents"><tbody>
      <tr><th>Symbol</th><th>Security</th><th>GICS Sector</th><th>GICS Sub-Industry</th>
          <th>Headquarters Location</th><th>Date added</th><th>CIK</th><th>Founded</th></tr>
      <tr><td><a href="#">MMM</a></td><td><a href="#">3M</a></td><td>Industrials</td>
          <td>Industrial Conglomerates</td><td>Saint Paul, Minnesota</td><td>1957-03-04</td><td>66740</td>
          <td>1902</td></tr>
      <tr><td>BRK.B</td><td>Berkshire Hathaway</td><td>Financials</td><td>Multi-Sector Holdings</td>
          <td>Omaha, Nebraska</td><td></td><td>0001067983</td><td>1839</td></tr>
    </tbody></table><table class="wikitable"><tr><th>Date</th></tr><tr><td>x</td></tr></table></body></html>"""
    rows = sp500_list.parse_constituents_html(html)
    assert [r["symbol"] for r in rows] == ["MMM", "BRK.B"]
    assert rows[0]["cik"] == "0000066740" and rows[0]["headquarters"] == "Saint Paul, Minnesota"
    assert rows[0]["date_added"] == date(1957, 3, 4) and rows[1]["date_added"] is None
    with pytest.raises(MalformedResponse):
        sp500_list.parse_constituents_html("<html><table><tr><th>Date</th></tr></table></html>")
