"""``marketpipe check`` against the sandbox: every provider answers ok, every fault kind is classified."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

import pytest
from pydantic import SecretStr

from marketpipe.config import PROVIDERS
from marketpipe.ops.check import Verdict, run_check
from marketpipe.redaction import key_hash

KEYS = {
    "alpha_vantage_keys": ["sandbox-av-1", "sandbox-av-2"],
    "finnhub_keys": ["sandbox-finnhub-1"],
    "fred_keys": ["sandboxfredkey000000000000000001"],
    "newsapi_keys": ["sandbox-newsapi-1"],
    "fmp_keys": ["sandbox-fmp-1"],
    "x_keys": ["sandbox-x-1"],
    "truth_social_keys": ["sandbox-truth-1"],
    "coingecko_keys": ["sandbox-coingecko-1"],
}
ONE_DAY = timedelta(days=1)


@pytest.fixture
def keyed(sandbox_settings):
    return sandbox_settings.model_copy(update={k: [SecretStr(v) for v in vs] for k, vs in KEYS.items()})


def by_provider(results):
    return {(r.provider, r.key): r for r in results}


def test_every_configured_provider_and_key_is_ok_on_a_healthy_sandbox(keyed, sandbox):
    results = run_check(keyed, now=sandbox.admin.now())
    assert {r.provider for r in results} == set(PROVIDERS)
    bad = [(r.provider, r.verdict, r.detail) for r in results if r.verdict is not Verdict.OK]
    assert bad == []
    av = [r for r in results if r.provider == "alpha_vantage"]
    assert [r.key for r in av] == [
        f"token 1 ({key_hash('sandbox-av-1')})",
        f"token 2 ({key_hash('sandbox-av-2')})",
    ]
    assert sandbox.admin.calls() == len(results)  # one call per provider and key, never more


# fault kind, params → verdict (on FRED: a keyed JSON API our parser reads strictly)
FAULTS = [
    ("server_error", {"status": 503}, Verdict.UNREACHABLE),
    ("html_error", {"status": 502}, Verdict.UNREACHABLE),
    ("slow", {"delay_s": 2.0}, Verdict.UNREACHABLE),
    ("truncated_json", {}, Verdict.UNEXPECTED_SHAPE),
    ("empty_body", {}, Verdict.UNEXPECTED_SHAPE),
    ("schema_drift", {}, Verdict.UNEXPECTED_SHAPE),
    ("revoked_key", {}, Verdict.INVALID_KEY),
    ("rate_limit", {}, Verdict.QUOTA_SPENT),
]


@pytest.mark.parametrize(("kind", "params", "verdict"), FAULTS, ids=[f[0] for f in FAULTS])
def test_every_sandbox_fault_kind_is_classified(keyed, sandbox, kind, params, verdict):
    sandbox.admin.add_fault("fred", kind, **params)
    [result] = run_check(keyed, providers=["fred"], now=sandbox.admin.now(), timeout_s=0.5)
    assert result.verdict is verdict, result.detail
    assert "sandboxfredkey000000000000000001" not in result.detail
    if verdict is Verdict.QUOTA_SPENT:
        assert result.until is not None and result.until > sandbox.admin.now()
    assert sandbox.admin.calls("fred") <= 1  # no retries


def test_a_spent_daily_quota_says_until_when(keyed, sandbox):
    sandbox.admin.set_provider_quota("alpha_vantage", windows=[{"name": "day", "limit": 0, "seconds": 86400}])
    results = run_check(keyed, providers=["alpha_vantage"], now=sandbox.admin.now())
    assert [r.verdict for r in results] == [Verdict.QUOTA_SPENT, Verdict.QUOTA_SPENT]
    now = sandbox.admin.now()
    assert all(
        r.until is not None and now < r.until <= now.replace(hour=0, minute=0, second=0) + ONE_DAY
        for r in results
    )


def test_a_plan_refusal_is_told_apart_from_an_invalid_key(keyed, sandbox):
    body = {
        "Error Message": "Exclusive Endpoint : This endpoint is not available under your current subscription"
    }
    sandbox.admin.add_fault("fmp", "reply", status=402, body=body)
    [result] = run_check(keyed, providers=["fmp"], now=sandbox.admin.now())
    assert result.verdict is Verdict.PLAN_REFUSAL, result.detail


def test_one_revoked_key_of_two_is_reported_for_that_key_only(keyed, sandbox):
    sandbox.admin.set_keys("alpha_vantage", revoked=["sandbox-av-2"])
    results = by_provider(run_check(keyed, providers=["alpha_vantage"], now=sandbox.admin.now()))
    verdicts = [r.verdict for _, r in sorted(results.items())]
    assert verdicts == [Verdict.OK, Verdict.INVALID_KEY]


def test_skipped_and_unconfigured_providers_make_no_call(sandbox_settings, sandbox):
    results = run_check(sandbox_settings, skip=["sp500_list", "bithumb"], now=sandbox.admin.now())
    verdicts = {r.provider: r.verdict for r in results}
    assert verdicts["sp500_list"] is Verdict.SKIPPED and verdicts["bithumb"] is Verdict.SKIPPED
    assert verdicts["fred"] is Verdict.NO_KEY
    assert sandbox.admin.calls() == 0


def test_unknown_provider_names_are_a_typed_error(sandbox_settings):
    with pytest.raises(ValueError, match="unknown provider"):
        run_check(sandbox_settings, providers=["fred", "nope\x00"])


def test_the_command_prints_a_table_and_fails_on_a_refused_key(sandbox, tmp_path, pg_dsn):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MARKETPIPE_")}
    env.update(
        PYTHONPATH=os.pathsep.join(sys.path), COLUMNS="200", MARKETPIPE_DATABASE_URL=pg_dsn,
        MARKETPIPE_SANDBOX="true", MARKETPIPE_SANDBOX_PORT=str(sandbox.port),
        MARKETPIPE_DATA_DIR=str(tmp_path / "data"), MARKETPIPE_FRED_KEYS="sandboxfredkey000000000000000001",
    )  # fmt: skip
    command = [
        sys.executable,
        "-c",
        "from marketpipe.cli import app; app()",
        "check",
        "-p",
        "fred",
        "-p",
        "bithumb",
    ]
    ok = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "fred" in ok.stdout and "ok" in ok.stdout
    sandbox.admin.add_fault("fred", "revoked_key")
    refused = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1
    assert "invalid key" in refused.stdout
    assert "sandboxfredkey000000000000000001" not in refused.stdout + refused.stderr
