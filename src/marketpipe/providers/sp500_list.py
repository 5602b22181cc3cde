"""The S&P 500 constituents page (docs/providers.md §10): Wikipedia's "List of S&P 500
companies", first table (``id="constituents"``), parsed by normalised header name with the standard
library's HTML parser. No key, no published quota; a descriptive User-Agent is sent by the client.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

from marketpipe.http.client import NO_AUTH
from marketpipe.http.errors import MalformedResponse
from marketpipe.http.types import OK, ApiRequest, Outcome, OutcomeKind, Reply
from marketpipe.providers.base import Probe, Provider, classify_status
from marketpipe.providers.records import constituent

NAME = "sp500_list"


def classify(request: ApiRequest, reply: Reply) -> Outcome:
    by_status = classify_status(reply)
    if by_status is not None:
        return by_status
    if "<table" not in reply.text.lower():
        return Outcome(OutcomeKind.MALFORMED, "no table in the constituents page")
    return OK


PROVIDER = Provider(
    name=NAME,
    base_url="https://en.wikipedia.org/wiki/List_of_S%26P_500_companies",
    sandbox_prefix="/wikipedia/wiki/List_of_S%26P_500_companies",
    auth=NO_AUTH,
    windows=(),
    classify=classify,
    timeout_s=30.0,
    needs_key=False,
    listing_order=10,
    pool_slots=1,  # one page scrape
)


def page_request() -> ApiRequest:
    return ApiRequest(provider=NAME, path="", expect="html", label="S&P 500 constituents page")


class _TableParser(HTMLParser):
    """Collects the rows (lists of cell texts) of the first constituents table."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[list[str]] = []
        self._depth = 0  # nesting depth inside the chosen table
        self._done = False
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._done:
            return
        attributes = dict(attrs)
        if tag == "table":
            if self._depth:
                self._depth += 1
            elif attributes.get("id") == "constituents" or "wikitable" in (attributes.get("class") or ""):
                self._depth = 1
            return
        if self._depth != 1:
            return
        if tag == "tr":
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if self._done or not self._depth:
            return
        if tag == "table":
            self._depth -= 1
            if not self._depth:
                self._done = True
            return
        if self._depth != 1:
            return
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append(re.sub(r"\s+", " ", "".join(self._cell)).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if self._row:
                self.rows.append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None and self._depth == 1:
            self._cell.append(data)


#: Normalised header → sp500_companies column ("Date first added" is the older title).
_HEADERS = {
    "symbol": "symbol",
    "security": "company_name",
    "gics sector": "gics_sector",
    "gics sub-industry": "gics_sub_industry",
    "headquarters location": "headquarters",
    "date added": "date_added",
    "date first added": "date_added",
    "cik": "cik",
    "founded": "founded",
}


def _normalise_header(text: str) -> str:
    return re.sub(r"\[\w+\]", "", text).strip().lower()


def parse_constituents_html(html: str) -> list[dict[str, Any]]:
    """The constituents table → ``sp500_companies`` rows (CIK zero-padded to 10 digits)."""
    parser = _TableParser()
    parser.feed(html)
    if not parser.rows:
        raise MalformedResponse(NAME, "constituents table not found")
    header = [_HEADERS.get(_normalise_header(cell)) for cell in parser.rows[0]]
    if "symbol" not in header or "company_name" not in header:
        raise MalformedResponse(NAME, f"unexpected constituents header: {parser.rows[0]!r}")
    companies = (
        constituent({column: cell for column, cell in zip(header, cells, strict=False) if column})
        for cells in parser.rows[1:]
    )
    rows = [company for company in companies if company is not None]
    if not rows:
        raise MalformedResponse(NAME, "constituents table has no rows")
    return rows


#: The call ``marketpipe check`` makes.
PROBE = Probe(
    "constituents page",
    lambda _: page_request(),
    lambda reply: parse_constituents_html(reply.text),
)
