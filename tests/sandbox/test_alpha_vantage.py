"""Alpha Vantage simulator against a real sandbox server (docs/providers.md §1)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

KEY = "av-test-key"
OTHER_KEY = "av-other-key"

OVERVIEW_KEYS = [
    "Symbol",
    "AssetType",
    "Name",
    "Description",
    "CIK",
    "Exchange",
    "Currency",
    "Country",
    "Sector",
    "Industry",
    "Address",
    "OfficialSite",
    "FiscalYearEnd",
    "LatestQuarter",
    "MarketCapitalization",
    "EBITDA",
    "PERatio",
    "PEGRatio",
    "BookValue",
    "DividendPerShare",
    "DividendYield",
    "EPS",
    "RevenuePerShareTTM",
    "ProfitMargin",
    "OperatingMarginTTM",
    "ReturnOnAssetsTTM",
    "ReturnOnEquityTTM",
    "RevenueTTM",
    "GrossProfitTTM",
    "DilutedEPSTTM",
    "QuarterlyEarningsGrowthYOY",
    "QuarterlyRevenueGrowthYOY",
    "AnalystTargetPrice",
    "AnalystRatingStrongBuy",
    "AnalystRatingBuy",
    "AnalystRatingHold",
    "AnalystRatingSell",
    "AnalystRatingStrongSell",
    "TrailingPE",
    "ForwardPE",
    "PriceToSalesRatioTTM",
    "PriceToBookRatio",
    "EVToRevenue",
    "EVToEBITDA",
    "Beta",
    "52WeekHigh",
    "52WeekLow",
    "50DayMovingAverage",
    "200DayMovingAverage",
    "SharesOutstanding",
    "SharesFloat",
    "PercentInsiders",
    "PercentInstitutions",
    "DividendDate",
    "ExDividendDate",
]
INCOME_KEYS = [
    "fiscalDateEnding",
    "reportedCurrency",
    "grossProfit",
    "totalRevenue",
    "costOfRevenue",
    "costofGoodsAndServicesSold",
    "operatingIncome",
    "sellingGeneralAndAdministrative",
    "researchAndDevelopment",
    "operatingExpenses",
    "investmentIncomeNet",
    "netInterestIncome",
    "interestIncome",
    "interestExpense",
    "nonInterestIncome",
    "otherNonOperatingIncome",
    "depreciation",
    "depreciationAndAmortization",
    "incomeBeforeTax",
    "incomeTaxExpense",
    "interestAndDebtExpense",
    "netIncomeFromContinuingOperations",
    "comprehensiveIncomeNetOfTax",
    "ebit",
    "ebitda",
    "netIncome",
]
BALANCE_KEYS = [
    "fiscalDateEnding",
    "reportedCurrency",
    "totalAssets",
    "totalCurrentAssets",
    "cashAndCashEquivalentsAtCarryingValue",
    "cashAndShortTermInvestments",
    "inventory",
    "currentNetReceivables",
    "totalNonCurrentAssets",
    "propertyPlantEquipment",
    "accumulatedDepreciationAmortizationPPE",
    "intangibleAssets",
    "intangibleAssetsExcludingGoodwill",
    "goodwill",
    "investments",
    "longTermInvestments",
    "shortTermInvestments",
    "otherCurrentAssets",
    "otherNonCurrentAssets",
    "totalLiabilities",
    "totalCurrentLiabilities",
    "currentAccountsPayable",
    "deferredRevenue",
    "currentDebt",
    "shortTermDebt",
    "totalNonCurrentLiabilities",
    "capitalLeaseObligations",
    "longTermDebt",
    "currentLongTermDebt",
    "longTermDebtNoncurrent",
    "shortLongTermDebtTotal",
    "otherCurrentLiabilities",
    "otherNonCurrentLiabilities",
    "totalShareholderEquity",
    "treasuryStock",
    "retainedEarnings",
    "commonStock",
    "commonStockSharesOutstanding",
]
CASH_FLOW_KEYS = [
    "fiscalDateEnding",
    "reportedCurrency",
    "operatingCashflow",
    "paymentsForOperatingActivities",
    "proceedsFromOperatingActivities",
    "changeInOperatingLiabilities",
    "changeInOperatingAssets",
    "depreciationDepletionAndAmortization",
    "capitalExpenditures",
    "changeInReceivables",
    "changeInInventory",
    "profitLoss",
    "cashflowFromInvestment",
    "cashflowFromFinancing",
    "proceedsFromRepaymentsOfShortTermDebt",
    "paymentsForRepurchaseOfCommonStock",
    "paymentsForRepurchaseOfEquity",
    "paymentsForRepurchaseOfPreferredStock",
    "dividendPayout",
    "dividendPayoutCommonStock",
    "dividendPayoutPreferredStock",
    "proceedsFromIssuanceOfCommonStock",
    "proceedsFromIssuanceOfLongTermDebtAndCapitalSecuritiesNet",
    "proceedsFromIssuanceOfPreferredStock",
    "proceedsFromRepurchaseOfEquity",
    "proceedsFromSaleOfTreasuryStock",
    "changeInCashAndCashEquivalents",
    "changeInExchangeRate",
    "netIncome",
]
FEED_KEYS = [
    "title", "url", "time_published", "authors", "summary", "banner_image", "source", "category_within_source",
    "source_domain", "topics", "overall_sentiment_score", "overall_sentiment_label", "ticker_sentiment",
]  # fmt: skip
LABELS = {"Bearish", "Somewhat-Bearish", "Neutral", "Somewhat-Bullish", "Bullish"}
NUMBER_OR_NONE = re.compile(r"^(None|-?\d+(\.\d+)?)$")

KEY_ERROR = (
    "the parameter apikey is invalid or missing. Please claim your free API key on "
    "(https://www.alphavantage.co/support/#api-key). It should take less than 20 seconds."
)
DAILY_LIMIT = (
    "Thank you for using Alpha Vantage! Our standard API rate limit is 25 requests per day. Please subscribe "
    "to any of the premium plans at https://www.alphavantage.co/premium/ to instantly remove all daily rate limits."
)


@pytest.fixture
def av(sandbox) -> Iterator[Any]:
    """A client for ``/query``; quotas off unless a test turns them back on."""
    sandbox.admin.set_quotas(False)
    with httpx.Client(base_url=sandbox.base_url("alpha_vantage"), timeout=20) as client:

        def query(key: str | None = KEY, **params: str) -> httpx.Response:
            if key is not None:
                params["apikey"] = key
            reply = client.get("/query", params=params)
            assert reply.status_code == 200  # Alpha Vantage never uses another status
            return reply

        yield query


def _csv_rows(reply: httpx.Response) -> list[list[str]]:
    assert reply.headers["content-type"].startswith("application/x-download")
    assert "\r\n" in reply.text
    return list(csv.reader(io.StringIO(reply.text)))


# -- shapes ---------------------------------------------------------------------------------------
def test_overview_has_every_field_in_order_as_strings(av) -> None:
    body = av(function="OVERVIEW", symbol="AAPL").json()
    assert list(body) == OVERVIEW_KEYS
    assert all(isinstance(v, str) for v in body.values())
    assert (body["Symbol"], body["Name"], body["CIK"], body["Sector"]) == (
        "AAPL",
        "Apple Inc.",
        "320193",
        "TECHNOLOGY",
    )
    assert body["Industry"] == body["Industry"].upper()
    for field in ("MarketCapitalization", "PERatio", "EPS", "Beta", "52WeekHigh", "SharesOutstanding"):
        assert NUMBER_OR_NONE.match(body[field]), field
    assert float(body["52WeekLow"]) <= float(body["52WeekHigh"])


def test_unknown_symbols_get_an_empty_object(av) -> None:
    for function in ("OVERVIEW", "INCOME_STATEMENT", "BALANCE_SHEET", "CASH_FLOW", "EARNINGS"):
        assert av(function=function, symbol="SPY").json() == {}


@pytest.mark.parametrize(
    ("function", "keys"),
    [("INCOME_STATEMENT", INCOME_KEYS), ("BALANCE_SHEET", BALANCE_KEYS), ("CASH_FLOW", CASH_FLOW_KEYS)],
)
def test_statements_carry_the_full_key_list_newest_first(av, function: str, keys: list[str]) -> None:
    body = av(function=function, symbol="MSFT").json()
    assert list(body) == ["symbol", "annualReports", "quarterlyReports"] and body["symbol"] == "MSFT"
    assert len(body["annualReports"]) >= 3 and len(body["quarterlyReports"]) >= 12
    for report in body["annualReports"] + body["quarterlyReports"]:
        assert list(report) == keys
        assert all(isinstance(v, str) for v in report.values())
        assert all(
            NUMBER_OR_NONE.match(v)
            for k, v in report.items()
            if k not in ("fiscalDateEnding", "reportedCurrency")
        )
    quarters = [r["fiscalDateEnding"] for r in body["quarterlyReports"]]
    assert quarters == sorted(quarters, reverse=True)
    assert any(v == "None" for r in body["quarterlyReports"] for v in r.values())


def test_balance_sheet_balances_and_income_agrees_with_reported_eps(av) -> None:
    sheet = av(function="BALANCE_SHEET", symbol="JPM").json()["quarterlyReports"][0]
    assets, liabilities, equity = (
        int(sheet[k]) for k in ("totalAssets", "totalLiabilities", "totalShareholderEquity")
    )
    assert abs(assets - liabilities - equity) <= 2
    income = av(function="INCOME_STATEMENT", symbol="JPM").json()["quarterlyReports"][0]
    earnings = av(function="EARNINGS", symbol="JPM").json()["quarterlyEarnings"][0]
    assert income["fiscalDateEnding"] == earnings["fiscalDateEnding"]
    eps = int(income["netIncome"]) / int(sheet["commonStockSharesOutstanding"])
    assert eps == pytest.approx(float(earnings["reportedEPS"]), abs=0.006)


def test_earnings_annual_and_quarterly_rows(av, sandbox) -> None:
    body = av(function="EARNINGS", symbol="AAPL").json()
    assert list(body) == ["symbol", "annualEarnings", "quarterlyEarnings"]
    assert all(list(row) == ["fiscalDateEnding", "reportedEPS"] for row in body["annualEarnings"])
    today = sandbox.admin.now().date().isoformat()
    base = [
        "fiscalDateEnding",
        "reportedDate",
        "reportedEPS",
        "estimatedEPS",
        "surprise",
        "surprisePercentage",
    ]
    for row in body["quarterlyEarnings"]:
        assert list(row) in (base, [*base, "reportTime"])
        assert row.get("reportTime", "pre-market") in ("pre-market", "post-market")
        assert row["reportedDate"] <= today and row["fiscalDateEnding"] < row["reportedDate"]
        assert all(isinstance(v, str) for v in row.values())


def test_earnings_calendar_is_crlf_csv_with_upcoming_reports_within_the_horizon(av, sandbox) -> None:
    today = sandbox.admin.now().date()
    rows = _csv_rows(av(function="EARNINGS_CALENDAR"))
    assert rows[0] == [
        "symbol",
        "name",
        "reportDate",
        "fiscalDateEnding",
        "estimate",
        "currency",
        "timeOfTheDay",
    ]
    assert len(rows) > 100 and all(len(r) == 7 for r in rows)
    dates = [date.fromisoformat(r[2]) for r in rows[1:]]
    assert today <= min(dates) and max(dates) <= today + timedelta(days=90)
    assert any(r[4] == "" for r in rows[1:])  # estimate may be empty
    constituents = set(sandbox.admin.constituents())
    assert {r[0] for r in rows[1:]} <= constituents
    one = _csv_rows(av(function="EARNINGS_CALENDAR", symbol="AAPL", horizon="12month"))
    assert len(one) in (4, 5, 6) and {r[0] for r in one[1:]} == {"AAPL"}


def test_ipo_calendar_lists_the_next_three_months_with_spac_zero_ranges(av, sandbox) -> None:
    today = sandbox.admin.now().date()
    rows = _csv_rows(av(function="IPO_CALENDAR"))
    assert rows[0] == ["symbol", "name", "ipoDate", "priceRangeLow", "priceRangeHigh", "currency", "exchange"]
    assert all(today <= date.fromisoformat(r[2]) <= today + timedelta(days=90) for r in rows[1:])
    assert any(r[3:5] == ["0", "0"] for r in rows[1:])
    assert all(float(r[3]) <= float(r[4]) for r in rows[1:])


def test_top_gainers_losers_shape_and_order(av) -> None:
    body = av(function="TOP_GAINERS_LOSERS").json()
    assert body["metadata"] == "Top gainers, losers, and most actively traded US tickers"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d US/Eastern", body["last_updated"])
    for name in ("top_gainers", "top_losers", "most_actively_traded"):
        assert len(body[name]) == 20
        for row in body[name]:
            assert list(row) == ["ticker", "price", "change_amount", "change_percentage", "volume"]
            assert all(isinstance(v, str) for v in row.values()) and row["change_percentage"].endswith("%")
    gains = [float(r["change_percentage"][:-1]) for r in body["top_gainers"]]
    losses = [float(r["change_percentage"][:-1]) for r in body["top_losers"]]
    assert gains == sorted(gains, reverse=True) and min(gains) > 0
    assert losses == sorted(losses) and max(losses) < 0
    volumes = [int(r["volume"]) for r in body["most_actively_traded"]]
    assert volumes == sorted(volumes, reverse=True)
    assert any(not r["ticker"].isalpha() for r in body["top_gainers"] + body["top_losers"])  # warrants, units


def test_a_new_simulated_day_brings_new_movers_news_and_calendar(av, sandbox) -> None:
    before = (av(function="TOP_GAINERS_LOSERS").json(), av(function="NEWS_SENTIMENT", limit="5").json())
    sandbox.admin.advance(days=1)
    after = (av(function="TOP_GAINERS_LOSERS").json(), av(function="NEWS_SENTIMENT", limit="5").json())
    assert after[0]["last_updated"][:10] > before[0]["last_updated"][:10]
    assert after[0]["top_gainers"] != before[0]["top_gainers"]
    assert after[1]["feed"][0]["time_published"] > before[1]["feed"][0]["time_published"]


# -- news -----------------------------------------------------------------------------------------
def test_news_sentiment_shape_and_type_quirks(av) -> None:
    body = av(function="NEWS_SENTIMENT", tickers="AAPL").json()
    assert list(body) == ["items", "sentiment_score_definition", "relevance_score_definition", "feed"]
    assert body["items"] == str(len(body["feed"])) == "50"  # default limit
    assert "Somewhat_Bullish" in body["sentiment_score_definition"]
    for item in body["feed"]:
        assert list(item) == FEED_KEYS
        assert re.fullmatch(r"\d{8}T\d{6}", item["time_published"])
        assert isinstance(item["overall_sentiment_score"], float)
        assert item["overall_sentiment_label"] in LABELS
        assert all(isinstance(t["relevance_score"], str) for t in item["topics"])
        for ts in item["ticker_sentiment"]:
            assert list(ts) == [
                "ticker",
                "relevance_score",
                "ticker_sentiment_score",
                "ticker_sentiment_label",
            ]
            assert isinstance(ts["ticker_sentiment_score"], str) and ts["ticker_sentiment_label"] in LABELS
        assert isinstance(item["authors"], list)
    published = [i["time_published"] for i in body["feed"]]
    assert published == sorted(published, reverse=True)  # LATEST


def test_news_tickers_and_topics_use_and_semantics(av) -> None:
    both = av(function="NEWS_SENTIMENT", tickers="AAPL,CRYPTO:BTC", limit="200").json()
    either = av(function="NEWS_SENTIMENT", tickers="AAPL", limit="200").json()
    assert 0 < len(both["feed"]) < len(either["feed"])
    assert all({"AAPL", "CRYPTO:BTC"} <= {t["ticker"] for t in i["ticker_sentiment"]} for i in both["feed"])
    topics = av(function="NEWS_SENTIMENT", topics="technology,earnings", limit="100").json()
    assert all({"Technology", "Earnings"} <= {t["topic"] for t in i["topics"]} for i in topics["feed"])


def test_news_time_window_sort_and_limit_are_honoured(av) -> None:
    window = {"time_from": "20261101T0000", "time_to": "20261103T1200"}
    earliest = av(function="NEWS_SENTIMENT", sort="EARLIEST", limit="1000", **window).json()["feed"]
    stamps = [i["time_published"] for i in earliest]
    assert stamps == sorted(stamps)
    assert stamps[0] >= "20261101T000000" and stamps[-1] <= "20261103T120000"
    assert len(stamps) == 240  # 96 articles a day, one per 15-minute slot
    latest = av(function="NEWS_SENTIMENT", sort="LATEST", limit="7", **window).json()["feed"]
    assert [i["time_published"] for i in latest] == sorted(stamps, reverse=True)[:7]
    relevance = av(function="NEWS_SENTIMENT", tickers="MSFT", sort="RELEVANCE", limit="20").json()["feed"]

    def msft_relevance(item: dict[str, Any]) -> float:
        return next(float(t["relevance_score"]) for t in item["ticker_sentiment"] if t["ticker"] == "MSFT")

    scores = [msft_relevance(i) for i in relevance]
    assert scores == sorted(scores, reverse=True)


def test_news_invalid_inputs_and_nothing_found(av) -> None:
    assert (
        av(function="NEWS_SENTIMENT", topics="gardening").json()["Information"].startswith("Invalid inputs.")
    )
    assert (
        av(function="NEWS_SENTIMENT", tickers="NOTATICKER")
        .json()["Information"]
        .startswith("Invalid inputs.")
    )
    none = av(function="NEWS_SENTIMENT", tickers="CRYPTO:DOGE").json()
    assert none["Information"].startswith("No articles found.")


# -- economic indicators --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("params", "name", "unit", "interval"),
    [
        ({"function": "CPI"}, "Consumer Price Index for all Urban Consumers", "index 1982-1984=100", "monthly"),
        ({"function": "CPI", "interval": "semiannual"}, "Consumer Price Index for all Urban Consumers", "index 1982-1984=100", "semiannual"),
        ({"function": "INFLATION"}, "Inflation - US Consumer Prices", "percent", "annual"),
        ({"function": "FEDERAL_FUNDS_RATE"}, "Effective Federal Funds Rate", "percent", "monthly"),
        ({"function": "FEDERAL_FUNDS_RATE", "interval": "daily"}, "Effective Federal Funds Rate", "percent", "daily"),
        ({"function": "TREASURY_YIELD"}, "10-Year Treasury Constant Maturity Rate", "percent", "monthly"),
        ({"function": "TREASURY_YIELD", "interval": "weekly", "maturity": "2year"}, "2-Year Treasury Constant Maturity Rate", "percent", "weekly"),
    ],
)  # fmt: skip
def test_economic_series_envelope_newest_first_with_string_values(av, params, name, unit, interval) -> None:
    body = av(**params).json()
    assert (body["name"], body["interval"], body["unit"]) == (name, interval, unit)
    dates = [row["date"] for row in body["data"]]
    assert dates == sorted(dates, reverse=True) and len(dates) > 10
    assert all(isinstance(row["value"], str) for row in body["data"])
    if interval in ("monthly", "annual", "semiannual"):
        assert all(d.endswith("-01") for d in dates)
    if interval == "annual":
        assert all(d.endswith("-01-01") for d in dates)


def test_daily_treasury_yield_has_missing_markers_and_csv_form(av) -> None:
    daily = av(function="TREASURY_YIELD", interval="daily", maturity="10year").json()["data"]
    assert any(row["value"] == "." for row in daily[:400])
    rows = _csv_rows(av(function="TREASURY_YIELD", interval="daily", datatype="csv"))
    assert rows[0] == ["timestamp", "value"]
    assert rows[1] == [daily[0]["date"], daily[0]["value"]]


def test_cpi_is_the_fred_series_republished(av, sandbox) -> None:
    cpi = av(function="CPI").json()["data"][:3]
    fred = httpx.get(
        sandbox.base_url("fred") + "/series/observations",
        params={
            "series_id": "CPIAUCSL",
            "api_key": "a" * 32,
            "file_type": "json",
            "sort_order": "desc",
            "limit": 3,
        },
        timeout=10,
    ).json()["observations"]
    assert [(r["date"], r["value"]) for r in cpi] == [(o["date"], o["value"]) for o in fred]


def test_earnings_agree_with_finnhub(av, sandbox) -> None:
    quarterly = av(function="EARNINGS", symbol="MSFT").json()["quarterlyEarnings"][:4]
    finnhub = httpx.get(
        sandbox.base_url("finnhub") + "/stock/earnings",
        params={"symbol": "MSFT", "token": "fh-key"},
        timeout=10,
    ).json()
    assert [(r["fiscalDateEnding"], float(r["reportedEPS"])) for r in quarterly] == [
        (row["period"], row["actual"]) for row in finnhub
    ]


# -- errors (all HTTP 200) ------------------------------------------------------------------------
def test_missing_and_invalid_keys_get_the_error_message(av, sandbox) -> None:
    assert av(key=None, function="OVERVIEW", symbol="IBM").json() == {"Error Message": KEY_ERROR}
    assert av(key="invalid-key", function="OVERVIEW", symbol="IBM").json() == {"Error Message": KEY_ERROR}
    sandbox.admin.set_keys("alpha_vantage", revoked=[KEY])
    assert av(function="OVERVIEW", symbol="IBM").json() == {"Error Message": KEY_ERROR}
    assert sandbox.admin.counters("alpha_vantage")["totals"]["auth_failed"] == 3


def test_demo_key_only_answers_the_documentation_examples(av) -> None:
    assert av(key="demo", function="OVERVIEW", symbol="IBM").json()["Symbol"] == "IBM"
    refused = av(key="demo", function="OVERVIEW", symbol="AAPL").json()
    assert refused["Information"].startswith("The **demo** API key is for demo purposes only.")


def test_invalid_function_parameters_and_premium(av) -> None:
    assert av(function="FOO").json() == {"Error Message": "This API function (FOO) does not exist."}
    invalid = av(function="OVERVIEW").json()["Error Message"]
    assert invalid.startswith("Invalid API call.") and invalid.endswith("for OVERVIEW.")
    assert "Error Message" in av(function="TREASURY_YIELD", maturity="15year").json()
    assert "Error Message" in av(function="EARNINGS_CALENDAR", horizon="2month").json()
    assert "premium endpoint" in av(function="REALTIME_BULK_QUOTES").json()["Information"]


# -- quotas ---------------------------------------------------------------------------------------
def test_daily_cap_of_25_then_information_until_the_utc_day_rolls_over(av, sandbox) -> None:
    sandbox.admin.set_quotas(True)
    sandbox.admin.set_clock(datetime(2026, 11, 16, 23, 50, tzinfo=UTC), rate=0)
    for _ in range(25):
        assert "Symbol" in av(function="OVERVIEW", symbol="IBM").json()
        sandbox.admin.advance(seconds=1)  # stay clear of the burst window
    assert av(function="OVERVIEW", symbol="IBM").json() == {"Information": DAILY_LIMIT}
    assert av(function="CPI").json() == {"Information": DAILY_LIMIT}
    calendar = av(function="EARNINGS_CALENDAR")
    assert (
        calendar.text
        == "symbol,name,reportDate,fiscalDateEnding,estimate,currency,timeOfTheDay\r\nI,n,f,o,r,m,a\r\n"
    )
    assert av(function="IPO_CALENDAR").text.endswith("\r\nI,n,f,o,r,m,a\r\n")
    assert "Symbol" in av(key=OTHER_KEY, function="OVERVIEW", symbol="IBM").json()  # per key
    totals = sandbox.admin.counters("alpha_vantage", key=KEY)["totals"]
    assert (totals["calls"], totals["served"], totals["refused_quota"]) == (29, 25, 4)
    sandbox.admin.set_clock(datetime(2026, 11, 17, 0, 0, 1, tzinfo=UTC))
    assert "Symbol" in av(function="OVERVIEW", symbol="IBM").json()


def test_burst_of_more_than_five_calls_in_a_second_is_throttled(av, sandbox) -> None:
    sandbox.admin.set_quotas(True)
    sandbox.admin.freeze()
    replies = [av(function="OVERVIEW", symbol="IBM").json() for _ in range(6)]
    assert all("Symbol" in r for r in replies[:5])
    assert "spreading out your free API requests" in replies[5]["Information"]
    sandbox.admin.advance(seconds=1)
    assert "Symbol" in av(function="OVERVIEW", symbol="IBM").json()


def test_etf_profile_weights_holdings_of_the_simulated_index(av, sandbox) -> None:
    body = av(function="ETF_PROFILE", symbol="XLK").json()
    assert list(body) == [
        "net_assets", "net_expense_ratio", "portfolio_turnover", "dividend_yield", "inception_date", "leveraged",
        "sectors", "holdings",
    ]  # fmt: skip
    assert body["sectors"] == [{"sector": "INFORMATION TECHNOLOGY", "weight": "1.000"}]
    weights = [float(h["weight"]) for h in body["holdings"]]
    assert weights == sorted(weights, reverse=True) and sum(weights) == pytest.approx(1.0, abs=0.01)
    assert {h["symbol"] for h in body["holdings"]} <= set(sandbox.admin.constituents())
    assert all(isinstance(v, str) for k, v in body.items() if k not in ("sectors", "holdings"))
    spy = av(function="ETF_PROFILE", symbol="SPY").json()
    assert len(spy["holdings"]) == 503 and len(spy["sectors"]) == 11
    assert av(function="ETF_PROFILE", symbol="AAPL").json() == {}
    assert av(function="OVERVIEW", symbol="QQQ").json() == {}  # ETFs have no overview


def test_settings_in_sandbox_mode_reach_this_sandbox(sandbox_settings) -> None:
    reply = httpx.get(
        sandbox_settings.base_url("alpha_vantage") + "/query",
        params={"function": "OVERVIEW", "symbol": "IBM", "apikey": KEY},
        timeout=10,
    )
    assert reply.json()["Symbol"] == "IBM"


def test_throttle_wordings_reachable_through_rate_limit_faults(av, sandbox) -> None:
    sandbox.admin.add_fault("alpha_vantage", "rate_limit", count=1, window="day_detected")
    text = av(function="OVERVIEW", symbol="IBM").json()["Information"]
    assert text.startswith(f"We have detected your API key as {KEY} and our standard API rate limit is 25")
    sandbox.admin.add_fault("alpha_vantage", "rate_limit", count=1, window="day")
    assert av(function="OVERVIEW", symbol="IBM").json() == {"Information": DAILY_LIMIT}
    sandbox.admin.add_fault("alpha_vantage", "rate_limit", "IPO_CALENDAR", count=1)
    assert av(function="IPO_CALENDAR").text.endswith("\r\nI,n,f,o,r,m,a\r\n")
