"""``marketpipe check``: one cheapest call per configured provider and key, each reply classified.

What a new user runs first with their own keys and what a canary runs daily. Each probe is a single
request the collection already makes (so a pass means our parser still understands the reply) and
costs one call of the free tier — never more: no retries, no pagination, no key rotation. The reply
goes through the provider's own classifier and then through our parser:

- ``ok`` — the reply parsed;
- ``invalid key`` — the provider refused the key (revoked, mistyped);
- ``plan refusal`` — the key is valid but its plan does not include the endpoint;
- ``quota spent`` — no budget left, with ``until`` when the provider says (or its window implies);
- ``unreachable`` — timeout, network error, 5xx, a proxy's HTML page;
- ``unexpected shape`` — a reply our parser rejects (drift: renamed/dropped fields, truncated JSON).

Check calls are not reserved in the quota ledger (the check must work before a database exists);
a quota reply they provoke is still honoured by the next run, which gets the same reply.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from marketpipe.http.client import HttpClient
from marketpipe.http.errors import TransientError
from marketpipe.http.types import ApiRequest, Outcome, OutcomeKind
from marketpipe.providers import get_provider
from marketpipe.providers.catalogue import probe as catalogue_probe
from marketpipe.redaction import key_hash, redact, register_secrets


class Verdict(StrEnum):
    OK = "ok"
    INVALID_KEY = "invalid key"
    PLAN_REFUSAL = "plan refusal"
    QUOTA_SPENT = "quota spent"
    UNREACHABLE = "unreachable"
    UNEXPECTED_SHAPE = "unexpected shape"
    NO_KEY = "no key configured"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class CheckResult:
    provider: str
    key: str  # "token N (hash)" — never the key
    verdict: Verdict
    detail: str = ""
    until: datetime | None = None
    status: int | None = None
    elapsed_s: float | None = None


def _quota_until(provider: str, request: ApiRequest, outcome: Outcome, now: datetime) -> datetime | None:
    """When the provider's budget returns: its own hint, else the end of its longest window."""
    if outcome.reset_at is not None:
        return outcome.reset_at
    if outcome.retry_after_s is not None and outcome.retry_after_s > 0:
        return now + timedelta(seconds=outcome.retry_after_s)
    windows = [w for w in get_provider(provider).windows if w.applies_to(request.scope)]
    long = [w for w in windows if w.calendar or (w.seconds or 0) >= 3600]
    return min(w.bounds(now)[1] for w in long) if long else None


_VERDICTS = {
    OutcomeKind.INVALID_KEY: Verdict.INVALID_KEY,
    OutcomeKind.REFUSED: Verdict.PLAN_REFUSAL,
    OutcomeKind.QUOTA: Verdict.QUOTA_SPENT,
    OutcomeKind.THROTTLED: Verdict.QUOTA_SPENT,
    OutcomeKind.TRANSIENT: Verdict.UNREACHABLE,
    OutcomeKind.MALFORMED: Verdict.UNEXPECTED_SHAPE,
}


def check_key(
    provider: str,
    secret: str | None,
    label: str,
    *,
    base_url: str,
    http: HttpClient,
    now: datetime,
    timeout_s: float | None = None,
) -> CheckResult:
    """Send ``provider``'s probe once with ``secret`` and classify the reply."""
    spec = get_provider(provider)
    probe = catalogue_probe(provider)
    request = probe.request(now)
    secrets = [secret] if secret else []

    def clean(text: str) -> str:
        return redact(text, secrets)[:160]

    try:
        reply = http.send(
            base_url, request, auth=spec.auth, secret=secret, timeout_s=timeout_s or spec.timeout_s
        )
    except TransientError as exc:
        return CheckResult(provider, label, Verdict.UNREACHABLE, clean(str(exc)))
    outcome = spec.classify(request, reply)
    if outcome.kind is OutcomeKind.NOT_FOUND:  # the key was accepted; only the probe's target is gone
        return CheckResult(provider, label, Verdict.OK, clean(f"answered not found: {outcome.message}"),
                           None, reply.status, reply.elapsed_s)  # fmt: skip
    if outcome.kind is not OutcomeKind.OK:
        verdict = _VERDICTS[outcome.kind]
        until = _quota_until(provider, request, outcome, now) if verdict is Verdict.QUOTA_SPENT else None
        return CheckResult(
            provider,
            label,
            verdict,
            clean(outcome.message or outcome.kind.value),
            until,
            reply.status,
            reply.elapsed_s,
        )
    try:
        parsed = probe.parse(reply)
    except Exception as exc:  # any parser failure is drift for this probe, reported, never raised
        return CheckResult(
            provider, label, Verdict.UNEXPECTED_SHAPE, clean(f"{type(exc).__name__}: {exc}"), None, reply.status,
            reply.elapsed_s,
        )  # fmt: skip
    size = len(parsed) if isinstance(parsed, list | dict) else 1
    if probe.expect_rows and size == 0:
        return CheckResult(
            provider, label, Verdict.UNEXPECTED_SHAPE, f"{probe.describe}: no record our parser accepts", None,
            reply.status, reply.elapsed_s,
        )  # fmt: skip
    return CheckResult(
        provider, label, Verdict.OK, f"{probe.describe}: {size} parsed", None, reply.status, reply.elapsed_s
    )


