"""deploy/Dockerfile, rehearsed without Docker: its install steps run in clean venvs, then its commands.

The Dockerfile is read, not re-typed here: the build stage's COPY sources (and only those) make the
build context, its ``pip wheel`` builds the wheel, and the final stage's ``pip install`` installs that
wheel into a new venv of the image's Python version (``--without-pip``: nothing in it but what the
step installs). Then, from that venv, with no PYTHONPATH and an empty working directory:
``ENTRYPOINT + CMD``, ``--help`` of every command a manifest's container runs, ``marketpipe migrate``
on an empty database of the session's real PostgreSQL (proving the migrations are in the wheel), and
``marketpipe serve`` answering its health and dashboard routes against that PostgreSQL and Redis.

One deviation, for time only: the final ``pip install`` resolves from a local wheelhouse (made once
per dependency set with ``pip wheel`` from PyPI through pip's cache, kept in .marketpipe/wheelhouse/)
instead of asking the index again. It byte-compiles as the image does: the image's
PYTHONDONTWRITEBYTECODE (and read-only root filesystem) mean nothing is compiled later.
A RUN step the rehearsal does not know fails the test, so the Dockerfile cannot grow a step that is
never rehearsed.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg import sql

from deploy.deploykit import DEPLOY, REPO, Doc
from marketpipe.db.connect import with_database

DOCKERFILE = DEPLOY / "Dockerfile"
#: RUN steps that configure the OS image, not the Python install (nothing to rehearse in a venv).
SYSTEM_STEPS = {"useradd"}


@dataclass
class Stage:
    base: str
    name: str | None = None
    workdir: str = "/"
    copies: list[tuple[list[str], str]] = field(default_factory=list)
    runs: list[list[str]] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    user: str | None = None
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)


def parse_dockerfile(text: str) -> list[Stage]:
    """The subset of Dockerfile syntax the image uses; anything else is an error, not ignored."""
    import json

    stages: list[Stage] = []
    logical = text.replace("\\\n", " ").splitlines()
    for raw in logical:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, rest = line.partition(" ")
        instruction = instruction.upper()
        if instruction == "FROM":
            parts = rest.split()
            stages.append(
                Stage(base=parts[0], name=parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None)
            )
            continue
        stage = stages[-1]
        if instruction == "WORKDIR":
            stage.workdir = rest.strip()
        elif instruction == "COPY":
            args = [a for a in shlex.split(rest) if not a.startswith("--")]
            stage.copies.append((args[:-1], args[-1]))
        elif instruction == "RUN":
            stage.runs.append(shlex.split(rest))
        elif instruction == "ENV":
            for pair in shlex.split(rest):
                key, _, value = pair.partition("=")
                stage.env[key] = value
        elif instruction == "USER":
            stage.user = rest.strip()
        elif instruction in ("ENTRYPOINT", "CMD"):
            setattr(stage, instruction.lower(), json.loads(rest))
        else:
            raise ValueError(f"Dockerfile instruction {instruction} is not rehearsed")
    return stages


def python_for(base: str) -> str:
    """The interpreter matching the image's ``python:X.Y-…`` base."""
    tag = base.split(":", 1)[1]
    version = tag.split("-")[0]
    if f"{sys.version_info.major}.{sys.version_info.minor}" == version:
        return sys.executable
    found = shutil.which(f"python{version}")
    if found is None:
        pytest.fail(f"the image is built on Python {version}; install python{version} to rehearse it")
    return found


