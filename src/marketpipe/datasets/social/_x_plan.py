"""The X account schedules (``plans/x_accounts.yaml``, loaded by :mod:`marketpipe.engine.plans`) as items."""

from __future__ import annotations

from marketpipe.engine.plans import XAccount, XSchedule, x_schedules


def all_accounts() -> dict[str, tuple[str, XSchedule, XAccount]]:
    """``schedule:username`` → (schedule name, schedule, account) for every planned account."""
    found: dict[str, tuple[str, XSchedule, XAccount]] = {}
    for name, schedule in x_schedules().items():
        for account in schedule.accounts:
            found[f"{name}:{account.username}"] = (name, schedule, account)
    return found


def planned_usernames() -> list[str]:
    """Every planned username once (first spelling wins), in plan order."""
    seen: dict[str, str] = {}
    for _, _, account in all_accounts().values():
        seen.setdefault(account.username.lower(), account.username)
    return list(seen.values())


def category_of(username: str) -> str | None:
    for _, schedule, account in all_accounts().values():
        if account.username.lower() == username.lower():
            return schedule.category_of(account)
    return None
