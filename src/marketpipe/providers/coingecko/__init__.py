"""CoinGecko (docs/providers.md §9): one module per topic — client (classification, auth, windows), markets (coins, tickers, derivatives, global).

``PROVIDER`` is this provider's catalogue entry; ``PROBE`` is the call ``marketpipe check`` makes.
"""

from __future__ import annotations

from marketpipe.providers.base import Probe
from marketpipe.providers.coingecko import markets
from marketpipe.providers.coingecko.client import NAME, PROVIDER, classify

PROBE = Probe(
    "global",
    lambda _: markets.global_request(),
    lambda reply: markets.parse_global(reply.json()),
)

__all__ = ["NAME", "PROBE", "PROVIDER", "classify"]
