"""Alpha Vantage TOP_GAINERS_LOSERS: one snapshot batch per new market update.

Each run that sees a new ``last_updated`` stores a batch (batch id from the table's sequence, once per
run); ``change_percentage`` is numeric. Inserting a batch fires the ``top_gainers_updated`` NOTIFY
(migration 0009's statement trigger) that the streaming side listens for. A reply whose
``last_updated`` equals the latest stored batch adds nothing (no duplicate batch, no NOTIFY).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from marketpipe.engine.registry import DatasetSpec, Item, Pipe, Request, Row, RunContext
from marketpipe.providers import alpha_vantage
from marketpipe.providers.alpha_vantage import markets as alpha_vantage_markets


def request(ctx: RunContext, item: str) -> Request:
    latest = ctx.query("SELECT last_updated FROM top_gainers ORDER BY batch_id DESC LIMIT 1")
    stored = latest[0][0] if latest else None
    return Request(
        alpha_vantage.request("TOP_GAINERS_LOSERS", label="AV TOP_GAINERS_LOSERS"),
        context={"stored_last_updated": stored},
    )


def parse(body: Any, item: Item) -> list[Row]:
    rows = alpha_vantage_markets.parse_top_gainers(body)
    stored = item.context.get("stored_last_updated")
    if rows and stored is not None and stored == rows[0]["last_updated"]:
        return []  # the market has not moved since the stored batch
    return rows


DATASET = DatasetSpec(
    name="top_gainers",
    table="top_gainers",
    group="stocks",
    # After the US close (16:00 ET = 21:00 UTC), weekdays: the daily lists are final then.
    schedule="15 21 * * 1-5",
    providers=("alpha_vantage",),
    description="Top gainers, losers and most active US tickers, one batch per market update",
    key=("batch_id", "symbol", "category"),
    pipeline={"alpha_vantage": Pipe(request, parse)},
    merge="nothing",
    refresh_after=timedelta(hours=12),
    batch_sequence="top_gainers_batch_id_seq",
)
