"""Truth Social accounts, statuses and trending tags, as pure functions of the seed and the clock.

Statuses follow the same slot scheme as the X simulator (a seeded coin flip per time slot); their ids are
Mastodon snowflakes ``(unix_ms << 16) | sequence`` (docs/providers.md §7.5), so ``max_id``/``min_id`` are time bounds.
Content is HTML, about a fifth carry media, a few mention accounts or carry hashtags, some are replies
and some are ReTruths (empty ``content`` with the original in ``reblog``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from marketpipe.sandbox.providers.coingecko_universe import pick, unit

SITE = "https://truthsocial.com"
ASSETS = "https://static-assets-1.truthsocial.com/tmtg:prime-ts-assets"
POST_PROBABILITY = 0.8


@dataclass(frozen=True)
class Account:
    id: str
    username: str
    display_name: str
    created_at: str
    note: str
    followers: int
    following: int
    website: str
    posts_per_day: float
    verified: bool = True


ACCOUNTS: tuple[Account, ...] = (
    Account("107780257626128497", "realDonaldTrump", "Donald J. Trump", "2022-02-11T16:16:57.705Z", "<p></p>", 9_800_000, 70, "www.DonaldJTrump.com", 18),
    Account("114029389237417523", "WhiteHouse", "The White House", "2025-01-20T17:00:12.412Z", "<p>The official account of the White House.</p>", 2_100_000, 12, "www.whitehouse.gov", 10),
    Account("107780302938417032", "DonaldJTrumpJr", "Donald Trump Jr.", "2022-02-11T16:28:19.102Z", "<p>EVP of the Trump Org, Father, Outdoorsman.</p>", 3_900_000, 410, "", 12),
    Account("108010284763920455", "TeamTrump", "Team Trump", "2022-03-24T13:02:44.870Z", "<p>Official account of the Trump campaign.</p>", 1_200_000, 30, "www.donaldjtrump.com", 6),
    Account("109323456781234567", "MarketPatriot", "Market Patriot", "2022-11-12T09:41:03.300Z", "<p>Stocks, crypto and the economy.</p>", 84_000, 900, "", 8, verified=False),
    Account("110456789012345678", "CryptoEagle", "Crypto Eagle", "2023-05-30T20:11:47.991Z", "<p>Bitcoin. Freedom. America.</p>", 52_000, 1_300, "", 6, verified=False),
)  # fmt: skip
_BY_NAME = {a.username.lower(): a for a in ACCOUNTS}
_BY_ID = {a.id: a for a in ACCOUNTS}


def account_by_acct(acct: str) -> Account | None:
    """Lookup by handle (``@`` and a ``@truthsocial.com`` domain part are ignored, case-insensitive)."""
    handle = acct.lstrip("@").split("@", 1)[0]
    return _BY_NAME.get(handle.lower())


def account_by_id(account_id: str) -> Account | None:
    return _BY_ID.get(account_id)


def _iso(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _created_ms(account: Account) -> int:
    return int(datetime.fromisoformat(account.created_at.replace("Z", "+00:00")).timestamp() * 1000)


def snowflake(ms: int, sequence: int) -> int:
    """A Mastodon id: milliseconds in the high bits, a 16-bit sequence below."""
    return (ms << 16) | (sequence & 0xFFFF)


def snowflake_ms(status_id: int) -> int:
    return status_id >> 16


def account_object(account: Account, now_ms: int, seed: int) -> dict[str, Any]:
    """The account object (docs/providers.md §7.2 keys, in truthbrush's order)."""
    path = "/".join(account.id[i : i + 3] for i in range(0, 18, 3))
    last = latest_status_ms(seed, account, now_ms)
    return {
        "id": account.id,
        "username": account.username,
        "acct": account.username,
        "display_name": account.display_name,
        "locked": False,
        "bot": False,
        "discoverable": True,
        "group": False,
        "created_at": account.created_at,
        "note": account.note,
        "url": f"{SITE}/@{account.username}",
        "avatar": f"{ASSETS}/accounts/avatars/{path}/original/{account.id[-6:]}.jpeg",
        "avatar_static": f"{ASSETS}/accounts/avatars/{path}/original/{account.id[-6:]}.jpeg",
        "header": f"{ASSETS}/accounts/headers/{path}/original/{account.id[-5:]}.jpeg",
        "header_static": f"{ASSETS}/accounts/headers/{path}/original/{account.id[-5:]}.jpeg",
        "followers_count": account.followers + int((now_ms - _created_ms(account)) / 86_400_000),
        "following_count": account.following,
        "statuses_count": int(
            (now_ms - _created_ms(account)) / 86_400_000 * account.posts_per_day * POST_PROBABILITY
        ),
        "last_status_at": datetime.fromtimestamp(last / 1000, UTC).date().isoformat() if last else None,
        "verified": account.verified,
        "location": "",
        "website": account.website,
        "accepting_messages": False,
        "chats_onboarded": True,
        "feeds_onboarded": True,
        "show_nonmember_group_statuses": False,
        "pleroma": {"accepts_chat_messages": False},
        "emojis": [],
        "fields": [],
    }


# -- statuses ---------------------------------------------------------------------------------------

_MARKET_LINES = (
    "TARIFFS ARE WORKING! Record money pouring into our Country",
    "The Stock Market is at an ALL TIME HIGH. Thank you!",
    "Interest Rates should be MUCH LOWER. The Fed must act NOW",
    "Great talks with {company} today, big investment in the USA",
    "America will be the Crypto Capital of the Planet. Bitcoin, strong!",
    "Jobs numbers are incredible, best economy in history",
    "Oil and gas production at record levels, DRILL BABY DRILL",
    "The Dow just broke another record",
    "Big announcement on {company} coming this week",
    "Manufacturing is coming back to America like never before",
)
_OTHER_LINES = (
    "Thank you to the great people of {place}!",
    "Watch tonight at 8PM Eastern",
    "MAKE AMERICA GREAT AGAIN!",
    "A wonderful day at the White House",
    "Fake News will never report this",
    "Happy Birthday to a great American",
)
_COMPANIES = (
    "Apple",
    "Tesla",
    "NVIDIA",
    "Intel",
    "Exxon",
    "Boeing",
    "TSMC",
    "Meta",
    "Coinbase",
    "U.S. Steel",
)
_PLACES = ("Pennsylvania", "Michigan", "Texas", "Florida", "Arizona", "Georgia", "Ohio")
_TAGS = (
    "MAGA",
    "Tariffs",
    "Bitcoin",
    "Economy",
    "AmericaFirst",
    "Crypto",
    "Jobs",
    "StockMarket",
    "Energy",
    "USA",
)
_LINKS = (
    ("https://www.foxbusiness.com/markets/stocks-rally-record", "Stocks rally to record on strong jobs data", "Fox Business", "foxbusiness.com"),
    ("https://www.whitehouse.gov/briefings-statements/fact-sheet", "Fact Sheet: America First Trade Policy", "The White House", "whitehouse.gov"),
    ("https://www.cnbc.com/markets/bitcoin-new-high", "Bitcoin hits new high as strategic reserve plans advance", "CNBC", "cnbc.com"),
    ("https://www.breitbart.com/economy/manufacturing-jobs", "Manufacturing jobs surge in swing states", "Breitbart", "breitbart.com"),
)  # fmt: skip


@dataclass(frozen=True)
class Status:
    """One status; :func:`status_object` turns it into the API's JSON."""

    id: int
    account: Account
    ms: int
    slot: int
    text: str
    tags: tuple[str, ...]
    mentions: tuple[Account, ...]
    link: tuple[str, str, str, str] | None
    media: int
    media_type: str
    reply_to: Status | None
    reblog_of: Status | None


def _slot_ms(account: Account) -> float:
    return 86_400_000 / account.posts_per_day


def status_in_slot(seed: int, account: Account, slot: int, *, depth: int = 0) -> Status | None:
    """The account's status in time slot ``slot`` (None when the slot is empty)."""
    if unit(seed, "ts", account.id, "slot", slot) >= POST_PROBABILITY:
        return None
    ms = int((slot + unit(seed, "ts", account.id, "at", slot)) * _slot_ms(account))
    if ms < _created_ms(account):
        return None
    key = (seed, "ts", account.id, slot)
    others = [a for a in ACCOUNTS if a.id != account.id]
    kind = unit(*key, "kind")
    if depth == 0 and kind < 0.1:
        original = _earlier_status(seed, pick(tuple(a.username for a in others), *key, "rb"), ms, depth)
        if original is not None:
            return Status(
                snowflake(ms, int(unit(*key, "seq") * 65536)),
                account,
                ms,
                slot,
                "",
                (),
                (),
                None,
                0,
                "",
                None,
                original,
            )
    reply_to = None
    if depth == 0 and kind < 0.2:
        reply_to = _earlier_status(seed, pick(tuple(a.username for a in others), *key, "re"), ms, depth)
    if kind < 0.6:
        text = pick(_MARKET_LINES, *key, "line").format(company=pick(_COMPANIES, *key, "co"))
    else:
        text = pick(_OTHER_LINES, *key, "line").format(place=pick(_PLACES, *key, "place"))
    tags = (pick(_TAGS, *key, "tag"),) if unit(*key, "tags") < 0.06 else ()
    mentions: tuple[Account, ...] = (
        (_BY_NAME[pick(tuple(a.username.lower() for a in others), *key, "m")],)
        if unit(*key, "m?") < 0.08
        else ()
    )
    if reply_to is not None:
        mentions = (reply_to.account, *[m for m in mentions if m.id != reply_to.account.id])
    link = _LINKS[int(unit(*key, "link") * len(_LINKS))] if unit(*key, "link?") < 0.2 else None
    media_roll = unit(*key, "media")
    media = 0 if media_roll >= 0.22 else 1 + int(media_roll * 12) % 3
    media_type = "video" if unit(*key, "mtype") < 0.25 else "image"
    return Status(
        id=snowflake(ms, int(unit(*key, "seq") * 65536)), account=account, ms=ms, slot=slot, text=text, tags=tags,
        mentions=mentions, link=link, media=media, media_type=media_type, reply_to=reply_to, reblog_of=None,
    )  # fmt: skip


def _earlier_status(seed: int, username: str, before_ms: int, depth: int) -> Status | None:
    account = _BY_NAME[username.lower()]
    slot = math.floor(before_ms / _slot_ms(account))
    for back in range(1, 60):
        status = status_in_slot(seed, account, slot - back, depth=depth + 1)
        if status is not None and status.ms < before_ms:
            return status
    return None


def statuses_between(
    seed: int, account: Account, *, newest_ms: int, oldest_ms: int, limit: int, exclude_replies: bool = False,
    ascending: bool = False,
) -> list[Status]:  # fmt: skip
    """Up to ``limit`` statuses with ``oldest_ms <= ms <= newest_ms`` (newest first unless ``ascending``)."""
    slot_ms = _slot_ms(account)
    oldest_ms = max(oldest_ms, _created_ms(account))
    if newest_ms < oldest_ms:
        return []
    first, last = math.floor(newest_ms / slot_ms), math.floor(oldest_ms / slot_ms)
    slots = range(last, first + 1) if ascending else range(first, last - 1, -1)
    found: list[Status] = []
    for slot in slots:
        status = status_in_slot(seed, account, slot)
        if status is None or not oldest_ms <= status.ms <= newest_ms:
            continue
        if exclude_replies and status.reply_to is not None:
            continue
        found.append(status)
        if len(found) >= limit:
            break
    return found


def latest_status_ms(seed: int, account: Account, now_ms: int) -> int | None:
    found = statuses_between(seed, account, newest_ms=now_ms, oldest_ms=now_ms - 30 * 86_400_000, limit=1)
    return found[0].ms if found else None


def pinned_statuses(seed: int, account: Account, now_ms: int) -> list[Status]:
    """One older pinned status per account (its first status after a fixed day)."""
    anchor = max(_created_ms(account), now_ms - 200 * 86_400_000)
    found = statuses_between(
        seed, account, newest_ms=anchor + 7 * 86_400_000, oldest_ms=anchor, limit=1, ascending=True
    )
    return found


def _html_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("'", "&#39;")


def _content(status: Status) -> str:
    parts = []
    for mention in status.mentions:
        parts.append(
            f'<span class="h-card"><a href="{SITE}/@{mention.username}" class="u-url mention">@<span>{mention.username}</span></a></span>'
        )
    parts.append(_html_escape(status.text))
    for tag in status.tags:
        parts.append(f'<a href="{SITE}/tags/{tag}" class="mention hashtag" rel="tag">#<span>{tag}</span></a>')
    body = " ".join(parts)
    if status.link is not None:
        url = status.link[0]
        scheme, rest = url.split("://", 1)
        body += (
            f'<br/><a href="{url}" rel="nofollow noopener noreferrer" target="_blank">'
            f'<span class="invisible">{scheme}://</span><span class="ellipsis">{rest[:30]}</span>'
            f'<span class="invisible">{rest[30:]}</span></a>'
        )
    return f"<p>{body}</p>"


def _counts(seed: int, status: Status, now_ms: int) -> tuple[int, int, int]:
    age_h = max(0.0, (now_ms - status.ms) / 3_600_000)
    growth = 1 - math.exp(-age_h / 3)
    reach = status.account.followers * (0.001 + 0.004 * unit(seed, "ts", status.id, "reach") ** 2) * growth
    return int(reach * 0.15), int(reach * 0.25), int(reach)


def status_object(seed: int, status: Status, now_ms: int, *, pinned: bool = False) -> dict[str, Any]:
    """The status JSON, with every key of docs/providers.md §7.3 in truthbrush's order."""
    account = status.account
    url = f"{SITE}/@{account.username}/{status.id}"
    reblog = status_object(seed, status.reblog_of, now_ms) if status.reblog_of is not None else None
    replies, reblogs, favourites = _counts(seed, status, now_ms)
    media = [_media(seed, status, i) for i in range(status.media)]
    card = None
    if status.link is not None:
        link_url, title, provider, domain = status.link
        card = {
            "url": link_url,
            "title": title,
            "description": f"{title}. Read more at {domain}.",
            "image": f"{ASSETS}/cache/preview_cards/images/{status.id % 1000:03d}/original/{domain.split('.')[0]}.jpg",
            "type": "link",
            "provider_name": provider,
        }
    return {
        "id": str(status.id),
        "created_at": _iso(status.ms),
        "in_reply_to_id": str(status.reply_to.id) if status.reply_to else None,
        "quote_id": None,
        "in_reply_to_account_id": status.reply_to.account.id if status.reply_to else None,
        "sensitive": False,
        "spoiler_text": "",
        "visibility": "public",
        "language": None if reblog is not None else "en",
        "uri": f"{SITE}/users/{account.username}/statuses/{status.id}",
        "url": url,
        "content": "" if reblog is not None else _content(status),
        "account": account_object(account, now_ms, seed),
        "media_attachments": media,
        "mentions": [
            {"id": m.id, "username": m.username, "acct": m.username, "url": f"{SITE}/@{m.username}"}
            for m in status.mentions
        ],
        "tags": [{"name": tag, "url": f"{SITE}/tags/{tag}"} for tag in status.tags],
        "card": card,
        "group": None,
        "quote": None,
        "in_reply_to": None,
        "reblog": reblog,
        "sponsored": False,
        "replies_count": replies,
        "reblogs_count": reblogs,
        "favourites_count": favourites,
        "favourited": False,
        "reblogged": False,
        "muted": False,
        "pinned": pinned,
        "bookmarked": False,
        "poll": None,
        "emojis": [],
    }


def _media(seed: int, status: Status, index: int) -> dict[str, Any]:
    media_id = snowflake(status.ms - 5000 - index, int(unit(seed, "ts", status.id, "media", index) * 65536))
    path = "/".join(str(media_id)[i : i + 3] for i in range(0, 18, 3))
    ext = "mp4" if status.media_type == "video" else "jpg"
    return {
        "id": str(media_id),
        "type": status.media_type,
        "url": f"{ASSETS}/media_attachments/files/{path}/original/{media_id % 100000:05d}.{ext}",
        "preview_url": f"{ASSETS}/media_attachments/files/{path}/small/{media_id % 100000:05d}.jpg",
        "remote_url": None,
        "preview_remote_url": None,
        "text_url": None,
        "description": None,
        "blurhash": "UEHV6nWB2yk8pyo0adR*.7kCMdnj",
        "meta": {"original": {"width": 1200, "height": 800}, "small": {"width": 600, "height": 400}},
    }


# -- trends -----------------------------------------------------------------------------------------

_TREND_TAGS = (
    "Trump", "MAGA", "Tariffs", "Bitcoin", "Economy", "StockMarket", "AmericaFirst", "Crypto", "Jobs", "Energy",
    "Fed", "Inflation", "Trade", "China", "Border", "Election", "Gold", "Oil", "Tesla", "AI", "Nvidia", "Dollar",
    "Taxes", "Manufacturing", "Farmers",
)  # fmt: skip


def trending_tags(seed: int, now: float, count: int = 20) -> list[dict[str, Any]]:
    """``/v1/trends``: ``count`` tags with 7 days of string-typed history, newest first (docs/providers.md §7.4)."""
    today = int(now // 86400) * 86400
    scored: list[tuple[int, str, list[dict[str, Any]]]] = []
    for tag in _TREND_TAGS:
        base = 200 + 6000 * unit(seed, "trend", tag) ** 2
        days: list[dict[str, Any]] = []
        today_uses = 0
        for days_ago in range(7):
            day = today - days_ago * 86400
            uses = int(base * (0.3 + 1.4 * unit(seed, "trend", tag, day)))
            if days_ago == 0:
                uses = int(uses * min(1.0, (now - today) / 86400 + 0.05))
            accounts = int(uses * (0.35 + 0.3 * unit(seed, "trend-acc", tag, day)))
            days.append({"day": str(day), "accounts": str(accounts), "days_ago": days_ago, "uses": str(uses)})
            if days_ago == 0:
                today_uses = uses
        scored.append((today_uses, tag, days))
    scored.sort(key=lambda item: (-item[0], item[1]))
    return [
        {
            "name": tag,
            "url": f"{SITE}/tags/{tag}",
            "recent_statuses_count": uses,
            "history": days,
            "recent_history": days[:1],
        }
        for uses, tag, days in scored[:count]
    ]


def trending_statuses(seed: int, now_ms: int, limit: int) -> list[Status]:
    """``/v1/truth/trending/truths``: the most-favourited statuses of the last 24 hours."""
    pool: list[tuple[int, Status]] = []
    for account in ACCOUNTS:
        for status in statuses_between(
            seed, account, newest_ms=now_ms, oldest_ms=now_ms - 86_400_000, limit=100
        ):
            if status.reblog_of is None:
                pool.append((_counts(seed, status, now_ms)[2], status))
    pool.sort(key=lambda item: (-item[0], -item[1].id))
    return [status for _score, status in pool[:limit]]
