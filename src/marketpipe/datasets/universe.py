"""Item sources shared by datasets: the current S&P 500 universe."""

from __future__ import annotations

from collections.abc import Sequence

from marketpipe.engine.registry import RunContext
from marketpipe.http.errors import ConfigurationError


def sp500_symbols(ctx: RunContext) -> Sequence[str]:
    """Current constituents by symbol (the first ``universe_limit`` when set).

    An empty universe is a configuration problem (collect ``sp500_companies`` first), not "0 rows, ok".
    """
    rows = ctx.query("SELECT symbol FROM sp500_companies WHERE is_current ORDER BY symbol")
    symbols = [row[0] for row in rows]
    if not symbols:
        raise ConfigurationError("the S&P 500 universe is empty: collect sp500_companies first")
    limit = ctx.universe_limit
    return symbols[:limit] if limit else symbols
