"""Endpoint names for the call-outcome ledger stay low-cardinality whatever the path holds."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from marketpipe.http.types import ApiRequest
from marketpipe.ops.calls import endpoint_of


def test_endpoints_name_the_route_never_the_symbol_or_id():
    assert (
        endpoint_of(ApiRequest("alpha_vantage", "/query", {"function": "OVERVIEW", "symbol": "AAPL"}))
        == "OVERVIEW"
    )
    assert endpoint_of(ApiRequest("coingecko", "/coins/bitcoin/tickers")) == "/coins/{id}/tickers"
    assert endpoint_of(ApiRequest("coingecko", "/coins/markets")) == "/coins/markets"
    assert endpoint_of(ApiRequest("x", "/users/by/username/elonmusk")) == "/users/by/username/{id}"
    assert endpoint_of(ApiRequest("x", "/users/44196397/tweets")) == "/users/{id}/tweets"
    assert (
        endpoint_of(ApiRequest("truth_social", "/v1/accounts/1077/statuses")) == "/v1/accounts/{id}/statuses"
    )
    assert (
        endpoint_of(ApiRequest("fred", "/series/observations", {"series_id": "CPIAUCSL"}))
        == "/series/observations"
    )
    assert endpoint_of(ApiRequest("sp500_list", "")) == "/"
    # A function value that is not an AV function name is not trusted as a label.
    assert endpoint_of(ApiRequest("alpha_vantage", "/query", {"function": "x\x00; DROP"})) == "/query"


@given(st.text(max_size=300), st.dictionaries(st.text(max_size=10), st.text(max_size=50), max_size=3))
def test_any_path_maps_to_a_short_name_of_route_words(path, params):
    name = endpoint_of(ApiRequest("p", path, params))
    assert len(name) <= 80
    route = re.compile(r"(/(\{id\}|[a-z][a-z_-]{0,39}|v[0-9]{1,2}))*/?")
    assert re.fullmatch(r"[A-Z0-9_]{1,40}", name) or route.fullmatch(name[:80]) or len(name) == 80, name
