"""The runner against the sandbox and real PostgreSQL: fault modes, statuses, cursors, concurrency,
secrets in logs."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest

from marketpipe.engine.cursor import ItemCursor
from marketpipe.engine.registry import UnknownDatasetError
from marketpipe.engine.runner import run_dataset
from marketpipe.http.types import per_second
from plugins.engine import count, engine_settings, run_options, seed_universe

# fault kind, params → (error class, table stays empty)
FAULTS = [
    ("server_error", {"status": 503}, "TransientError"),
    ("html_error", {"status": 502}, "TransientError"),
    ("slow", {"delay_s": 2.0}, "TransientError"),
    ("truncated_json", {}, "MalformedResponse"),
    ("empty_body", {}, "MalformedResponse"),
    ("revoked_key", {}, "InvalidKeyError"),
]


@pytest.mark.parametrize(("kind", "params", "error_class"), FAULTS, ids=[f[0] for f in FAULTS])
def test_every_fault_mode_is_typed_leaves_the_item_due_and_the_table_empty(
    settings, collect, db, sandbox, kind, params, error_class
):
    fred_only = engine_settings(settings, sandbox.port, alpha_vantage_keys=[])  # no fallback provider
    sandbox.admin.add_fault("fred", kind, **params)
    result = collect("cpi", settings=fred_only, timeout_s=0.5)
    assert result.status == "failed"
    assert result.error_class == error_class, result.message
    assert count(db, "SELECT count(*) FROM cpi") == 0
    state = ItemCursor(db, "cpi").state("all")
    if error_class == "InvalidKeyError":
        assert state is None  # the key, not the item, was at fault: nothing recorded against it
    else:
        assert state is not None and state.failed and state.last_error_class == error_class
    row = db.execute(
        "SELECT status, error_class FROM collect_runs WHERE run_id = %s", (result.run_id,)
    ).fetchone()
    assert row == ("failed", error_class)
    db.commit()

    sandbox.admin.clear_faults()
    healed = collect("cpi", settings=fred_only)
    assert healed.status == "ok" and healed.rows_inserted > 0


def test_a_revoked_key_moves_the_dataset_to_the_next_provider(collect, db, sandbox):
    sandbox.admin.add_fault("fred", "revoked_key")
    result = collect("cpi")
    assert result.status == "ok" and result.provider == "alpha_vantage"
    assert count(db, "SELECT count(*) FROM cpi") > 0


def test_transient_failures_are_retried_with_backoff(collect, db, sandbox):
    sandbox.admin.add_fault("fred", "server_error", count=2, status=500)
    result = collect("cpi")
    assert result.status == "ok", result.message
    assert result.calls == 3  # two 500s, then the reply


def test_a_throttle_reply_waits_exactly_and_retries(collect, db, sandbox):
    seed_universe(db, sorted(sandbox.admin.constituents())[:5])
    sandbox.admin.add_fault("alpha_vantage", "rate_limit", "OVERVIEW", count=1)
    result = collect("company_overview")
    assert result.status == "ok", result.message
    assert result.items_done == 5 and result.calls == 6


def test_a_malformed_item_fails_alone_and_is_first_in_line_next_run(collect, db, sandbox):
    symbols = sorted(sandbox.admin.constituents())[:6]
    seed_universe(db, symbols)
    sandbox.admin.add_fault("alpha_vantage", "schema_drift", "OVERVIEW", count=1, drop=["Symbol", "Name"])
    first = collect("company_overview", max_items=3)
    assert first.status == "partial" and first.error_class == "MalformedResponse"
    assert first.items_done == 2 and first.items_failed == 1
    assert count(db, "SELECT count(*) FROM company_overview WHERE symbol = %s", symbols[0]) == 0

    second = collect("company_overview", max_items=2)
    assert second.status == "ok"
    done = [
        row[0]
        for row in db.execute(
            "SELECT item FROM collect_cursors WHERE last_run_id = %s ORDER BY item", (second.run_id,)
        ).fetchall()
    ]
    assert done == [symbols[0], symbols[3]]


def test_no_keys_is_a_configuration_failure(settings, collect, sandbox):
    bare = engine_settings(settings, sandbox.port, alpha_vantage_keys=[], fred_keys=[])
    result = collect("cpi", settings=bare)
    assert result.status == "failed" and result.error_class == "ConfigurationError"
    assert "MARKETPIPE_FRED_KEYS" in result.message
    assert sandbox.admin.calls() == 0


def test_a_run_with_an_empty_universe_fails_with_a_reason(collect, sandbox):
    result = collect("company_overview")
    assert result.status == "failed" and result.error_class == "ConfigurationError"
    assert "sp500_companies" in result.message


def test_unknown_dataset_is_a_typed_error(collect_settings):
    with pytest.raises(UnknownDatasetError):
        run_dataset("no_such_dataset", settings=collect_settings)


def test_macro_falls_back_to_alpha_vantage_without_fred_keys(settings, collect, db, sandbox):
    no_fred = engine_settings(settings, sandbox.port, fred_keys=[])
    result = collect("federal_funds_rate", settings=no_fred)
    assert result.status == "ok", result.message
    assert result.provider == "alpha_vantage" and result.calls == 1
    assert count(db, "SELECT count(*) FROM federal_funds_rate WHERE rate IS NOT NULL") > 12


_RUNNER = """
import json, sys
from pydantic import SecretStr
from marketpipe.config import Settings
from marketpipe.engine.runner import RunOptions, run_dataset
from marketpipe.http.types import per_day, per_second
dsn, port = sys.argv[1], int(sys.argv[2])
settings = Settings(_env_file=None, database_url=dsn, sandbox=True, sandbox_port=port,
                    alpha_vantage_keys=[SecretStr("sandbox-av-1")])
