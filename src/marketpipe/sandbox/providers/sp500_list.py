"""The S&P 500 constituents page (docs/providers.md §10): Wikipedia's "List of S&P 500 companies", served as HTML.

The first table is ``id="constituents"`` (class ``wikitable sortable``) with the current columns
(``Symbol | Security | GICS Sector | GICS Sub-Industry | Headquarters Location | Date added | CIK |
Founded``), CIK zero-padded; the second (``id="changes"``) lists membership changes. Membership follows
the simulated world, so a rebalance (or an admin change) adds and removes rows as time passes.
Default library User-Agents get Wikimedia's 403, as reported for the real site.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import Response

from marketpipe.sandbox.core import Call, ProviderSpec, gate
from marketpipe.sandbox.world import Company, MembershipChange

router = APIRouter()

ROBOT_POLICY_403 = (
    "Please set a user-agent and respect our robot policy https://w.wiki/4wJS. "
    "See also https://phabricator.wikimedia.org/T400119.\n"
)
#: User-Agent prefixes of HTTP libraries' defaults, refused by Wikimedia.
DEFAULT_AGENTS = (
    "python-requests/",
    "python-urllib/",
    "python-httpx/",
    "aiohttp/",
    "go-http-client/",
    "java/",
)

PROVIDER = ProviderSpec(
    name="sp500_list",
    prefix="/wikipedia/wiki/List_of_S%26P_500_companies",
    router=router,
    requires_key=False,
    description="Wikipedia S&P 500 list",
)

_EXCHANGE_URL = {
    "NASDAQ": "https://www.nasdaq.com/market-activity/stocks/{}",
    "NYSE": "https://www.nyse.com/quote/XNYS:{}",
}


def _link(title: str) -> str:
    return f'<a href="/wiki/{escape(title.replace(" ", "_"))}" title="{escape(title)}">{escape(title)}</a>'


def _row(call: Call, company: Company) -> str:
    symbol_url = _EXCHANGE_URL[call.world.exchange(company.symbol)].format(company.symbol)
    city = company.headquarters
    cells = [
        f'<td><a rel="nofollow" class="external text" href="{escape(symbol_url)}">{escape(company.symbol)}</a></td>',
        f"<td>{_link(company.name)}</td>",
        f"<td>{escape(company.sector)}</td>",
        f"<td>{escape(company.sub_industry)}</td>",
        f"<td>{_link(city) if city else ''}</td>",
        f"<td>{escape(company.date_added)}</td>",
        f"<td>{company.cik.zfill(10) if company.cik else ''}</td>",
        f"<td>{escape(company.founded)}</td>",
    ]
    return "<tr>\n" + "\n".join(cells) + "\n</tr>"


def _changes_table(changes: list[MembershipChange]) -> str:
    by_day: dict[str, dict[str, Company]] = {}
    for change in changes:
        by_day.setdefault(change.day.isoformat(), {})[change.action] = change.company
    rows = []
    for day in sorted(by_day, reverse=True):
        added, removed = by_day[day].get("added"), by_day[day].get("removed")
        when = datetime.fromisoformat(day).strftime("%B %-d, %Y")
        rows.append(
            "<tr>"
            f"<td>{when}</td>"
            f"<td>{escape(added.symbol) if added else ''}</td><td>{_link(added.name) if added else ''}</td>"
            f"<td>{escape(removed.symbol) if removed else ''}</td><td>{_link(removed.name) if removed else ''}</td>"
            "<td>S&amp;P 500 constituent change.</td></tr>"
        )
    return (
        '<table class="wikitable sortable" id="changes">\n<tbody>\n'
        '<tr><th rowspan="2">Effective Date</th><th colspan="2">Added</th><th colspan="2">Removed</th>'
        '<th rowspan="2">Reason</th></tr>\n'
        "<tr><th>Ticker</th><th>Security</th><th>Ticker</th><th>Security</th></tr>\n"
        + "\n".join(rows)
        + "\n</tbody></table>"
    )


def render_page(call: Call) -> str:
    members = call.world.constituents(call.now.date())
    header = (
        "<tr>\n<th>Symbol</th>\n<th>Security</th>\n<th>GICS Sector</th>\n<th>GICS Sub-Industry</th>\n"
        "<th>Headquarters Location</th>\n<th>Date added</th>\n<th>CIK</th>\n<th>Founded</th>\n</tr>"
    )
    body = "\n".join(_row(call, c) for c in members)
    edited = datetime.fromtimestamp(call.ts, UTC).strftime("%-d %B %Y, at %H:%M")
    return (
        '<!DOCTYPE html>\n<html class="client-nojs" lang="en" dir="ltr">\n<head>\n<meta charset="UTF-8">\n'
        "<title>List of S&amp;P 500 companies - Wikipedia</title>\n</head>\n<body>\n"
        '<h1 id="firstHeading" class="firstHeading mw-first-heading">'
        '<span class="mw-page-title-main">List of S&amp;P 500 companies</span></h1>\n'
        '<div id="mw-content-text" class="mw-body-content"><div class="mw-content-ltr mw-parser-output" lang="en">\n'
        "<p>The <b>S&amp;P 500</b> is a stock market index maintained by S&amp;P Dow Jones Indices. "
        f"It comprises {len(members)} common stocks issued by 500 large-cap companies.</p>\n"
        '<h2 id="S&amp;P_500_component_stocks">S&amp;P 500 component stocks</h2>\n'
        '<table class="wikitable sortable sticky-header" id="constituents">\n<tbody>'
        f"{header}\n{body}\n</tbody></table>\n"
        '<h2 id="Selected_changes_to_the_list_of_S&amp;P_500_components">'
        "Selected changes to the list of S&amp;P 500 components</h2>\n"
        f"{_changes_table(call.world.membership_changes(call.now.date()))}\n"
        f"</div></div>\n<div id='footer-info-lastmod'>This page was last edited on {edited} (UTC).</div>\n"
        "</body>\n</html>\n"
    )


@router.get("")
async def constituents_page(request: Request) -> Response:
    """The article page; refuses default library User-Agents like Wikimedia does."""
    call = await gate(request, "sp500_list", endpoint="/wiki", key=None)
    if call.reply is not None:
        return call.reply
    agent = request.headers.get("user-agent", "").lower()
    if not agent or agent.startswith(DEFAULT_AGENTS):
        return call.text(ROBOT_POLICY_403, "text/plain; charset=utf-8", status=403)
    return call.text(render_page(call), "text/html; charset=UTF-8")
