"""``marketpipe airflow``: run Apache Airflow locally on this repository's DAGs.

``dags`` lists the DAGs the registry produces (no Airflow needed); ``init`` prepares an Airflow home
(metadata DB, one pool per provider, the ``marketpipe_postgres`` connection); ``standalone`` runs
``airflow standalone`` against the embedded services (and the sandbox with ``--sandbox``); ``deployed``
runs the scheduler, DAG processor and API server as separate processes (LocalExecutor, PostgreSQL
metadata: :mod:`marketpipe.orchestration.deployed`); ``test-dag``
runs one DAG run end to end with ``airflow dags test`` and prints what each task did.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer

from marketpipe.config import Settings, get_settings
from marketpipe.db import database_dsn
from marketpipe.orchestration.local import (
    AirflowCommandError,
    LocalAirflow,
    airflow_env_for_marketpipe,
    airflow_executable,
    default_dags_folder,
    pools_import_json,
)
from marketpipe.orchestration.plan import plan_dags, pool_name, pool_providers, pool_slots

app = typer.Typer(help="Run Apache Airflow locally on marketpipe's DAGs (dags/).", no_args_is_help=True)

HOME_OPTION = typer.Option(None, "--home", help="AIRFLOW_HOME (default: <data_dir>/airflow).")
SANDBOX_OPTION = typer.Option(False, "--sandbox/--no-sandbox", help="Start and use the provider sandbox.")


def _airflow(settings: Settings, home: Path | None, sandbox: bool) -> LocalAirflow:
    """A LocalAirflow for these settings, with the database as Airflow connection and the sandbox."""
    from marketpipe.db import connect, database_dsn, migrate

    dsn = database_dsn(settings)  # starts the embedded PostgreSQL when no URL is configured
    with connect(dsn) as conn:
        migrate(conn)
        conn.commit()
    if sandbox:
        from marketpipe.runtime import optional_service

        optional_service("sandbox", settings).start()
    return LocalAirflow(
        home=(home or settings.data_dir / "airflow").resolve(),
        dags_folder=default_dags_folder(),
        extra_env=airflow_env_for_marketpipe(database_url=dsn, sandbox=sandbox or settings.sandbox),
    )


def _init(local: LocalAirflow) -> None:
    local.migrate()
    pools = local.set_pools(pool_providers())
    dsn = local.extra_env.get("AIRFLOW_CONN_MARKETPIPE_POSTGRES")
    typer.echo(f"airflow home {local.home}; dags folder {local.dags_folder}")
    typer.echo("pools: " + ", ".join(f"{name}={slots}" for name, slots in pools.items()))
    if dsn:
        typer.echo("connection marketpipe_postgres: set from marketpipe's database URL (env AIRFLOW_CONN_*)")


@app.command("dags")
def list_dags(
    markdown: bool = typer.Option(False, "--markdown", help="Print a Markdown table (docs/airflow.md)."),
) -> None:
    """List the DAGs built from the dataset registry: id, schedule, tasks and their pools."""
    plans = plan_dags()
    if markdown:
        typer.echo("| DAG id | schedule | tasks (pool) |\n|---|---|---|")
        for plan in plans:
            tasks = ", ".join(
                f"`{t.task_id}` ({(t.pool or 'default_pool').removeprefix('marketpipe_')})"
                for t in plan.tasks
            )
            typer.echo(f"| `{plan.dag_id}` | `{plan.schedule}` | {tasks} |")
        return
    for plan in plans:
        typer.echo(f"{plan.dag_id}  [{plan.schedule}]")
        for task in plan.tasks:
            upstream = f"  after={','.join(task.upstream)}" if task.upstream else ""
            typer.echo(
                f"    {task.task_id}  pool={task.pool or 'default_pool'}  "
                f"providers={','.join(task.providers) or '-'}{upstream}"
            )


@app.command("pools")
def list_pools(
    as_json: bool = typer.Option(False, "--json", help="Print the `airflow pools import` file instead."),
) -> None:
    """List the Airflow pools marketpipe tasks use and their slots."""
    providers = pool_providers()
    if as_json:
        typer.echo(pools_import_json(providers), nl=False)
        return
    for provider in providers:
        typer.echo(f"{pool_name(provider)}  slots={pool_slots(provider)}")


@app.command("init")
def init(home: Path | None = HOME_OPTION, sandbox: bool = SANDBOX_OPTION) -> None:
    """Prepare an Airflow home: metadata DB (SQLite), marketpipe pools, the marketpipe_postgres connection.

    The connection is stored in the metadata DB too, so a plain ``airflow standalone`` on this home
    finds the database without marketpipe's help.
    """
    try:
        local = _airflow(get_settings(), home, sandbox)
        _init(local)
        local.set_connection("marketpipe_postgres", database_dsn(get_settings()))
        typer.echo("connection marketpipe_postgres: stored in the metadata database")
    except AirflowCommandError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc


@app.command("standalone")
def standalone(home: Path | None = HOME_OPTION, sandbox: bool = SANDBOX_OPTION) -> None:
    """Run ``airflow standalone`` (API server, scheduler, DAG processor, triggerer) on dags/.

    The UI is on http://localhost:8080; the admin password is printed by Airflow and kept in
    ``<home>/simple_auth_manager_passwords.json.generated``.
    """
    local = _airflow(get_settings(), home, sandbox)
    try:
        _init(local)
    except AirflowCommandError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    # Replace this process: Ctrl-C and signals go straight to Airflow, which stops its children.
    os.chdir(local.home)
    os.execve(airflow_executable(), [airflow_executable(), "standalone"], local.env())


@app.command("deployed")
def deployed(
    home: Path | None = typer.Option(
        None, "--home", help="AIRFLOW_HOME (default: <data_dir>/airflow-deployed)."
    ),
    sandbox: bool = SANDBOX_OPTION,
    run_clock: bool = typer.Option(
        False, "--run-clock", help="Sandbox only: each run's engine clock starts when the run was due."
    ),
    unpause: list[str] = typer.Option(
        [], "--unpause", help="Unpause this DAG once it is parsed (repeat the option for more DAGs)."
    ),
) -> None:
    """Run Airflow as deployed: scheduler + DAG processor + API server, LocalExecutor, metadata in
    PostgreSQL (database ``airflow_metadata`` on marketpipe's server). Ctrl-C stops every process.

    ``<home>/deployment.env`` (mode 0600: it holds the metadata URL and the JWT secret) makes Airflow's
    own CLI talk to this deployment: ``. <home>/deployment.env && airflow dags list``.
    """
    import signal
    import threading

    from marketpipe.db.connect import with_database
    from marketpipe.orchestration.deployed import DeployedAirflow, create_database, write_env_file

    known = {plan.dag_id for plan in plan_dags()}
    unknown = [dag_id for dag_id in unpause if dag_id not in known]
    if unknown:
        raise typer.BadParameter(f"unknown DAG id(s): {', '.join(unknown)} (see `marketpipe airflow dags`)")

    settings = get_settings()
    local = _airflow(settings, home or settings.data_dir / "airflow-deployed", sandbox)
    dsn = database_dsn(settings)
    create_database(dsn, "airflow_metadata")
    extra = dict(local.extra_env)
    if run_clock:
        extra["MARKETPIPE_AIRFLOW_CLOCK"] = "run"
    airflow = DeployedAirflow(
        home=local.home,
        metadata_dsn=with_database(dsn, "airflow_metadata"),
        dags_folder=local.dags_folder,
        extra_env=extra,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        airflow.start()
        cli = airflow.cli()
        pools = cli.set_pools(pool_providers())
        env_file = write_env_file(cli.env(), airflow.home / "deployment.env")
        typer.echo(f"airflow home {airflow.home}; UI and API on {airflow.api_url}; logs in {airflow.log_dir}")
        typer.echo("pools: " + ", ".join(f"{name}={slots}" for name, slots in pools.items()))
        typer.echo(f"Airflow's CLI on this deployment: `. {env_file} && airflow dags list`")
        for dag_id in unpause:
            airflow.wait_for(f"DAG {dag_id} parsed", lambda d=dag_id: airflow.dag_is_parsed(d), timeout=300)
            cli.run("dags", "unpause", dag_id)
            typer.echo(f"unpaused {dag_id}")
        typer.echo("DAGs start paused: `airflow dags unpause <dag_id>` (after the line above). Ctrl-C stops.")
        while not stop.wait(2):
            airflow.check_running()
    except KeyboardInterrupt:
        pass
    except AirflowCommandError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    finally:
        killed = airflow.stop()
        typer.echo("stopped" + (f" (killed: {', '.join(killed)})" if killed else ""))


@app.command("test-dag")
def test_dag(
    dag_id: str = typer.Argument(..., help="A DAG id from `marketpipe airflow dags`."),
    logical_date: str = typer.Argument("2025-06-02", help="Logical date of the test run."),
    home: Path | None = HOME_OPTION,
    sandbox: bool = SANDBOX_OPTION,
) -> None:
    """Run one DAG run end to end with ``airflow dags test`` and print each task's outcome."""
    local = _airflow(get_settings(), home, sandbox)
    try:
        _init(local)
    except AirflowCommandError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    proc = local.dags_test(dag_id, logical_date)
    run = local.latest_run(dag_id)
    if run is None:
        typer.echo(((proc.stdout or "") + (proc.stderr or ""))[-4000:], err=True)
        raise typer.Exit(1)
    typer.echo(f"{dag_id} {run.run_id}: {run.state}  (full output: {local.dags_test_log(dag_id)})")
    for task in sorted(run.tasks.values(), key=lambda t: t.task_id):
        summary = local.xcom(dag_id, run.run_id, task.task_id) or {}
        typer.echo(
            f"  {task.task_id}: {task.state} (try {task.try_number}) "
            f"status={summary.get('status')} calls={summary.get('calls')} "
            f"inserted={summary.get('rows_inserted')} updated={summary.get('rows_updated')}"
        )
    if run.state != "success":
        raise typer.Exit(1)
