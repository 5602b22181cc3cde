"""`marketpipe demo` — what `make demo` runs — works end to end on embedded services."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from marketpipe.runtime.redis import free_port


def test_demo_collects_streams_reports_and_stops_everything(service_tmp_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MARKETPIPE_")}
    env["MARKETPIPE_SANDBOX_PORT"] = str(free_port())
    data_dir = service_tmp_dir / "demo"
    result = subprocess.run(
        [sys.executable, "-m", "marketpipe", "demo", "--seconds", "12", "--data-dir", str(data_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]

    def rows(table: str) -> int:
        match = re.search(rf"│ {table}\s+│\s+([\d,]+) │", output)
        assert match, f"{table} missing from the report"
        return int(match.group(1).replace(",", ""))

    # Collection from the sandbox filled every family of tables …
    for table in ("sp500_companies", "company_overview", "balance_sheet", "earnings_calendar", "cpi",
                  "treasury_yield", "market_news_sentiment", "company_news", "coingecko_id_mapping",
                  "market_code_bithumb", "x_posts", "truth_social_posts"):  # fmt: skip
        assert rows(table) > 0, table
    assert rows("sp500_companies") == 503
    # … and the stream landed trades and tickers in PostgreSQL and Redis.
    assert rows("sp500_websocket_trades") > 100
    assert rows("bithumb_ticker") > 100
    assert rows("etf_realtime_prices") > 0 and rows("etf_basic_info") > 20
    live = re.search(
        r"sp500_realtime_data=(\d+) symbols, etf_realtime_data=(\d+) ETFs, crypto_realtime_data=(\d+) markets",
        output,
    )
    assert live and int(live.group(1)) > 300 and int(live.group(2)) >= 20 and int(live.group(3)) > 300
    # Every Finnhub producer has keys of its own: the sandbox never dropped a connection for sharing one.
    logs = sorted((data_dir / "run").glob("demo-finnhub-*.log"))
    assert len(logs) == 3 and not any("Too many connections" in log.read_text() for log in logs)
    # Everything it started is stopped again.
    assert "services stopped" in output
    assert not any((data_dir / "run").glob("*.json"))


def test_the_demo_names_a_configured_postgres_instead_of_calling_it_embedded(
    pg_dsn: str, tmp_path: Path
) -> None:
    from pydantic import SecretStr

    from marketpipe.config import Settings
    from marketpipe.demo import service_label
    from marketpipe.runtime import PostgresService

    external = pg_dsn.replace("postgresql://postgres@", "postgresql://postgres:s3cret-pw@")
    configured = Settings(_env_file=None, data_dir=tmp_path, database_url=SecretStr(external))  # type: ignore[call-arg]
    service = PostgresService(configured)
    label = service_label(service, service.start())
    assert label.startswith("external ") and "s3cret-pw" not in label and "postgres:***@" in label
    embedded = PostgresService(Settings(_env_file=None, data_dir=tmp_path))  # type: ignore[call-arg]
    assert service_label(embedded, "postgresql://postgres@/x?host=/tmp/s") == "embedded"
