"""Our per-ticker lexicon sentiment (VADER) and the query layer's cursor and input checks."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketpipe.query import BadInput, core, sentiment


def test_scores_the_sentences_that_name_each_ticker() -> None:
    text = "Apple (AAPL) posts record profit and great growth. Meanwhile $TSLA shares crash on awful recall news."
    scores = {t: (s, lab) for t, s, lab in sentiment.per_ticker(text, ["AAPL", "TSLA", "MSFT"])}
    assert scores["AAPL"][0] > 0.3 and scores["AAPL"][1] == "Bullish"
    assert scores["TSLA"][0] < -0.3 and scores["TSLA"][1] == "Bearish"
    # MSFT is not named: the whole text is scored
    assert scores["MSFT"][0] == pytest.approx(sentiment.score_text(text), abs=1e-4)


def test_cashtags_in_order_and_bounded_text() -> None:
    assert sentiment.cashtags("Buying $BTC and $ETH, then $BTC again; BRK.B via $BRK.B.") == [
        "BTC",
        "ETH",
        "BRK.B",
    ]
    assert sentiment.score_text("") == 0.0
    sentiment.score_text("good " * 1_000_000)  # bounded: scores the first MAX_SCORED_CHARS only


def test_cursor_round_trip_and_refusals() -> None:
    instant = datetime(2026, 11, 16, 15, 0, tzinfo=UTC)
    assert core.decode_cursor(core.encode_cursor(instant, "https://x/a")) == (instant, "https://x/a")
    assert core.decode_cursor(None) is None
    for bad in ("%%%", "x" * 300, core.encode_cursor(None, "k")[:-3] + "!!!"):
        with pytest.raises(BadInput):
            core.decode_cursor(bad)


@given(st.text(max_size=400))
def test_any_cursor_text_is_decoded_or_refused_as_bad_input(value: str) -> None:
    try:
        core.decode_cursor(value)
    except BadInput as exc:
        assert "cursor" in str(exc)


@given(st.one_of(st.text(max_size=60), st.integers(), st.none(), st.binary(max_size=20)))
def test_symbol_check_accepts_tickers_and_refuses_everything_else(value: object) -> None:
    try:
        checked = core.symbol(value)  # type: ignore[arg-type]
    except BadInput:
        return
    assert isinstance(value, str) and checked == value.upper() and core.SYMBOL_RE.match(checked)
