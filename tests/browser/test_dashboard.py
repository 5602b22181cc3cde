"""The dashboard in headless Chromium (Debian's ``chromium``, driven by Playwright; no browser
download) against the API on a real socket, after a short demo-like fill (collection from the sandbox,
streamed prices in Redis, candles in PostgreSQL).

It checks that the page loads with no console errors — a Content-Security-Policy violation is one —
that the live table follows pushes, that selecting a symbol shows its candles, fundamentals and news,
and that provider text is rendered as text. A screenshot is saved to ``build/test-artefacts/``.
"""

from __future__ import annotations

import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis
import uvicorn
from playwright.sync_api import ConsoleMessage, Page, expect, sync_playwright

from marketpipe.serve import create_app
from plugins.query_data import QueryDb

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self' ws: wss:"
)
ARTEFACTS = Path(__file__).resolve().parents[2] / "build" / "test-artefacts"
XSS = "<img src=x onerror=alert(1)>"
T0 = int(time.time() * 1000)  # trades "just now"


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("Debian's chromium is required (apt-get install chromium; `make test` installs it)")
    return path


def with_csp(app: Any) -> Any:
    """The app behind the dashboard's CSP (added only when the app does not send one itself)."""

    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        async def send_with_csp(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(k.lower() == b"content-security-policy" for k, _ in headers):
                    headers.append((b"content-security-policy", CSP.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await app(scope, receive, send_with_csp if scope["type"] == "http" else send)

    return asgi


@pytest.fixture
def server(query_db: QueryDb, redis_url: str, redis_client: redis.Redis) -> Iterator[str]:
    prices = {"AAPL": 190.25, "ABBV": 170.5, "MSFT": 410.0}
    redis_client.hset(
        "sp500_realtime_data",
        mapping={
            s: orjson.dumps({"symbol": s, "price": p, "volume": 10, "timestamp": T0})
            for s, p in prices.items()
        },
    )
    redis_client.hset(
        "crypto_realtime_data",
        mapping={
            "KRW-BTC": orjson.dumps({"symbol": "KRW-BTC", "price": 150_000_000, "change_rate": 0.01}),
            "KRW-XSS": orjson.dumps({"symbol": XSS, "price": 1, "change_rate": 0}),
        },
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(
        with_csp(create_app(query_db.dsn, redis_url)), host="127.0.0.1", port=port, log_level="warning"
    )
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the API did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    uv.should_exit = True
    thread.join(timeout=15)


def test_dashboard_live_table_symbol_panels_and_no_console_errors(
    server: str, redis_client: redis.Redis
) -> None:
    errors: list[str] = []
    dialogs: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        errors.append(f"{message.text} ({(message.location or {}).get('url', '')})")

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"], headless=True)
        try:
            page: Page = browser.new_page(viewport={"width": 1500, "height": 1300})
            page.on("console", on_console)
            page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            frames: list[str] = []
            page.on("websocket", lambda ws: ws.on("framereceived", lambda f: frames.append(str(f)[:120])))
            response = page.goto(server + "/")
            assert (
                response is not None and "default-src 'self'" in response.headers["content-security-policy"]
            )

            table = page.locator("#sp500 tr")
            expect(table).to_have_count(3, timeout=15_000)
            aapl = page.locator('#sp500 tr[data-s="AAPL"] td').nth(1)
            expect(aapl).to_have_text("190.25")

            # A push: the sink updates the hash and signals; the table follows without a reload.
            redis_client.hset(
                "sp500_realtime_data",
                "AAPL",
                orjson.dumps({"symbol": "AAPL", "price": 195.5, "volume": 11, "timestamp": T0 + 1000}),
            )
            # The sink signals after every batch it writes; do the same until the push shows.
            deadline = time.monotonic() + 15
            while aapl.text_content() != "195.50":
                assert time.monotonic() < deadline, f"no push reached the table; frames {frames}"
                redis_client.publish("sp500_updates", "batch")
                page.wait_for_timeout(300)

            # A symbol gone from the feed: the delta lists it in `removed` and its row leaves the table.
            redis_client.hdel("sp500_realtime_data", "MSFT")
            deadline = time.monotonic() + 15
            while page.locator('#sp500 tr[data-s="MSFT"]').count():
                assert time.monotonic() < deadline, f"the removed symbol stayed; frames {frames}"
                redis_client.publish("sp500_updates", "batch")
                page.wait_for_timeout(300)
            expect(table).to_have_count(2)
            assert any("removed" in f for f in frames)

            page.locator('#sp500 tr[data-s="AAPL"]').click()
            expect(page.locator("#chart")).to_have_attribute("data-candles", "5", timeout=10_000)
            expect(page.locator("#news li a").first).to_be_visible(timeout=10_000)
            assert page.locator("#news li").count() >= 5
            expect(page.locator("#fundamentals dd").first).to_be_visible()
            expect(page.locator("#earnings tr").first).to_be_visible()
            expect(page.locator('#macro .panel[data-series="cpi"] .value')).to_be_visible(timeout=10_000)
            # Collection freshness from /api/v1/freshness: one row per dataset with its state.
            first = page.locator("#freshness tr").first
            expect(first).to_have_attribute("data-state", re.compile(r"^(fresh|late|stale|never)$"))
            assert page.locator("#freshness tr").count() >= 10

            # Provider text is text: the hostile market name shows literally and creates no element.
            expect(page.locator("#crypto td", has_text=XSS)).to_have_count(1)
            assert page.locator("#crypto img").count() == 0

            page.wait_for_timeout(500)  # let late console messages arrive
            ARTEFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTEFACTS / "dashboard.png"), full_page=True)
        finally:
            browser.close()
    assert errors == []
    assert dialogs == []
