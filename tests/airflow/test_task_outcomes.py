"""How a RunResult becomes an Airflow task outcome, and how settings come from Airflow (pure logic)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException
from psycopg.conninfo import conninfo_to_dict

from marketpipe.orchestration.airflow_tasks import (
    RETRY_POLICY,
    TransientRunError,
    dsn_from_connection_fields,
    raise_for_outcome,
    run_summary,
    split_keys,
)
from marketpipe.orchestration.local import connection_json


def _result(**overrides: Any) -> SimpleNamespace:
    fields: dict[str, Any] = {
        "dataset": "cpi",
        "run_id": 7,
        "status": "ok",
        "calls": 1,
        "rows_inserted": 24,
        "rows_updated": 0,
        "error_class": None,
        "message": "",
        "resume_at": None,
        "items_done": 1,
        "items_pending": 0,
    }
    fields.update(overrides)
    return SimpleNamespace(**fields)


def test_ok_run_succeeds_with_a_json_summary() -> None:
    summary = run_summary(_result())
    raise_for_outcome(summary)
    assert json.loads(json.dumps(summary))["rows_inserted"] == 24


def test_partial_run_that_did_work_succeeds_and_says_when_it_resumes() -> None:
    resume = datetime(2025, 6, 3, tzinfo=UTC)
    summary = run_summary(_result(status="partial", items_done=3, items_pending=17, resume_at=resume))
    raise_for_outcome(summary)  # success: a retry would only spend more quota
    assert summary["resume_at"] == "2025-06-03T00:00:00+00:00"


def test_partial_run_that_did_nothing_is_skipped_not_failed() -> None:
    summary = run_summary(
        # One call was made and refused for quota: still nothing done.
        _result(status="partial", calls=1, rows_inserted=0, items_done=0, items_pending=20, resume_at=None)
    )
    with pytest.raises(AirflowSkipException):
        raise_for_outcome(summary)


def test_transient_failure_is_retried_and_configuration_error_is_not() -> None:
    transient = run_summary(_result(status="failed", error_class="TransientError", message="503"))
    with pytest.raises(TransientRunError) as caught:
        raise_for_outcome(transient)
    assert RETRY_POLICY.evaluate(caught.value, 1, 4).action.value == "retry"

    config = run_summary(_result(status="failed", error_class="ConfigurationError", message="no keys"))
    with pytest.raises(AirflowFailException):
        raise_for_outcome(config)
    # Anything unexpected fails at once too: retries must not spend quota on a bug.
    assert RETRY_POLICY.evaluate(ValueError("bug"), 1, 4).action.value == "fail"


def test_summary_message_is_bounded() -> None:
    assert len(run_summary(_result(message="x" * 10_000))["message"]) == 500


def test_split_keys_accepts_commas_and_newlines() -> None:
    assert split_keys(" k1, k2\nk3,, ") == ["k1", "k2", "k3"]
    assert split_keys(None) == []


@pytest.mark.parametrize(
    "dsn",
    [
        "postgresql://postgres:@/mp_test_1?host=/tmp/pytest-of-root/svc0/pg",
        "postgresql://app:s%40cret@db.example:5433/market?sslmode=require",
    ],
)
def test_database_url_survives_the_trip_through_an_airflow_connection(dsn: str) -> None:
    conn = json.loads(connection_json(dsn))
    assert conn["conn_type"] == "postgres"
    back = dsn_from_connection_fields(
        host=conn.get("host"),
        port=conn.get("port"),
        login=conn.get("login"),
        password=conn.get("password"),
        schema=conn.get("schema"),
        extra=conn.get("extra"),
    )
    original = {k: str(v) for k, v in conninfo_to_dict(dsn).items() if v}
    assert {k: str(v) for k, v in conninfo_to_dict(back).items() if v} == original


def test_connection_extras_that_are_not_libpq_parameters_are_dropped() -> None:
    dsn = dsn_from_connection_fields(
        host="db",
        port=5432,
        login="u",
        password=None,
        schema="d",
        extra={"sslmode": "verify-full", "cursor": "x"},
    )
    assert conninfo_to_dict(dsn) == {
        "host": "db",
        "port": "5432",
        "user": "u",
        "dbname": "d",
        "sslmode": "verify-full",
    }
