"""Daily-bar parsers on hostile bodies: wrong types, NUL, surrogates, huge and far-future values."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marketpipe.http.errors import MalformedResponse
from marketpipe.providers import daily_bars

NOW = datetime(2026, 11, 16, 15, 0, tzinfo=UTC)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
bar_like = st.dictionaries(
    st.sampled_from(["date", "open", "high", "low", "close", "volume", "symbol"]), json_values, max_size=7
)


def _check_stock_rows(rows: list[dict]) -> None:
    assert [r["date"] for r in rows] == sorted({r["date"] for r in rows})
    for row in rows:
        assert isinstance(row["date"], date) and row["close"] > 0
        assert abs(row["close"]) < daily_bars.MAX_STOCK_VALUE
        assert row["volume"] is None or 0 <= row["volume"] < 2**63


@settings(max_examples=80, deadline=None)
@given(st.lists(bar_like, max_size=8) | json_values)
def test_fmp_parser_keeps_only_valid_bars_or_raises_typed(body) -> None:
    try:
        rows = daily_bars.parse_fmp_eod(body, "AAPL")
    except MalformedResponse:
        assert not isinstance(body, list)
        return
    _check_stock_rows(rows)


@settings(max_examples=80, deadline=None)
@given(
    st.dictionaries(
        st.text(max_size=12), st.dictionaries(st.text(max_size=10), json_values, max_size=6), max_size=6
    )
)
def test_av_parser_on_arbitrary_series(series) -> None:
    rows = daily_bars.parse_av_daily({"Time Series (Daily)": series}, "AAPL")
    _check_stock_rows(rows)


@settings(max_examples=60, deadline=None)
@given(json_values)
def test_every_parser_raises_only_malformed_on_junk(body) -> None:
    for parse in (
        lambda: daily_bars.parse_fmp_eod(body, "X"),
        lambda: daily_bars.parse_av_daily(body, "X"),
        lambda: daily_bars.parse_bithumb_days(body, "KRW-BTC"),
        lambda: daily_bars.parse_coingecko_chart(body, "BTC", NOW),
    ):
        try:
            rows = parse()
        except MalformedResponse:
            continue
        assert isinstance(rows, list)


def test_specific_hostile_values() -> None:
    body = [
        {"date": "2026-11-13", "open": "1e400", "high": 5, "low": 4, "close": "4.5\x00", "volume": -3},
        {"date": "9999-12-31", "close": 10},  # far future: a valid date, kept (the dataset windows it)
        {"date": "2026-11-12", "close": "1e20"},  # beyond NUMERIC(20,6): dropped, not a merge failure
        {"date": "2026-11-11\ud800", "close": 3},  # lone surrogate in the date: dropped
        {"date": "2026-11-10", "close": True},  # a bool is not a price
        {"date": "2026-11-09", "close": 0},  # not positive
        "not an object",
    ]
    rows = daily_bars.parse_fmp_eod(body, "AAPL", end=date(2026, 11, 16))
    assert [(r["date"], r["close"], r["open"], r["volume"]) for r in rows] == [
        (date(2026, 11, 13), Decimal("4.5"), None, None)
    ]
    with pytest.raises(MalformedResponse):
        daily_bars.parse_av_daily({"Information": "premium"}, "AAPL")
    with pytest.raises(MalformedResponse):
        daily_bars.split_market("BTC")


def test_bithumb_candles_use_the_kst_day_and_skip_other_markets() -> None:
    body = [
        {"market": "KRW-BTC", "candle_date_time_kst": "2026-11-16T00:00:00", "opening_price": 1, "high_price": 3,
         "low_price": 1, "trade_price": 2, "candle_acc_trade_volume": 0.5},
        {"market": "KRW-ETH", "candle_date_time_kst": "2026-11-15T00:00:00", "trade_price": 2},
        {"market": "KRW-BTC", "candle_date_time_kst": None, "trade_price": 2},
    ]  # fmt: skip
    rows = daily_bars.parse_bithumb_days(body, "KRW-BTC")
    assert [(r["symbol"], r["quote"], r["date"], r["close"]) for r in rows] == [
        ("BTC", "KRW", date(2026, 11, 16), Decimal("2"))
    ]


def test_coingecko_drops_the_current_point_and_non_midnight_points() -> None:
    midnight = int(datetime(2026, 11, 16, tzinfo=UTC).timestamp() * 1000)
    body = {
        "prices": [
            [midnight - 86_400_000, 10],
            [midnight, 11],
            [midnight + 3_600_000, 12],
            ["x", 1],
            [midnight, None],
        ],
        "total_volumes": [[midnight, 99]],
    }
    rows = daily_bars.parse_coingecko_chart(body, "BTC", NOW)
    assert [(r["date"], r["close"], r["volume"]) for r in rows] == [
        (date(2026, 11, 14), Decimal("10"), None),
        (date(2026, 11, 15), Decimal("11"), Decimal("99")),
    ]
