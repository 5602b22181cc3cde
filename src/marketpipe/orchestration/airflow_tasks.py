"""The body of every marketpipe Airflow task: run one dataset through the engine, map the outcome.

The only module of ``marketpipe`` that imports Airflow. DAG files call :func:`run_dataset_task`; the
engine (the same code behind ``marketpipe collect``) does the work.

Outcome → task state (documented in docs/airflow.md):

* ``ok`` → success.
* ``partial`` (quotas exhausted, the run stopped cleanly and says when it can resume) → success;
  if nothing at all was done (no item finished, no row written) the task is *skipped* instead, so
  the grid shows a run that found no budget. Never a failure: a retry would only burn more quota.
* ``failed`` with ``TransientError`` → :class:`TransientRunError`, retried with exponential backoff.
* any other ``failed`` (``ConfigurationError``, bad data, …) → ``AirflowFailException``: no retry.

Every outcome pushes a small summary of the :class:`RunResult` as the XCom ``run_result`` before the
task ends (also when it fails or skips), so it can be read in the UI or by downstream tasks.

Settings are resolved the Airflow way (:func:`settings_from_airflow`): the database from the
connection ``marketpipe_postgres`` (else ``MARKETPIPE_DATABASE_URL``, else ``postgres_default``),
provider keys from the Variable ``marketpipe_<provider>_keys`` or the Connection
``marketpipe_<provider>`` (password) or the environment (``MARKETPIPE_<PROVIDER>_KEYS``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import (
    Connection,
    ExceptionRetryPolicy,
    RetryAction,
    RetryRule,
    Variable,
    get_current_context,
)
from airflow.sdk.exceptions import AirflowFailException, AirflowNotFoundException, AirflowSkipException
from psycopg.conninfo import make_conninfo

if TYPE_CHECKING:
    from marketpipe.config import Settings

log = logging.getLogger(__name__)

#: Connection ids tried, in order, for the marketpipe database (the env URL sits between them).
DATABASE_CONN_ID = "marketpipe_postgres"
FALLBACK_DATABASE_CONN_ID = "postgres_default"

#: Connection extras that are libpq parameters (anything else in ``extra`` is Airflow's business).
_LIBPQ_EXTRAS = frozenset(
    {
        "sslmode",
        "sslrootcert",
        "sslcert",
        "sslkey",
        "sslpassword",
        "connect_timeout",
        "options",
        "application_name",
        "target_session_attrs",
        "keepalives",
        "keepalives_idle",
        "gssencmode",
        "host",
        "hostaddr",
    }
)

#: Longest ``message`` kept in the XCom summary (XComs live in the metadata database: keep them small).
_MAX_MESSAGE = 500


class TransientRunError(RuntimeError):
    """A whole dataset run failed for a reason that may pass (network, 5xx): Airflow retries it."""


#: Retry only what may pass by itself; everything else fails at once (a retry cannot fix a missing
#: key or a malformed reply, and would spend quota).
RETRY_POLICY = ExceptionRetryPolicy(
    rules=[
        RetryRule(exception=TransientRunError, action=RetryAction.RETRY, reason="transient run failure"),
        # Raised (not returned) by the engine only for a failure outside any item: still transient.
        RetryRule(
            exception="marketpipe.http.errors.TransientError",
            action=RetryAction.RETRY,
            reason="transient provider failure",
        ),
        RetryRule(
            exception="psycopg.OperationalError",
            action=RetryAction.RETRY,
            reason="database unreachable",
        ),
    ],
    default=RetryAction.FAIL,
)

#: Task retry settings (exponential backoff: 2 min, 4 min, 8 min, capped at 30 min).
RETRIES = 3
RETRY_DELAY = timedelta(minutes=2)
MAX_RETRY_DELAY = timedelta(minutes=30)


def task_defaults(retry_delay: timedelta | None = None, retries: int | None = None) -> dict[str, Any]:
    """Keyword arguments every marketpipe task gets (retries, backoff, retry policy, no return XCom)."""
    return {
        "retries": RETRIES if retries is None else retries,
        "retry_delay": RETRY_DELAY if retry_delay is None else retry_delay,
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": MAX_RETRY_DELAY,
        "retry_policy": RETRY_POLICY,
        # The summary goes out as the XCom ``run_result`` in every outcome; no duplicate return_value.
        "do_xcom_push": False,
    }


# -- settings from Airflow --------------------------------------------------------------------


def dsn_from_connection_fields(
    *,
    host: str | None,
    port: int | None,
    login: str | None,
    password: str | None,
    schema: str | None,
    extra: Mapping[str, Any] | None = None,
) -> str:
    """A libpq connection string from the fields of an Airflow Postgres connection.

    ``schema`` is the database name (Airflow's naming); ``host`` may be a Unix socket directory;
    libpq parameters in ``extra`` (``sslmode``, ``options``, …) are kept, the rest is dropped.
    """
    params: dict[str, Any] = {
        "host": host or None,
        "port": port or None,
        "user": login or None,
        "password": password or None,
        "dbname": schema or None,
    }
    for key, value in (extra or {}).items():
        if key in _LIBPQ_EXTRAS and value not in (None, ""):
            params[key] = value
    return make_conninfo("", **{k: v for k, v in params.items() if v is not None})


def _connection(conn_id: str) -> Any | None:
    try:
        return Connection.get(conn_id)
    except AirflowNotFoundException:
        return None


def _database_url_from_airflow(env: Mapping[str, str]) -> str | None:
    for source in (DATABASE_CONN_ID, "env", FALLBACK_DATABASE_CONN_ID):
        if source == "env":
            if env.get("MARKETPIPE_DATABASE_URL"):
                return None  # Settings reads it from the environment itself
            continue
        conn = _connection(source)
        if conn is not None:
            log.info("marketpipe database from Airflow connection %s", source)
            return dsn_from_connection_fields(
                host=conn.host,
                port=conn.port,
                login=conn.login,
                password=conn.password,
                schema=conn.schema,
                extra=conn.extra_dejson,
            )
    return None


def split_keys(value: str | None) -> list[str]:
    """Keys from a comma/newline separated string (blank entries dropped)."""
    if not value:
        return []
    return [part.strip() for part in value.replace("\n", ",").split(",") if part.strip()]


def _provider_keys_from_airflow(provider: str) -> list[str]:
    keys = split_keys(Variable.get(f"marketpipe_{provider}_keys", default=None))
    if not keys:
        conn = _connection(f"marketpipe_{provider}")
        if conn is not None:
            keys = split_keys(conn.password)
    return keys


def settings_from_airflow(providers: Sequence[str], env: Mapping[str, str] | None = None) -> Settings:
    """marketpipe Settings for a task: environment, overridden by Airflow connections and variables.

    Only the providers of the dataset are looked up (each lookup is a call to the Airflow API).
    Every key found is registered with Airflow's secret masker before anything can log it.
    """
    import os

    from airflow.sdk.log import mask_secret

    from marketpipe.config import Settings

    overrides: dict[str, Any] = {}
    database_url = _database_url_from_airflow(os.environ if env is None else env)
    if database_url:
        mask_secret(database_url)
        overrides["database_url"] = database_url
    for provider in providers:
        if f"{provider}_keys" not in Settings.model_fields:
            continue  # a provider without authentication
        keys = _provider_keys_from_airflow(provider)
        for key in keys:
            mask_secret(key)
        if keys:
            overrides[f"{provider}_keys"] = ",".join(keys)
    return Settings(**overrides)


# -- the task ---------------------------------------------------------------------------------


def run_summary(result: Any) -> dict[str, Any]:
    """A small, JSON-safe summary of a RunResult (the XCom ``run_result``)."""
    resume_at = result.resume_at
    return {
        "dataset": result.dataset,
        "run_id": result.run_id,
        "status": result.status,
        "calls": result.calls,
        "rows_inserted": result.rows_inserted,
        "rows_updated": result.rows_updated,
        "items_done": result.items_done,
        "items_pending": result.items_pending,
        # Not in the minimal contract; the engine's RunResult has them.
        "items_failed": getattr(result, "items_failed", 0),
        "provider": getattr(result, "provider", None),
        "error_class": result.error_class,
        "message": (result.message or "")[:_MAX_MESSAGE],
        "resume_at": resume_at.isoformat() if resume_at is not None else None,
    }


def nothing_done(summary: Mapping[str, Any]) -> bool:
    """True when a run finished no item and wrote no row (calls refused for quota do not count)."""
    return not (summary["items_done"] or summary["rows_inserted"] or summary["rows_updated"])


def raise_for_outcome(summary: Mapping[str, Any]) -> None:
    """Turn a run summary into the Airflow task outcome (see the module docstring)."""
    status = summary["status"]
    what = f"{summary['dataset']}: {summary['status']}"
    if status == "ok":
        return
    if status == "partial":
        if nothing_done(summary):
            raise AirflowSkipException(
                f"{what}, quota exhausted before any work; resumes at {summary['resume_at']}"
            )
        return
    detail = f"{what} ({summary['error_class']}): {summary['message']}"
    if summary["error_class"] == "TransientError":
        raise TransientRunError(detail)
    raise AirflowFailException(detail)


def _logical_date(context: Mapping[str, Any]) -> datetime | date | None:
    # Airflow 3 manual runs may have no logical date; the run's "run_after" stands in for it.
    logical = context.get("logical_date")
    if logical is None:
        logical = getattr(context.get("dag_run"), "run_after", None)
    return _plain(logical)


def _plain(value: Any) -> Any:
    """Airflow's pendulum instants as plain stdlib datetimes (see ``run_clock.plain_utc``)."""
    from marketpipe.orchestration.run_clock import plain_utc

    return plain_utc(value) if isinstance(value, datetime) else value


def task_instants(context: Mapping[str, Any]) -> dict[str, Any]:
    """The run's logical date and data interval from an Airflow context, as stdlib values."""
    return {
        "logical_date": _logical_date(context),
        "data_interval_start": _plain(context.get("data_interval_start")),
        "data_interval_end": _plain(context.get("data_interval_end")),
    }


def run_dataset_task(dataset: str) -> dict[str, Any]:
    """Run ``dataset`` for the current Airflow task; return the summary (also pushed as XCom)."""
    from marketpipe.engine.registry import get_dataset
    from marketpipe.engine.runner import RunOptions, run_dataset
    from marketpipe.http.errors import ConfigurationError
    from marketpipe.orchestration.run_clock import task_clock

    context = get_current_context()
    spec = get_dataset(dataset)
    settings = settings_from_airflow(spec.providers)
    try:  # the wall clock, or the run's own simulated day (MARKETPIPE_AIRFLOW_CLOCK=run, sandbox only)
        clock = task_clock(context, sandbox=settings.sandbox)
    except ConfigurationError as exc:
        raise AirflowFailException(str(exc)) from None
    result = run_dataset(
        dataset,
        settings=settings,
        options=RunOptions.from_env(clock=clock),
        **task_instants(context),
    )
    summary = run_summary(result)
    log.info(
        "%s: %s — %s calls, %s inserted, %s updated, %s items done, %s pending%s",
        dataset,
        summary["status"],
        summary["calls"],
        summary["rows_inserted"],
        summary["rows_updated"],
        summary["items_done"],
        summary["items_pending"],
        f", resumes at {summary['resume_at']}" if summary["resume_at"] else "",
    )
    context["ti"].xcom_push(key="run_result", value=summary)
    raise_for_outcome(summary)
    return summary
