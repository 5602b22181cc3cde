"""The call-outcome ledger: ``collect_call_outcomes`` counts every call by provider, endpoint, key hash
and outcome (migration 0156).

Airflow tasks and CLI runs are short-lived, so they do not serve metrics themselves: they write facts
to PostgreSQL and the long-running exporter (:mod:`marketpipe.ops.metrics`) reads them at scrape time.
The quota ledger already counts calls per key and window and the run ledger per run, but neither says
*how* a call ended — this table does, with one upsert per call on the session's autocommit ledger
connection (a call sent is a call counted, whatever happens to the data transaction).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psycopg

    from marketpipe.http.types import ApiRequest

#: The outcome recorded when no reply came back (timeouts, refused connections, 5xx after retries).
UNREACHABLE = "unreachable"

#: Path segments whose child segment is an identifier (``/coins/{id}``, ``/users/{id}/tweets``).
_ID_PARENTS = frozenset({"coins", "accounts", "users", "username"})
#: Children of those parents that are fixed words, not identifiers.
_FIXED_CHILDREN = frozenset({"markets", "lookup", "by", "list", "observations"})
_WORD = re.compile(r"^(?:[a-z][a-z_-]{0,39}|v[0-9]{1,2})$")  # route words and API versions (v1)
_MAX_ENDPOINT = 80


def endpoint_of(request: ApiRequest) -> str:
    """A low-cardinality endpoint name for metrics: never a symbol, an id or a query.

    Alpha Vantage multiplexes one path on ``function=`` (``OVERVIEW``); other providers are named by
    their path with identifier segments replaced by ``{id}``.
    """
    function = request.params.get("function") if request.params else None
    if function and re.fullmatch(r"[A-Z0-9_]{1,40}", function):
        return function
    parts: list[str] = []
    parent = ""
    for segment in (s for s in request.path.split("/") if s):
        is_word = bool(_WORD.match(segment))
        if not is_word or (parent in _ID_PARENTS and segment not in _FIXED_CHILDREN):
            segment = "{id}"
        parts.append(segment)
        parent = segment
    name = "/" + "/".join(parts)
    return name[:_MAX_ENDPOINT]


def record_call(
    conn: psycopg.Connection, provider: str, endpoint: str, key_hash: str, outcome: str, at: datetime
) -> None:
    """Count one call (``conn`` must be autocommit: the count survives a rolled-back data transaction)."""
    conn.execute(
        """INSERT INTO collect_call_outcomes AS c (provider, endpoint, key_hash, outcome, calls, first_at, last_at)
           VALUES (%s, %s, %s, %s, 1, %s, %s)
           ON CONFLICT (provider, endpoint, key_hash, outcome)
           DO UPDATE SET calls = c.calls + 1, last_at = GREATEST(c.last_at, EXCLUDED.last_at)""",
        (provider, endpoint, key_hash, outcome, at, at),
    )
