"""Schema drift and rejected rows are accounted per run in the run ledger and shown by
``marketpipe runs``: a renamed field that empties a reply fails that item as SchemaDrift (it stays
due, the run warns) instead of reporting "ok, 0 rows"; a new field is recorded, the rows stored."""

from __future__ import annotations

import os
import subprocess
import sys

from plugins.engine import count, engine_settings, seed_universe

FINNHUB_KEY = "sandbox-finnhub-1"
SYMBOLS = ["AAPL", "MSFT", "NVDA"]


def _ledger(db, run_id: int):
    row = db.execute(
        """SELECT status, rows_rejected, rejected_reasons, drift_missing, drift_new, warnings, error_class
             FROM collect_runs WHERE run_id = %s""",
        (run_id,),
    ).fetchone()
    db.commit()
    return row


def test_a_rename_that_empties_a_reply_is_schema_drift_never_ok_with_zero_rows(
    settings, collect, db, sandbox, pg_dsn, tmp_path
):
    seed_universe(db, SYMBOLS)
    cfg = engine_settings(settings, sandbox.port, finnhub_keys=[FINNHUB_KEY])
    baseline = collect("company_news", settings=cfg, universe_limit=3)
    assert baseline.status == "ok" and baseline.rows_inserted > 0, baseline.message
    assert not baseline.drift_missing and not baseline.drift_new

    # Finnhub renames `url` → `link` in the first symbol's reply: every article loses its url.
    sandbox.admin.add_fault("finnhub", "schema_drift", count=1, rename={"url": "link"})
    drifted = collect("company_news", settings=cfg, universe_limit=3, force=True)
    assert drifted.status == "partial" and drifted.errors == {"SchemaDrift": 1}, drifted.message
    assert drifted.items_done == 2
    status, rejected, reasons, missing, new, warnings, error_class = _ledger(db, drifted.run_id)
    assert (status, error_class) == ("partial", "SchemaDrift")
    assert missing == ["url"] and new == ["link"]
    assert rejected >= 1 and reasons == {"news item without url": rejected}
    assert warnings and "gave 0 rows" in warnings[0]
    failed = db.execute(
        "SELECT count(*) FROM collect_cursors WHERE dataset = 'company_news' AND last_error_class = 'SchemaDrift'"
    ).fetchone()[0]
    db.commit()
    assert failed == 1  # that symbol stays due

    # A field that appears (nothing lost): recorded as drift, the rows stored, the run ok.
    sandbox.admin.add_fault("finnhub", "schema_drift", extra={"sentimentScore": 0.5})
    widened = collect("company_news", settings=cfg, universe_limit=3, force=True)
    sandbox.admin.clear_faults()
    assert widened.status == "ok" and widened.drift_new == ["sentimentScore"] and not widened.drift_missing
    assert (
        count(
            db,
            "SELECT count(*) FROM collect_cursors WHERE dataset='company_news' AND last_error_at > last_done_at",
        )
        == 0
    )

    env = {k: v for k, v in os.environ.items() if not k.startswith("MARKETPIPE_")}
    env.update(PYTHONPATH=os.pathsep.join(sys.path), COLUMNS="220", MARKETPIPE_DATABASE_URL=pg_dsn)
    runs = subprocess.run(
        [sys.executable, "-m", "marketpipe.engine.cli", "runs", "company_news", "-n", "5"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert runs.returncode == 0, runs.stderr
    assert "!rows" in runs.stdout and "drift" in runs.stdout
    drift_line = next(line for line in runs.stdout.splitlines() if f" {drifted.run_id} " in line)
    assert "-1 +1" in drift_line and "SchemaDrift" in drift_line
    wide_line = next(line for line in runs.stdout.splitlines() if f" {widened.run_id} " in line)
    assert "+1" in wide_line
