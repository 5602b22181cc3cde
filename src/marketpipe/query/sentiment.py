"""Our own per-ticker sentiment for articles and posts that no provider scores.

The model is VADER (Hutto & Gilbert, 2014): a lexicon and rule-based scorer shipped inside the
``vaderSentiment`` wheel (no download at run time), tuned for short social-media text. For each ticker
a text mentions, the sentences that name the ticker are scored (the whole text when none does, e.g.
company news filed under the ticker without naming it); the score is VADER's ``compound`` in [-1, 1].

Labels use VADER's published thresholds (compound ≥ 0.05 positive, ≤ -0.05 negative), named the way
Alpha Vantage names its own labels so a client reads one vocabulary: ``Bullish`` / ``Neutral`` /
``Bearish``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

MODEL = "vader"
#: Text beyond this is not scored (a bound on CPU per item; headlines and posts are far shorter).
MAX_SCORED_CHARS = 4000
POSITIVE = 0.05
NEGATIVE = -0.05

_SENTENCES = re.compile(r"(?<=[.!?])\s+|\n+")
_CASHTAG = re.compile(r"\$([A-Z][A-Z0-9.]{0,9})\b")


@lru_cache(maxsize=1)
def _analyzer() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


def label(score: float) -> str:
    if score >= POSITIVE:
        return "Bullish"
    if score <= NEGATIVE:
        return "Bearish"
    return "Neutral"


def score_text(text: str) -> float:
    """VADER's compound score of ``text`` (0.0 for empty text)."""
    text = text[:MAX_SCORED_CHARS].strip()
    if not text:
        return 0.0
    return float(_analyzer().polarity_scores(text)["compound"])


def _mentions(sentence: str, ticker: str) -> bool:
    return re.search(rf"(?<![A-Za-z0-9])\$?{re.escape(ticker)}(?![A-Za-z0-9])", sentence) is not None


def score_for(text: str, ticker: str) -> float:
    """The sentiment of ``text`` towards ``ticker``: its sentences naming the ticker, else all of it."""
    text = text[:MAX_SCORED_CHARS]
    naming = [s for s in _SENTENCES.split(text) if s and _mentions(s, ticker)]
    return score_text(" ".join(naming) if naming else text)


def cashtags(text: str) -> list[str]:
    """``$AAPL``-style tickers in ``text``, in order of first appearance."""
    seen: dict[str, None] = {}
    for match in _CASHTAG.finditer(text[:MAX_SCORED_CHARS]):
        seen.setdefault(match.group(1).rstrip("."), None)
    return list(seen)


def per_ticker(text: str, tickers: Iterable[str]) -> list[tuple[str, float, str]]:
    """``(ticker, score, label)`` for each ticker (deduplicated, order kept)."""
    out = []
    for ticker in dict.fromkeys(t for t in tickers if t):
        value = round(score_for(text, ticker), 4)
        out.append((ticker, value, label(value)))
    return out
