"""The simulated Wikipedia "List of S&P 500 companies" page (docs/providers.md §10)."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from html.parser import HTMLParser
from importlib import resources

import httpx
import pytest

AGENT = {"User-Agent": "marketpipe-tests/0.1 (https://example.org/marketpipe; ops@example.org)"}
COLUMNS = [
    "Symbol",
    "Security",
    "GICS Sector",
    "GICS Sub-Industry",
    "Headquarters Location",
    "Date added",
    "CIK",
    "Founded",
]
GICS_SECTORS = {
    "Communication Services", "Consumer Discretionary", "Consumer Staples", "Energy", "Financials", "Health Care",
    "Industrials", "Information Technology", "Materials", "Real Estate", "Utilities",
}  # fmt: skip


class TableParser(HTMLParser):
    """Collects the text cells of every table by id (what pandas.read_html / BeautifulSoup would see)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.classes: dict[str, str] = {}
        self._table: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "table":
            self._table = attributes.get("id") or f"table{len(self.tables)}"
            self.tables[self._table] = []
            self.classes[self._table] = attributes.get("class") or ""
        elif tag == "tr" and self._table:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _page(sandbox, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.get(
        sandbox.base_url("sp500_list"), headers=AGENT if headers is None else headers, timeout=10
    )


def _tables(sandbox) -> TableParser:
    reply = _page(sandbox)
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/html")
    parser = TableParser()
    parser.feed(reply.text)
    return parser


def test_first_table_is_the_constituents_wikitable_with_current_columns(sandbox) -> None:
    parser = _tables(sandbox)
    assert next(iter(parser.tables)) == "constituents"
    assert "wikitable" in parser.classes["constituents"] and "sortable" in parser.classes["constituents"]
    header, *rows = parser.tables["constituents"]
    assert header == COLUMNS
    assert len(rows) == 503 and all(len(r) == 8 for r in rows)
    by_symbol = {r[0]: r for r in rows}
    assert by_symbol["AAPL"][1:4] == [
        "Apple Inc.",
        "Information Technology",
        "Technology Hardware, Storage & Peripherals",
    ]
    assert by_symbol["AAPL"][6] == "0000320193"  # CIK zero-padded to 10 digits
    assert "BRK.B" in by_symbol and "GOOGL" in by_symbol and "GOOG" in by_symbol  # dots, share classes
    assert {r[2] for r in rows} == GICS_SECTORS
    assert all(len(r[6]) == 10 and r[6].isdigit() for r in rows)


def test_rows_are_the_bundled_list_after_the_seeded_september_rebalance(sandbox) -> None:
    text = resources.files("marketpipe.sandbox").joinpath("data/sp500_constituents.csv").read_text("utf-8")
    bundled = {row["Symbol"]: row for row in csv.DictReader(text.splitlines())}
    rows = {r[0]: r for r in _tables(sandbox).tables["constituents"][1:]}
    changes = httpx.get(f"{sandbox.url}/_admin/world/membership").json()
    removed = {c["symbol"] for c in changes if c["action"] == "removed"}
    added = {c["symbol"] for c in changes if c["action"] == "added"}
    assert set(rows) == (set(bundled) - removed) | added
    assert all(rows[s][5] == "2026-09-18" for s in added)
    same = next(s for s in bundled if s not in removed)
    assert (
        rows[same][4] == bundled[same]["Headquarters Location"] and rows[same][7] == bundled[same]["Founded"]
    )


def test_admin_membership_change_appears_and_leaves_on_the_page(sandbox) -> None:
    sandbox.admin.change_membership(
        remove="MMM",
        add={"symbol": "NEWC", "name": "Newco, Inc.", "sector": "Industrials", "sub_industry": "Trucking",
             "headquarters": "Austin, Texas", "cik": "1234567", "founded": "2001"},
    )  # fmt: skip
    parser = _tables(sandbox)
    rows = {r[0]: r for r in parser.tables["constituents"][1:]}
    assert "MMM" not in rows
    assert rows["NEWC"][1] == "Newco, Inc." and rows["NEWC"][5] == sandbox.admin.now().date().isoformat()
    assert rows["NEWC"][6] == "0001234567"
    changes = parser.tables["changes"]
    assert changes[2][1:5] == ["NEWC", "Newco, Inc.", "MMM", "3M"]  # newest change first, after 2 header rows


def test_the_clock_drives_the_december_rebalance(sandbox) -> None:
    before = {r[0] for r in _tables(sandbox).tables["constituents"][1:]}
    sandbox.admin.set_clock(datetime(2026, 12, 18, 12, 0, tzinfo=UTC))
    after = {r[0] for r in _tables(sandbox).tables["constituents"][1:]}
    assert len(before - after) == 1 and len(after - before) == 1 and len(after) == 503


@pytest.mark.parametrize("agent", ["", "python-requests/2.32.3", "python-httpx/0.28.1", "Python-urllib/3.11"])
def test_default_library_user_agents_get_the_robot_policy_403(sandbox, agent: str) -> None:
    reply = _page(sandbox, headers={"User-Agent": agent})
    assert reply.status_code == 403
    assert "robot policy" in reply.text
    assert sandbox.admin.calls("sp500_list") == 1


def test_page_faults_apply_like_any_provider(sandbox) -> None:
    sandbox.admin.add_fault("sp500_list", "truncated_json", count=1, fraction=0.3)
    cut = _page(sandbox)
    assert cut.status_code == 200 and "</html>" not in cut.text and 'id="constituents"' in cut.text
    sandbox.admin.add_fault("sp500_list", "server_error", count=1, status=503)
    assert _page(sandbox).status_code == 503
    assert _page(sandbox).status_code == 200