def pip_step(
    tokens: list[str], *, python: str, wheels: Path, target: Path | None, wheelhouse: Path | None
) -> list[str]:
    """A Dockerfile RUN ``pip …`` as a command line here (paths mapped, cache allowed)."""
    tokens = [t for t in tokens if not t.startswith("--mount=") and t != "--no-cache-dir"]
    if tokens[0] in SYSTEM_STEPS:
        return []
    if tokens[0] != "pip" or len(tokens) < 2 or tokens[1] not in ("wheel", "install"):
        raise ValueError(f"RUN {' '.join(tokens)} is not rehearsed: teach tests/deploy/test_image.py")
    args: list[str] = []
    for token in tokens[2:]:
        if token.startswith("/wheels"):
            token = str(wheels) + token[len("/wheels") :]
            args += [str(p) for p in sorted(wheels.glob(Path(token).name))] if "*" in token else [token]
        else:
            args.append(token)
    command = [python, "-m", "pip"]
    if tokens[1] == "install":
        assert target is not None and wheelhouse is not None
        command += ["--python", str(target / "bin" / "python"), "install", "--no-index",
                    "--find-links", str(wheelhouse)]  # fmt: skip
    else:
        command += ["wheel"]
    return [*command, "-q", "--disable-pip-version-check", *args]


