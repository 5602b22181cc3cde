"""The collection instant of a run of a periodic snapshot dataset."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from marketpipe.engine.registry import RunContext


def collection_instant(ctx: RunContext, period: timedelta) -> datetime:
    """The start of the schedule period the run belongs to: the logical date at 00:00 UTC for daily
    snapshots; for shorter periods the period boundary at or before ``ctx.now()`` on the logical day.

    The engine hands datasets the logical *date* only (request D2 in /tmp/engine-requests.md asks for
    the instant); a run that starts within its period maps to that period's scheduled instant, so a
    rerun of the same interval writes the same key.
    """
    midnight = datetime.combine(ctx.logical_date, time(0), tzinfo=UTC)
    if period >= timedelta(days=1):
        return midnight
    now = ctx.now().astimezone(UTC)
    if now.date() != ctx.logical_date:
        return midnight
    periods = (now - midnight) // period
    return midnight + periods * period
