"""Every HTTP fault mode, switched at run time through the admin API of a real sandbox server."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

KEY = "av-fault-key"
OVERVIEW = {"function": "OVERVIEW", "symbol": "AAPL", "apikey": KEY}


@pytest.fixture
def av(sandbox) -> Iterator[httpx.Client]:
    sandbox.admin.set_quotas(False)  # these tests are about faults, not quotas
    with httpx.Client(base_url=sandbox.base_url("alpha_vantage"), timeout=10) as client:
        yield client


def test_server_error_uses_the_status_and_stops_after_its_count(sandbox, av: httpx.Client) -> None:
    sandbox.admin.add_fault("alpha_vantage", "server_error", "OVERVIEW", count=2, status=503)
    assert [av.get("/query", params=OVERVIEW).status_code for _ in range(3)] == [503, 503, 200]
    counters = sandbox.admin.counters("alpha_vantage", key=KEY, endpoint="OVERVIEW")["totals"]
    assert (counters["calls"], counters["faulted"], counters["served"]) == (3, 2, 1)
    assert sandbox.admin.faults() == []


def test_rate_limit_storm_answers_with_the_providers_own_throttle_reply(sandbox, av: httpx.Client) -> None:
    sandbox.admin.add_fault("alpha_vantage", "rate_limit", count=3)
    bodies = [av.get("/query", params=OVERVIEW).json() for _ in range(3)]
    assert all("spreading out your free API requests" in b["Information"] for b in bodies)
    sandbox.admin.add_fault("alpha_vantage", "rate_limit", count=1, window="note")
    assert "Note" in av.get("/query", params=OVERVIEW).json()
    assert av.get("/query", params=OVERVIEW).json()["Symbol"] == "AAPL"


def test_slow_reply_outlasts_a_client_timeout(sandbox, av: httpx.Client) -> None:
    sandbox.admin.add_fault("alpha_vantage", "slow", count=1, delay_s=2.0)
    with pytest.raises(httpx.ReadTimeout):
        av.get("/query", params=OVERVIEW, timeout=0.3)
    assert av.get("/query", params=OVERVIEW).status_code == 200


def test_truncated_json_is_cut_mid_document(sandbox, av: httpx.Client) -> None:
    full = av.get("/query", params=OVERVIEW).content
    sandbox.admin.add_fault("alpha_vantage", "truncated_json", count=1, fraction=0.5)
    reply = av.get("/query", params=OVERVIEW)
    assert reply.status_code == 200
    assert full.startswith(reply.content) and 0 < len(reply.content) < len(full)
    with pytest.raises(json.JSONDecodeError):
        json.loads(reply.content)


@pytest.mark.parametrize(
    ("template", "status", "marker"),
    [
        ("bad_gateway", 502, "502 Bad Gateway"),
        ("cloudflare_challenge", 403, "Just a moment"),
        ("cloudflare_1020", 403, "1020"),
    ],
)
def test_html_error_page_from_a_proxy_or_cdn(
    sandbox, av: httpx.Client, template: str, status: int, marker: str
) -> None:
    sandbox.admin.add_fault("alpha_vantage", "html_error", count=1, template=template)
    reply = av.get("/query", params=OVERVIEW)
    assert reply.status_code == status
    assert reply.headers["content-type"].startswith("text/html")
    assert marker in reply.text


def test_empty_body(sandbox, av: httpx.Client) -> None:
    sandbox.admin.add_fault("alpha_vantage", "empty_body", count=1)
    reply = av.get("/query", params=OVERVIEW)
    assert (reply.status_code, reply.content) == (200, b"")


def test_schema_drift_renames_drops_nulls_and_adds_fields(sandbox, av: httpx.Client) -> None:
    clean = av.get("/query", params=OVERVIEW).json()
    sandbox.admin.add_fault(
        "alpha_vantage",
        "schema_drift",
        "OVERVIEW",
        count=1,
        rename={"Symbol": "Ticker"},
        drop=["Name"],
        null=["PERatio"],
        extra={"NewField": "x"},
    )
    drifted = av.get("/query", params=OVERVIEW).json()
    assert "Symbol" not in drifted and drifted["Ticker"] == clean["Symbol"]
    assert "Name" not in drifted
    assert drifted["PERatio"] is None
    assert drifted["NewField"] == "x"
    sandbox.admin.add_fault("alpha_vantage", "schema_drift", count=1)  # default: all four kinds
    default = av.get("/query", params=OVERVIEW).json()
    assert "Symbol_v2" in default and default["AssetType"] is None and "Name" not in default
    assert default["sandboxExtraField"] == "drift"


def test_revoked_key_gets_the_invalid_key_reply_for_that_key_only(sandbox, av: httpx.Client) -> None:
    sandbox.admin.add_fault("alpha_vantage", "revoked_key", key=KEY)
    assert "Error Message" in av.get("/query", params=OVERVIEW).json()
    assert av.get("/query", params={**OVERVIEW, "apikey": "another-key"}).json()["Symbol"] == "AAPL"
    # Revoking through the key list gives the same reply, and counts as an auth failure.
    sandbox.admin.clear_faults()
    sandbox.admin.set_keys("alpha_vantage", revoked=[KEY])
    assert "apikey is invalid" in av.get("/query", params=OVERVIEW).json()["Error Message"]
    assert sandbox.admin.counters("alpha_vantage", key=KEY)["totals"]["auth_failed"] == 1


def test_canned_reply_and_probability_faults(sandbox, av: httpx.Client) -> None:
    sandbox.admin.add_fault("alpha_vantage", "reply", count=1, status=200, body={"Note": "legacy"})
    assert av.get("/query", params=OVERVIEW).json() == {"Note": "legacy"}
    sandbox.admin.add_fault("alpha_vantage", "server_error", probability=0.5)
    statuses = [av.get("/query", params=OVERVIEW).status_code for _ in range(40)]
    assert 5 < statuses.count(500) < 35 and statuses.count(200) == 40 - statuses.count(500)


def test_faults_are_listed_removed_and_limited_to_known_providers(sandbox, av: httpx.Client) -> None:
    fault = sandbox.admin.add_fault("alpha_vantage", "empty_body", "IPO_*")
    listed = sandbox.admin.faults("alpha_vantage")
    assert [f["id"] for f in listed] == [fault["id"]] and listed[0]["route"] == "IPO_*"
    assert av.get("/query", params=OVERVIEW).status_code == 200  # route does not match
    assert av.get("/query", params={"function": "IPO_CALENDAR", "apikey": KEY}).content == b""
    assert httpx.delete(f"{sandbox.url}/_admin/faults/{fault['id']}").json() == {"removed": 1}
    assert sandbox.admin.faults() == []
    unknown = httpx.post(f"{sandbox.url}/_admin/faults", json={"provider": "nope", "kind": "slow"})
    assert unknown.status_code == 404