def run(command: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, (
        f"{shlex.join(command)} exited {result.returncode}:\n{result.stderr[-3000:]}"
    )
    return result.stdout


def build_stage(stage: Stage, out: Path, dockerfile_dir: Path = REPO) -> Path:
    """Rehearse the build stage: the context is only what it COPYs; returns the wheels directory."""
    context = out / "context"
    for sources, dest in stage.copies:
        target = (
            context / Path(stage.workdir.lstrip("/")) / dest
            if not dest.startswith("/")
            else context / dest.lstrip("/")
        )
        for source in sources:
            path = dockerfile_dir / source
            if path.is_dir():
                shutil.copytree(path, target / path.name if dest.endswith("/") else target,
                                ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
            else:
                (target if dest.endswith("/") else target.parent).mkdir(parents=True, exist_ok=True)
                shutil.copy(path, target / path.name if dest.endswith("/") else target)
    wheels = out / "wheels"
    wheels.mkdir()
    workdir = context / stage.workdir.lstrip("/")
    for tokens in stage.runs:
        command = pip_step(tokens, python=python_for(stage.base), wheels=wheels, target=None, wheelhouse=None)
        if command:
            run(command, cwd=workdir)
    return wheels


def wheelhouse_for(wheel: Path, python: str) -> Path:
    """Dependencies of ``wheel`` as wheels, fetched once per dependency set (pip's cache helps)."""
    with zipfile.ZipFile(wheel) as archive:
        [meta] = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        requires = sorted(
            line for line in archive.read(meta).decode().splitlines() if line.startswith("Requires-Dist")
        )
    version = run([python, "-c", "import sys; print(sys.version)"], cwd=REPO)
    key = hashlib.sha256("\n".join([version, *requires]).encode()).hexdigest()[:16]
    house = REPO / ".marketpipe" / "wheelhouse" / key
    if not (house / ".complete").exists():
        shutil.rmtree(house, ignore_errors=True)
        house.mkdir(parents=True)
        run(
            [python, "-m", "pip", "wheel", "-q", "--disable-pip-version-check", "-w", str(house), str(wheel)],
            cwd=REPO,
        )
        for own in house.glob("marketpipe-*.whl"):
            own.unlink()
        (house / ".complete").touch()
    return house


@dataclass
class Image:
    venv: Path
    env: dict[str, str]
    workdir: Path
    final: Stage

    def marketpipe(self, *args: str, timeout: float = 120) -> str:
        return run(
            [str(self.venv / "bin" / "marketpipe"), *args], cwd=self.workdir, env=self.env, timeout=timeout
        )


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Image:
    stages = parse_dockerfile(DOCKERFILE.read_text())
    build, final = stages[0], stages[-1]
    assert len(stages) == 2 and build.name == "build"
    assert final.base == build.base, "wheel built and installed on the same Python"
    out = tmp_path_factory.mktemp("image")
    wheels = build_stage(build, out)
    [wheel] = wheels.glob("marketpipe-*.whl")
    python = python_for(final.base)
    house = wheelhouse_for(wheel, python)
    venv = out / "venv"
    run([python, "-m", "venv", "--without-pip", str(venv)], cwd=out)
    for tokens in final.runs:
        command = pip_step(tokens, python=python, wheels=wheels, target=venv, wheelhouse=house)
        if command:
            run(command, cwd=out)
    workdir = out / "cwd"
    workdir.mkdir()
    env = {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "HOME": str(out / "home"),
        "LANG": "C.UTF-8",
        **final.env,
        # The image's /tmp/marketpipe, here under this test's own directory.
        "MARKETPIPE_DATA_DIR": str(out / "data"),
    }
    return Image(venv=venv, env=env, workdir=workdir, final=final)


def test_the_image_runs_as_a_numeric_non_root_user() -> None:
    final = parse_dockerfile(DOCKERFILE.read_text())[-1]
    assert final.user is not None
    uid, _, gid = final.user.partition(":")
    assert uid.isdigit() and int(uid) != 0 and (not gid or gid.isdigit())
    assert final.env["MARKETPIPE_DATA_DIR"].startswith("/tmp/"), "the root filesystem is read-only"


def test_entrypoint_and_every_manifest_command_run_from_the_installed_wheel(
    image: Image, main_docs: list[Doc]
) -> None:
    assert image.final.entrypoint == ["marketpipe"]
    assert "Usage" in image.marketpipe(*image.final.cmd)
    commands: set[tuple[str, ...]] = {("serve",), ("migrate",)}
    for doc in main_docs:
        if doc["kind"] in ("Deployment", "StatefulSet", "Job"):
            for container in doc["spec"]["template"]["spec"]["containers"]:
                if container["image"].startswith("ghcr.io/marketpipe/marketpipe:"):
                    path = [a for a in container["args"] if not a.startswith("-")]
                    commands.add(tuple(path[:3] if path[:2] == ["stream", "produce"] else path[:2]))
    assert ("stream", "sink") in commands and ("stream", "produce", "finnhub") in commands
    for command in sorted(commands):
        assert "Usage" in image.marketpipe(*command, "--help"), command


@pytest.fixture
def empty_database(pg_server: str) -> Iterator[str]:
    name = f"mp_image_{os.getpid()}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield with_database(pg_server, name)
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_installed_wheel_migrates_and_serves(image: Image, empty_database: str, redis_url: str) -> None:
    env = {**image.env, "MARKETPIPE_DATABASE_URL": empty_database, "MARKETPIPE_REDIS_URL": redis_url}
    run([str(image.venv / "bin" / "marketpipe"), "migrate"], cwd=image.workdir, env=env)
    shipped = sorted(p.name for p in (REPO / "src" / "marketpipe" / "db" / "migrations").glob("*.sql"))
    with psycopg.connect(empty_database) as conn:
        applied = [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY name")]
    assert applied == shipped and len(shipped) >= 10  # every migration file is in the wheel
    port = free_port()
    server = subprocess.Popen(
        [str(image.venv / "bin" / "marketpipe"), "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=image.workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        health = None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.3)
        assert health is not None, f"serve never answered: {server.poll()=}"
        assert health.status_code == 200 and health.json()["status"] == "ok"
        dashboard = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
        assert dashboard.status_code == 200 and "<html" in dashboard.text.lower()
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


# ---- negative: the rehearsal catches a broken Dockerfile -------------------------------------------


def test_a_build_stage_that_forgets_a_needed_file_fails(tmp_path: Path) -> None:
    broken = DOCKERFILE.read_text().replace("COPY pyproject.toml README.md ./", "COPY README.md ./")
    assert broken != DOCKERFILE.read_text()
    build = parse_dockerfile(broken)[0]
    with pytest.raises(AssertionError, match=r"pyproject\.toml"):
        build_stage(build, tmp_path)


def test_an_unknown_install_step_is_refused() -> None:
    stage = parse_dockerfile(DOCKERFILE.read_text() + "RUN curl -sSL https://example.invalid/x | sh\n")[-1]
    with pytest.raises(ValueError, match="not rehearsed"):
        pip_step(stage.runs[-1], python=sys.executable, wheels=Path("/nowhere"), target=None, wheelhouse=None)
    with pytest.raises(ValueError, match="not rehearsed"):
        parse_dockerfile(DOCKERFILE.read_text() + "ADD https://example.invalid/x /x\n")
