"""FRED simulator (docs/providers.md §3): ``/series/observations`` and ``/series`` with FRED's quirks.

Values are strings, missing ones ``"."``; ``count``/``offset``/``limit`` paginate; ``units``,
``frequency``/``aggregation_method`` and ``sort_order`` are honoured; the default ``file_type`` is
XML. Errors are HTTP 400/429 with ``{"error_code", "error_message"}`` (two spaces after each period),
or ``<error code=... message=.../>`` in XML. Keys must be 32 lower-case alphanumerics; 120 calls per
minute per key (add a 2/s window through the admin quota override to mimic the 2026 enforcement).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any
from xml.sax.saxutils import quoteattr

from fastapi import APIRouter, Request
from fastapi.responses import Response

from marketpipe.sandbox.core import Call, ProviderSpec, gate, json_response
from marketpipe.sandbox.providers import fred_data
from marketpipe.sandbox.quota import QuotaDecision, per_minute

NAME = "fred"
#: Where the sandbox mounts it (the real base URL's path layout below this prefix).
PREFIX = "/fred/fred"
KEY_PATTERN = re.compile(r"^[a-z0-9]{32}$")
KEY_DOC = "  Read https://fred.stlouisfed.org/docs/api/api_key.html for more information."
MSG_KEY_MISSING = "Bad Request.  Variable api_key is not set." + KEY_DOC
MSG_KEY_FORMAT = (
    "Bad Request.  The value for variable api_key is not a 32 character alpha-numeric lower-case string."
    + KEY_DOC
)
MSG_KEY_UNKNOWN = "Bad Request.  The value for variable api_key is not registered." + KEY_DOC
MSG_NO_SERIES = "Bad Request.  The series does not exist."
MSG_RATE = "Too Many Requests.  Exceeded Rate Limit"
DEFAULT_START = "1776-07-04"
DEFAULT_END = "9999-12-31"
MAX_LIMIT = 100_000

router = APIRouter()


def _wants_json(call: Call) -> bool:
    request = call.request
    return request is not None and request.query_params.get("file_type", "xml").lower() == "json"


def error_reply(call: Call, status: int, message: str) -> Response:
    """FRED's error body: JSON when ``file_type=json``, XML otherwise (the API default)."""
    if _wants_json(call):
        return json_response({"error_code": status, "error_message": message}, status)
    body = f'<?xml version="1.0" encoding="utf-8" ?>\n<error code="{status}" message={quoteattr(message)}/>\n'
    return Response(body, status, media_type="text/xml; charset=UTF-8")


def _invalid_key(call: Call) -> Response:
    key = call.key or ""
    return error_reply(call, 400, MSG_KEY_FORMAT if not KEY_PATTERN.match(key) else MSG_KEY_UNKNOWN)


def _quota(call: Call, decision: QuotaDecision) -> Response:
    return error_reply(call, 429, MSG_RATE)


