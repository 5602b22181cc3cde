"""Market-wide queries: top gainers/losers (Alpha Vantage TOP_GAINERS_LOSERS) and the IPO calendar."""

from __future__ import annotations

from datetime import date

from marketpipe.query import core
from marketpipe.query.core import BadInput, Source, num
from marketpipe.query.models import Ipo, IpoCalendar, Mover, Movers

CATEGORIES = ("top_gainers", "top_losers", "most_actively_traded")
MAX_MOVERS = 20  # AV's batch has 20 per category


async def movers(src: Source, category: str = "top_gainers", limit: int = 20) -> Movers:
    if category not in CATEGORIES:
        raise BadInput("invalid category: use top_gainers, top_losers or most_actively_traded")
    limit = core.limit(limit, MAX_MOVERS)
    rows = await src.rows(
        """SELECT batch_id, last_updated, symbol, rank_position, price, change_amount, change_percentage_value,
                  volume
             FROM top_gainers
            WHERE category = %(c)s AND batch_id = (SELECT max(batch_id) FROM top_gainers WHERE category = %(c)s)
            ORDER BY rank_position NULLS LAST, symbol LIMIT %(n)s""",
        {"c": category, "n": limit},
    )
    return Movers(
        category=category,
        batch_id=rows[0]["batch_id"] if rows else None,
        as_of=rows[0]["last_updated"] if rows else None,
        items=[
            Mover(
                symbol=r["symbol"],
                rank=r["rank_position"],
                price=num(r["price"]),
                change_amount=num(r["change_amount"]),
                change_percentage=num(r["change_percentage_value"]),
                volume=num(r["volume"]),
            )
            for r in rows
        ],
    )


async def ipos(
    src: Source, from_date: date | None = None, limit: int = 50, cursor: str | None = None
) -> IpoCalendar:
    """IPOs on or after ``from_date`` (default: today), soonest first."""
    start = core.day(from_date, "from_date") or date.today()
    limit = core.limit(limit)
    after = core.decode_cursor(cursor)
    rows = await src.rows(
        """SELECT symbol, company_name, ipo_date, price_range_low, price_range_high, currency, exchange
             FROM ipo_calendar
            WHERE ipo_date >= %(start)s
              AND (%(ts)s::date IS NULL OR ipo_date > %(ts)s OR (ipo_date = %(ts)s AND symbol > %(key)s))
            ORDER BY ipo_date, symbol LIMIT %(n)s""",
        {
            "start": start,
            "ts": after[0].date() if after and after[0] else None,
            "key": after[1] if after else "",
            "n": limit + 1,
        },
    )
    page = rows[:limit]
    return IpoCalendar(
        items=[Ipo(**core.plain(r)) for r in page],
        next_cursor=core.encode_cursor(page[-1]["ipo_date"], page[-1]["symbol"])
        if len(rows) > limit
        else None,
    )
