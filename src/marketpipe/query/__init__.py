"""Read-only queries over everything marketpipe collects, shared by the HTTP query API
(:mod:`marketpipe.serve.routers`) and the MCP server (:mod:`marketpipe.mcp`).

Each query takes a :class:`Source` (the PostgreSQL pool and the Redis client), validates its inputs,
and returns a pydantic model from :mod:`marketpipe.query.models`. Bad input raises
:class:`BadInput`, an unknown symbol or series :class:`NotFound`; both carry a short message that is
safe to show to a client (never the input echoed back whole, never database text).
"""

from marketpipe.query.core import BadInput, NotFound, QueryError, Source

__all__ = ["BadInput", "NotFound", "QueryError", "Source"]