def run_check(
    settings: Any,
    *,
    providers: Sequence[str] | None = None,
    skip: Sequence[str] = (),
    now: datetime | None = None,
    timeout_s: float | None = None,
    http: HttpClient | None = None,
) -> list[CheckResult]:
    """Check every configured provider (or ``providers``) and each of its keys, except ``skip``."""
    from marketpipe.config import PROVIDERS

    unknown = sorted(name for name in {*(providers or ()), *skip} if name not in PROVIDERS)
    if unknown:
        raise ValueError(
            f"unknown provider(s) {', '.join(n[:30] for n in unknown)}; known: {', '.join(PROVIDERS)}"
        )
    now = now or datetime.now(UTC)
    chosen = [p for p in (providers or PROVIDERS) if p not in skip]
    results = [CheckResult(p, "-", Verdict.SKIPPED, "--skip") for p in PROVIDERS if p in skip]
    owned = http is None
    client = http or HttpClient()
    try:
        for provider in chosen:
            spec = get_provider(provider)
            base_url = settings.base_url(spec.base_url_key)
            if not spec.needs_key:
                results.append(check_key(provider, None, "no key needed", base_url=base_url, http=client, now=now,
                                         timeout_s=timeout_s))  # fmt: skip
                continue
            secrets = [k.get_secret_value() for k in settings.keys(provider) if k.get_secret_value().strip()]
            register_secrets(secrets)
            if not secrets:
                results.append(
                    CheckResult(provider, "-", Verdict.NO_KEY, f"set MARKETPIPE_{provider.upper()}_KEYS")
                )
                continue
            for index, secret in enumerate(secrets, start=1):
                label = f"token {index} ({key_hash(secret)})"
                results.append(check_key(provider, secret, label, base_url=base_url, http=client, now=now,
                                         timeout_s=timeout_s))  # fmt: skip
    finally:
        if owned:
            client.close()
    order: dict[str, int] = {name: i for i, name in enumerate(PROVIDERS)}
    return sorted(results, key=lambda r: (order[r.provider], r.key))


def check_table(results: Sequence[CheckResult]) -> Any:
    from rich.table import Table

    colours = {
        Verdict.OK: "green", Verdict.SKIPPED: "dim", Verdict.NO_KEY: "dim", Verdict.QUOTA_SPENT: "yellow",
        Verdict.UNREACHABLE: "yellow",
    }  # fmt: skip
    table = Table(title="provider check (one call per key)")
    for column in ("provider", "key", "result", "until", "http", "detail"):
        table.add_column(column)
    for r in results:
        colour = colours.get(r.verdict, "red")
        table.add_row(
            r.provider,
            r.key,
            f"[{colour}]{r.verdict.value}[/]",
            f"{r.until:%Y-%m-%d %H:%M} UTC" if r.until else "-",
            str(r.status) if r.status is not None else "-",
            r.detail,
        )
    return table


#: Verdicts that make ``marketpipe check`` exit non-zero (a canary's alarm).
FAILING = frozenset(
    {Verdict.INVALID_KEY, Verdict.PLAN_REFUSAL, Verdict.UNREACHABLE, Verdict.UNEXPECTED_SHAPE}
)