options = RunOptions(universe_limit=30, max_wait_s=2.0,
                     quota_windows={"alpha_vantage": (per_day(10), per_second(5))})
result = run_dataset("company_overview", settings=settings, options=options)
print(json.dumps({"calls": result.calls, "status": result.status, "done": result.items_done}))
"""


def test_two_processes_running_one_dataset_share_the_quota_and_the_items(pg_dsn, db, sandbox):
    symbols = sorted(sandbox.admin.constituents())[:30]
    seed_universe(db, symbols)
    sandbox.admin.set_quotas(False)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _RUNNER, pg_dsn, str(sandbox.port)], stdout=subprocess.PIPE, env=env
        )
        for _ in range(2)
    ]
    results = [json.loads(p.communicate(timeout=120)[0].decode().strip().splitlines()[-1]) for p in procs]
    assert sum(r["calls"] for r in results) == 10
    assert sandbox.admin.calls("alpha_vantage") == 10
    assert sum(r["done"] for r in results) == 10
    assert {r["status"] for r in results} == {"partial"}
    # No symbol was fetched twice.
    assert count(db, "SELECT count(*) FROM company_overview") == 10
    assert count(db, "SELECT count(DISTINCT symbol) FROM company_overview") == 10


def test_no_key_value_appears_in_any_log_line_or_table(settings, db, sandbox, engine_clock, caplog):
    secret_av, secret_fred = "av-secret-7f3a9c2b", "fredsecretkey0000000000000000042"
    keyed = engine_settings(settings, sandbox.port, alpha_vantage_keys=[secret_av], fred_keys=[secret_fred])
    seed_universe(db, sorted(sandbox.admin.constituents())[:3])
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="httpx")  # the CLI quiets httpx; this test wants its URLs
    sandbox.admin.add_fault("fred", "server_error", count=1)
    options = run_options(engine_clock)
    for name in ("cpi", "company_overview", "ipo_calendar"):
        assert run_dataset(name, settings=keyed, options=options).status == "ok"
    sandbox.admin.set_keys("alpha_vantage", revoked=[secret_av])
    assert run_dataset("top_gainers", settings=keyed, options=options).error_class == "InvalidKeyError"
    messages = [record.getMessage() for record in caplog.records]
    assert any("apikey=***" in m or "api_key=***" in m for m in messages)  # httpx did log the URLs
    for message in messages:
        assert secret_av not in message and secret_fred not in message
    dump = " ".join(
        str(row)
        for table in ("collect_runs", "collect_cursors", "quota_ledger", "quota_key_state")
        for row in db.execute(f"SELECT * FROM {table}").fetchall()
    )
    assert secret_av not in dump and secret_fred not in dump


def test_a_short_window_is_waited_for_and_a_long_one_stops_the_run(collect, sandbox):
    import time

    one_per_second = {"fred": (per_second(1),)}
    started = time.monotonic()
    waited = collect("treasury_yield", quota_windows=one_per_second)
    assert waited.status == "ok" and waited.calls == 3
    assert time.monotonic() - started >= 1.0  # three calls cross at least one second boundary

    no_waiting = collect("treasury_yield", quota_windows=one_per_second, max_wait_s=0.0, force=True)
    assert no_waiting.status == "partial" and no_waiting.error_class == "QuotaExhausted"
    assert no_waiting.resume_at is not None and no_waiting.calls >= 1 and no_waiting.items_pending >= 1


def test_an_account_can_be_served_by_a_chosen_key(pg_dsn, sandbox, engine_clock):
    import psycopg
    from pydantic import SecretStr

    from marketpipe.engine.quota import QuotaLedger
    from marketpipe.engine.session import ProviderSession
    from marketpipe.http.client import HttpClient
    from marketpipe.providers import fred

    keys = ["sandboxfredkey000000000000000001", "sandboxfredkey000000000000000002"]
    with psycopg.connect(pg_dsn, autocommit=True) as conn, HttpClient() as http:
        session = ProviderSession(
            fred.PROVIDER,
            [SecretStr(k) for k in keys],
            base_url=sandbox.base_url("fred"),
            http=http,
            ledger=QuotaLedger(conn),
            clock=engine_clock,
        )
        reply = session.call(fred.observations_request("FEDFUNDS"), key_index=2)
    assert fred.parse_observations(reply.json())
    assert sandbox.admin.calls("fred", key=keys[1]) == 1
    assert sandbox.admin.calls("fred", key=keys[0]) == 0