class _BadRequest(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _date_param(params: Any, name: str, default: str) -> date:
    text = params.get(name) or default
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise _BadRequest(
            f"Bad Request.  Variable {name} is not a valid date in YYYY-MM-DD format."
        ) from None


def _int_param(params: Any, name: str, default: int, low: int, high: int) -> int:
    text = params.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise _BadRequest(f"Bad Request.  Variable {name} is not an integer.") from None
    if not low <= value <= high:
        raise _BadRequest(f"Bad Request.  Variable {name} is not between {low} and {high}.")
    return value


def _choice(params: Any, name: str, allowed: tuple[str, ...] | set[str], default: str) -> str:
    value = (params.get(name) or default).lower()
    if value not in allowed:
        options = ", ".join(f"'{option}'" for option in sorted(allowed))
        raise _BadRequest(f"Bad Request.  Variable {name} is not one of the values: {options}.")
    return value


async def _open(request: Request, endpoint: str) -> Call:
    return await gate(request, NAME, endpoint=endpoint, key=request.query_params.get("api_key") or None)


def _series(call: Call, params: Any) -> fred_data.FredSeries:
    series_id = (params.get("series_id") or "").upper()
    if not series_id:
        raise _BadRequest("Bad Request.  Variable series_id is not set.")
    series = fred_data.CATALOGUE.get(series_id)
    if series is None:
        raise _BadRequest(MSG_NO_SERIES)
    return series


def observations_payload(call: Call, params: Any) -> dict[str, Any]:
    """The ``/series/observations`` document (raises :class:`_BadRequest` on a bad parameter)."""
    series = _series(call, params)
    today = call.now.date()
    start = _date_param(params, "observation_start", DEFAULT_START)
    end = _date_param(params, "observation_end", DEFAULT_END)
    realtime_start = _date_param(params, "realtime_start", today.isoformat())
    realtime_end = _date_param(params, "realtime_end", today.isoformat())
    limit = _int_param(params, "limit", MAX_LIMIT, 1, MAX_LIMIT)
    offset = _int_param(params, "offset", 0, 0, 10**9)
    sort_order = _choice(params, "sort_order", ("asc", "desc"), "asc")
    units = _choice(params, "units", fred_data.UNITS, "lin")
    frequency = params.get("frequency", "").lower()
    method = _choice(params, "aggregation_method", ("avg", "sum", "eop"), "avg")
    if frequency and frequency not in fred_data.FREQUENCIES:
        raise _BadRequest(
            f"Bad Request.  Variable frequency is not one of the values: {', '.join(sorted(fred_data.FREQUENCIES))}."
        )
    if frequency and not fred_data.can_aggregate(series, frequency):
        raise _BadRequest("Bad Request.  The value for variable frequency can not be used with this series.")

    rows: list[tuple[date, fred_data.Value]] = list(fred_data.history(series.series_id, today))
    periods = fred_data.PERIODS_PER_YEAR[series.frequency_short]
    decimals = series.decimals
    if frequency and frequency != series.frequency_short.lower():
        rows = fred_data.aggregate(rows, frequency, method)
        periods = fred_data.periods_per_year(frequency)
        decimals = max(decimals, 2)
    if units != "lin":
        rows = fred_data.transform(rows, units, periods)
        decimals = 5
    window = [(day, value) for day, value in rows if start <= day <= end]
    if sort_order == "desc":
        window.reverse()
    page = window[offset : offset + limit]
    realtime = {"realtime_start": realtime_start.isoformat(), "realtime_end": realtime_end.isoformat()}
    return {
        **realtime,
        "observation_start": start.isoformat(),
        "observation_end": end.isoformat(),
        "units": units,
        "output_type": 1,
        "file_type": "json",
        "order_by": "observation_date",
        "sort_order": sort_order,
        "count": len(window),
        "offset": offset,
        "limit": limit,
        "observations": [
            {**realtime, "date": day.isoformat(), "value": fred_data.render(value, decimals)}
            for day, value in page
        ],
    }


def _observations_xml(doc: dict[str, Any]) -> str:
    head = {key: value for key, value in doc.items() if key != "observations"}
    head["file_type"] = "xml"
    attrs = " ".join(f"{key}={quoteattr(str(value))}" for key, value in head.items())
    lines = ['<?xml version="1.0" encoding="utf-8" ?>', f"<observations {attrs}>"]
    for obs in doc["observations"]:
        attrs = " ".join(f"{key}={quoteattr(str(value))}" for key, value in obs.items())
        lines.append(f"  <observation {attrs}/>")
    lines.append("</observations>")
    return "\n".join(lines) + "\n"


@router.get("/series/observations")
async def series_observations(request: Request) -> Response:
    """Observations of one series in a window, paginated by ``limit``/``offset`` (total in ``count``)."""
    call = await _open(request, "series/observations")
    if call.reply is not None:
        return call.reply
    try:
        doc = observations_payload(call, request.query_params)
    except _BadRequest as error:
        return error_reply(call, 400, error.message)
    if _wants_json(call):
        return call.json(doc)
    return call.text(_observations_xml(doc), "text/xml; charset=UTF-8")


def series_payload(call: Call, series: fred_data.FredSeries) -> dict[str, Any]:
    """The ``/series`` document for one series."""
    today = call.now.date()
    history = fred_data.history(series.series_id, today)
    last = history[-1][0] if history else series.first
    return {
        "realtime_start": today.isoformat(),
        "realtime_end": today.isoformat(),
        "seriess": [
            {
                "id": series.series_id,
                "realtime_start": today.isoformat(),
                "realtime_end": today.isoformat(),
                "title": series.title,
                "observation_start": series.first.isoformat(),
                "observation_end": last.isoformat(),
                "frequency": series.frequency,
                "frequency_short": series.frequency_short,
                "units": series.units,
                "units_short": series.units_short,
                "seasonal_adjustment": series.seasonal_adjustment,
                "seasonal_adjustment_short": series.seasonal_adjustment_short,
                "last_updated": f"{min(today, last.replace(day=1) if series.frequency_short != 'D' else last).isoformat()} 07:46:02-05",
                "popularity": series.popularity,
                "notes": f"Simulated by the marketpipe sandbox after FRED series {series.series_id}.",
            }
        ],
    }


@router.get("/series")
async def series_info(request: Request) -> Response:
    """Metadata of one series [U: shape from FRED's docs; not in docs/providers.md §3]."""
    call = await _open(request, "series")
    if call.reply is not None:
        return call.reply
    try:
        series = _series(call, request.query_params)
    except _BadRequest as error:
        return error_reply(call, 400, error.message)
    doc = series_payload(call, series)
    if _wants_json(call):
        return call.json(doc)
    info = doc["seriess"][0]
    attrs = " ".join(f"{key}={quoteattr(str(value))}" for key, value in info.items() if key != "notes")
    xml = (
        '<?xml version="1.0" encoding="utf-8" ?>\n'
        f'<seriess realtime_start="{doc["realtime_start"]}" realtime_end="{doc["realtime_end"]}">\n'
        f"  <series {attrs}/>\n</seriess>\n"
    )
    return call.text(xml, "text/xml; charset=UTF-8")


PROVIDER = ProviderSpec(
    name=NAME,
    prefix=PREFIX,
    router=router,
    quota=(per_minute(120),),
    key_format=lambda key: bool(KEY_PATTERN.match(key)),
    missing_key_reply=lambda call: error_reply(call, 400, MSG_KEY_MISSING),
    invalid_key_reply=_invalid_key,
    quota_reply=_quota,
    description="FRED /fred (docs/providers.md §3): series/observations and series; 120/min per key; 32-char keys.",
)
