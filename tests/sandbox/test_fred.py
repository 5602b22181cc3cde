"""FRED simulator against a real sandbox server (docs/providers.md §3)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, date, datetime

import httpx
import pytest

KEY = "0123456789abcdef0123456789abcdef"
SPEC_DOC_KEYS = [
    "realtime_start", "realtime_end", "observation_start", "observation_end", "units", "output_type",
    "file_type", "order_by", "sort_order", "count", "offset", "limit", "observations",
]  # fmt: skip
SPEC_SERIES = [
    "CPIAUCSL", "CPIAUCNS", "CPILFESL", "PCEPI", "PCEPILFE", "FPCPITOTLZGUSA", "T10YIE", "T5YIE", "FEDFUNDS",
    "DFF", "DFEDTARU", "DFEDTARL", "DGS1MO", "DGS3MO", "DGS6MO", "DGS1", "DGS2", "DGS3", "DGS5", "DGS7",
    "DGS10", "DGS20", "DGS30", "GS10", "GS2", "T10Y2Y", "T10Y3M",
]  # fmt: skip
KEY_DOC = "  Read https://fred.stlouisfed.org/docs/api/api_key.html for more information."


@pytest.fixture
def fred(sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.base_url("fred"), timeout=10) as client:
        yield client


def _obs(client: httpx.Client, series_id: str, **params: object) -> httpx.Response:
    return client.get(
        "/series/observations", params={"series_id": series_id, "api_key": KEY, "file_type": "json", **params}
    )


def test_observations_document_has_the_spec_shape_and_string_values(sandbox, fred: httpx.Client) -> None:
    doc = _obs(fred, "CPIAUCSL", sort_order="desc", limit=2).json()
    assert list(doc) == SPEC_DOC_KEYS
    today = sandbox.admin.now().date().isoformat()
    assert (doc["realtime_start"], doc["realtime_end"]) == (today, today)
    assert (doc["observation_start"], doc["observation_end"]) == ("1776-07-04", "9999-12-31")
    assert (doc["units"], doc["output_type"], doc["file_type"], doc["order_by"]) == (
        "lin",
        1,
        "json",
        "observation_date",
    )
    assert doc["limit"] == 2 and doc["offset"] == 0 and doc["count"] > 900
    assert len(doc["observations"]) == 2
    for obs in doc["observations"]:
        assert list(obs) == ["realtime_start", "realtime_end", "date", "value"]
        assert isinstance(obs["value"], str) and float(obs["value"]) > 100
        assert date.fromisoformat(obs["date"]).day == 1  # monthly series are dated the 1st
    assert doc["observations"][0]["date"] > doc["observations"][1]["date"]


@pytest.mark.parametrize("series_id", SPEC_SERIES)
def test_every_series_of_spec_section_3_5_is_served(fred: httpx.Client, series_id: str) -> None:
    doc = _obs(fred, series_id, sort_order="desc", limit=5).json()
    assert doc["count"] > 10
    values = [obs["value"] for obs in doc["observations"]]
    assert all(value == "." or math.isfinite(float(value)) for value in values)


def test_offset_and_limit_page_through_count(fred: httpx.Client) -> None:
    window = {"observation_start": "2025-01-01", "observation_end": "2026-06-30"}
    full = _obs(fred, "DGS10", **window).json()
    pages = []
    offset = 0
    while offset < full["count"]:
        page = _obs(fred, "DGS10", limit=100, offset=offset, **window).json()
        assert page["count"] == full["count"] and page["offset"] == offset
        pages.extend(page["observations"])
        offset += 100
    assert pages == full["observations"]
    assert all("2025-01-01" <= obs["date"] <= "2026-06-30" for obs in pages)


def test_daily_yields_skip_weekends_and_report_holidays_as_dot(fred: httpx.Client) -> None:
    obs = _obs(fred, "DGS10", observation_start="2026-01-15", observation_end="2026-01-21").json()[
        "observations"
    ]
    by_date = {o["date"]: o["value"] for o in obs}
    assert "2026-01-17" not in by_date and "2026-01-18" not in by_date  # weekend
    assert by_date["2026-01-19"] == "."  # Martin Luther King Jr. Day
    assert by_date["2026-01-16"] != "."
    # The fed funds effective rate (DFF) is published for every calendar day.
    dff = _obs(fred, "DFF", observation_start="2026-01-15", observation_end="2026-01-21").json()
    assert dff["count"] == 7


def test_units_pc1_is_the_year_over_year_percent_change(fred: httpx.Client) -> None:
    window = {"observation_start": "2025-01-01", "observation_end": "2026-03-01"}
    levels = {o["date"]: float(o["value"]) for o in _obs(fred, "CPIAUCSL", **window).json()["observations"]}
    doc = _obs(
        fred, "CPIAUCSL", units="pc1", observation_start="2026-01-01", observation_end="2026-03-01"
    ).json()
    assert doc["units"] == "pc1"
    for obs in doc["observations"]:
        year_ago = obs["date"].replace("2026", "2025", 1)
        assert float(obs["value"]) == pytest.approx(
            (levels[obs["date"]] / levels[year_ago] - 1) * 100, abs=1e-3
        )


def test_frequency_aggregates_daily_to_monthly(fred: httpx.Client) -> None:
    monthly = _obs(
        fred, "DGS10", frequency="m", observation_start="2026-01-01", observation_end="2026-03-31"
    ).json()
    assert [o["date"] for o in monthly["observations"]] == ["2026-01-01", "2026-02-01", "2026-03-01"]
    daily = _obs(fred, "DGS10", observation_start="2026-02-01", observation_end="2026-02-28").json()[
        "observations"
    ]
    values = [float(o["value"]) for o in daily if o["value"] != "."]
    assert float(monthly["observations"][1]["value"]) == pytest.approx(sum(values) / len(values), abs=0.006)
    too_fine = _obs(fred, "CPIAUCSL", frequency="d")
    assert too_fine.status_code == 400


def test_only_published_observations_are_visible_and_a_new_month_adds_one(
    sandbox, fred: httpx.Client
) -> None:
    sandbox.admin.set_clock(datetime(2026, 11, 10, 12, tzinfo=UTC), rate=0)
    latest = _obs(fred, "CPIAUCSL", sort_order="desc", limit=1).json()["observations"][0]["date"]
    assert latest == "2026-09-01"  # October's CPI is published mid-November
    sandbox.admin.advance(days=10)
    assert (
        _obs(fred, "CPIAUCSL", sort_order="desc", limit=1).json()["observations"][0]["date"] == "2026-10-01"
    )


def test_default_file_type_is_xml(fred: httpx.Client) -> None:
    reply = fred.get("/series/observations", params={"series_id": "FEDFUNDS", "api_key": KEY, "limit": 2})
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/xml")
    assert reply.text.startswith('<?xml version="1.0" encoding="utf-8" ?>')
    assert reply.text.count("<observation ") == 2 and 'file_type="xml"' in reply.text


def test_series_metadata(fred: httpx.Client) -> None:
    doc = fred.get("/series", params={"series_id": "DGS10", "api_key": KEY, "file_type": "json"}).json()
    info = doc["seriess"][0]
    assert info["id"] == "DGS10" and info["frequency_short"] == "D" and info["units"] == "Percent"


def test_api_key_errors_are_400_with_fred_texts(sandbox, fred: httpx.Client) -> None:
    params = {"series_id": "CPIAUCSL", "file_type": "json"}
    missing = fred.get("/series/observations", params=params)
    assert missing.status_code == 400
    assert missing.json() == {
        "error_code": 400,
        "error_message": "Bad Request.  Variable api_key is not set." + KEY_DOC,
    }
    malformed = fred.get("/series/observations", params={**params, "api_key": "Not-A-Key"})
    assert malformed.json()["error_message"] == (
        "Bad Request.  The value for variable api_key is not a 32 character alpha-numeric lower-case string."
        + KEY_DOC
    )
    sandbox.admin.set_keys("fred", valid=[KEY])
    unknown = fred.get("/series/observations", params={**params, "api_key": "f" * 32})
    assert unknown.status_code == 400
    assert unknown.json()["error_message"].startswith(
        "Bad Request.  The value for variable api_key is not registered."
    )
    xml = fred.get("/series/observations", params={"series_id": "CPIAUCSL"})
    assert xml.status_code == 400 and xml.text.strip().endswith("/>") and '<error code="400"' in xml.text


def test_unknown_series_and_bad_parameters(fred: httpx.Client) -> None:
    unknown = _obs(fred, "NOSUCHSERIES")
    assert (unknown.status_code, unknown.json()) == (
        400,
        {"error_code": 400, "error_message": "Bad Request.  The series does not exist."},
    )
    assert _obs(fred, "CPIAUCSL", limit=0).status_code == 400
    assert _obs(fred, "CPIAUCSL", sort_order="sideways").status_code == 400
    assert _obs(fred, "CPIAUCSL", units="furlongs").status_code == 400


def test_120_calls_per_minute_then_429_until_the_next_minute(sandbox, fred: httpx.Client) -> None:
    sandbox.admin.set_clock(datetime(2026, 11, 16, 15, 0, 5, tzinfo=UTC), rate=0)
    statuses = [_obs(fred, "FEDFUNDS", limit=1).status_code for _ in range(121)]
    assert statuses == [200] * 120 + [429]
    refused = _obs(fred, "FEDFUNDS", limit=1)
    assert refused.json() == {"error_code": 429, "error_message": "Too Many Requests.  Exceeded Rate Limit"}
    sandbox.admin.advance(seconds=55)
    assert _obs(fred, "FEDFUNDS", limit=1).status_code == 200


def test_per_second_enforcement_can_be_switched_on(sandbox, fred: httpx.Client) -> None:
    sandbox.admin.freeze()
    sandbox.admin.set_provider_quota(
        "fred",
        windows=[
            {"name": "minute", "limit": 120, "seconds": 60},
            {"name": "second", "limit": 2, "seconds": 1},
        ],
    )
    assert [_obs(fred, "DFF", limit=1).status_code for _ in range(3)] == [200, 200, 429]


def test_server_error_and_truncation_faults_on_fred_routes(sandbox, fred: httpx.Client) -> None:
    sandbox.admin.add_fault("fred", "server_error", route="series/observations", count=1, status=503)
    assert _obs(fred, "DGS2", limit=1).status_code == 503
    sandbox.admin.add_fault("fred", "truncated_json", route="series/observations", count=1)
    cut = _obs(fred, "DGS2", limit=5)
    with pytest.raises(ValueError):
        cut.json()
    assert _obs(fred, "DGS2", limit=5).json()["limit"] == 5
