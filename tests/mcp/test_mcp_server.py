"""``marketpipe mcp`` answered through the SDK's own client, over stdio and streamable HTTP, against
real PostgreSQL (filled from the sandbox) and Redis."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import orjson
import psycopg
import pytest
import redis
from mcp.client.stdio import StdioServerParameters

from marketpipe.serve.settings import READER_ROLE
from mcp import Client
from plugins.query_data import QueryDb


def reader_dsn(dsn: str) -> str:
    return psycopg.conninfo.make_conninfo(dsn, user=READER_ROLE, password="")


SRC = str(Path(__file__).resolve().parents[2] / "src")
TOOLS = {
    "quote", "candles", "ticker_news", "fundamentals", "earnings", "macro_series", "social_mentions",
    "crypto_premium",
}  # fmt: skip


def _env(query_db: QueryDb, redis_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""),
        "MARKETPIPE_DATABASE_URL": query_db.dsn,
        # What a deployment sets: the assistant reads through the API's read-only role.
        "MARKETPIPE_API_DATABASE_URL": reader_dsn(query_db.dsn),
        "MARKETPIPE_REDIS_URL": redis_url,
        "MARKETPIPE_DATA_DIR": str(tmp_path),
    }


async def _exercise(client: Client) -> dict[str, Any]:
    """Call every tool once; return the structured results by tool name."""
    listed = await client.list_tools()
    tools = {t.name: t for t in listed.tools}
    assert set(tools) >= TOOLS
    for name in TOOLS:
        assert tools[name].input_schema["type"] == "object" and tools[name].output_schema, name
    calls = {
        "quote": {"symbol": "AAPL"},
        "candles": {"symbol": "AAPL", "interval": "5m", "limit": 10},
        "ticker_news": {"symbol": "AAPL", "limit": 5},
        "fundamentals": {"symbol": "AAPL", "periods": 2},
        "earnings": {"symbol": "AAPL"},
        "macro_series": {"series": "cpi", "limit": 6},
        "social_mentions": {"ticker": "BTC", "limit": 3},
        "crypto_premium": {"symbol": "BTC"},
    }
    out = {}
    for name, args in calls.items():
        result = await client.call_tool(name, args)
        assert not result.is_error, (name, result.content)
        out[name] = result.structured_content
    refused = await client.call_tool("ticker_news", {"symbol": "AAPL", "limit": 500})
    assert refused.is_error  # the bound is part of the schema
    unknown = await client.call_tool("earnings", {"symbol": "ZZZZ"})
    assert unknown.is_error and "no earnings for ZZZZ" in str(unknown.content[0])
    return out


def _check(out: dict[str, Any]) -> None:
    assert out["quote"]["price"] == 190.5
    assert len(out["candles"]["candles"]) == 5 and out["candles"]["gaps"][0]["missing"] == 3
    assert len(out["ticker_news"]["items"]) == 5 and all(i["sentiment"] for i in out["ticker_news"]["items"])
    assert out["fundamentals"]["overview"]["symbol"] == "AAPL"
    assert len(out["fundamentals"]["income"]["periods"]) == 2
    assert out["earnings"]["history"]
    assert len(out["macro_series"]["points"]) == 6 and out["macro_series"]["unit"]
    assert out["social_mentions"]["items"]
    assert out["crypto_premium"]["symbol"] == "BTC" and "stale" in out["crypto_premium"]


@pytest.fixture
def live_quote(redis_client: redis.Redis) -> None:
    redis_client.hset("sp500_realtime_data", "AAPL", orjson.dumps({"symbol": "AAPL", "price": 190.5}))


def test_tools_answer_over_stdio(query_db: QueryDb, redis_url: str, tmp_path: Path, live_quote: None) -> None:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "marketpipe", "mcp"], env=_env(query_db, redis_url, tmp_path)
    )

    async def main() -> dict[str, Any]:
        async with Client(params, read_timeout_seconds=60) as client:
            return await _exercise(client)

    _check(anyio.run(main))


@pytest.fixture
def http_server(query_db: QueryDb, redis_url: str, tmp_path: Path) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(tmp_path / "mcp-http.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "marketpipe", "mcp", "--transport", "http", "--port", str(port)],
        env=_env(query_db, redis_url, tmp_path),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, (tmp_path / "mcp-http.log").read_text()
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.2)
    else:
        pytest.fail("marketpipe mcp --transport http did not listen within 60 s")
    yield f"http://127.0.0.1:{port}/mcp"
    process.terminate()
    process.wait(timeout=30)
    log.close()


def test_tools_answer_over_streamable_http(http_server: str, live_quote: None, query_db: QueryDb) -> None:
    async def main() -> dict[str, Any]:
        async with Client(http_server, read_timeout_seconds=60) as client:
            return await _exercise(client)

    _check(anyio.run(main))
    # Every connection the server holds to the database is the read-only role's.
    with psycopg.connect(query_db.dsn) as conn:
        users = conn.execute(
            "SELECT DISTINCT usename FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    assert users == [(READER_ROLE,)]
