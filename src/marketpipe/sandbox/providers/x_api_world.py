"""X (Twitter) accounts and their posts, as pure functions of the seed and the sandbox clock.

Each account posts at deterministic instants: time is cut into slots of ``86400 / posts_per_day``
seconds and a slot holds one post when a seeded coin flip says so. A post's id is a real-layout
snowflake (``(ms - twepoch) << 22 | worker << 12 | sequence``), so ids sort by time and ``since_id`` /
``until_id`` translate to time bounds. Posts appear as the clock passes their instant; their public
metrics grow with age.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from marketpipe.sandbox.providers.coingecko_universe import pick, unit

TWEPOCH_MS = 1288834974657
#: X serves only about this many of an account's most recent posts (docs/providers.md §6.1).
TIMELINE_DEPTH = 3200
POST_PROBABILITY = 0.85


@dataclass(frozen=True)
class Account:
    """A simulated X account (the seed's core investors, crypto, tech, media and corporate lists)."""

    username: str
    id: str
    name: str
    created_at: str
    description: str
    verified_type: str  # blue | business | government | none
    followers: int
    following: int
    listed: int
    location: str
    url: str
    posts_per_day: float
    tickers: tuple[str, ...]  # cashtags this account talks about
    hashtags: tuple[str, ...]
    suspended: bool = False
    protected: bool = False


def _account(
    username: str,
    uid: str,
    name: str,
    created: str,
    followers: int,
    per_day: float,
    tickers: tuple[str, ...],
    hashtags: tuple[str, ...],
    description: str = "",
    vtype: str = "blue",
    location: str = "",
    url: str = "",
    **flags: bool,
) -> Account:
    return Account(
        username=username,
        id=uid,
        name=name,
        created_at=created,
        description=description,
        verified_type=vtype,
        followers=followers,
        following=max(1, int(math.sqrt(followers) / 3)),
        listed=followers // 900,
        location=location,
        url=url,
        posts_per_day=per_day,
        tickers=tickers,
        hashtags=hashtags,
        **flags,
    )


ACCOUNTS: tuple[Account, ...] = (
    _account(
        "elonmusk",
        "44196397",
        "Elon Musk",
        "2009-06-02T20:12:29.000Z",
        219_000_000,
        60,
        ("TSLA", "DOGE", "BTC"),
        ("Starship", "AI", "Tesla"),
    ),
    _account(
        "RayDalio",
        "62603893",
        "Ray Dalio",
        "2009-08-03T19:46:14.000Z",
        1_200_000,
        3,
        ("GLD", "SPY", "BTC"),
        ("Principles", "Debt"),
    ),
    _account(
        "jimcramer",
        "14216123",
        "Jim Cramer",
        "2008-03-24T19:11:56.000Z",
        2_100_000,
        25,
        ("AAPL", "NVDA", "AMZN", "META"),
        ("MadMoney", "Stocks"),
    ),
    _account(
        "tim_cook",
        "1636590253",
        "Tim Cook",
        "2013-07-31T17:43:16.000Z",
        14_000_000,
        0.6,
        ("AAPL",),
        ("Apple", "WWDC"),
        vtype="blue",
        location="Cupertino",
    ),
    _account(
        "Oracle",
        "809273",
        "Oracle",
        "2007-03-04T01:21:47.000Z",
        900_000,
        4,
        ("ORCL",),
        ("OracleCloud", "AI"),
        vtype="business",
        url="https://t.co/oracle",
    ),
    _account(
        "sundarpichai",
        "14130366",
        "Sundar Pichai",
        "2008-03-12T05:51:53.000Z",
        5_600_000,
        1,
        ("GOOGL",),
        ("GoogleAI", "Gemini"),
    ),
    _account(
        "BitCoin",
        "357312062",
        "Bitcoin",
        "2011-08-17T21:15:37.000Z",
        7_500_000,
        6,
        ("BTC",),
        ("Bitcoin", "BTC"),
    ),
    _account(
        "saylor",
        "244647486",
        "Michael Saylor",
        "2011-01-29T20:15:34.000Z",
        4_200_000,
        8,
        ("BTC", "MSTR"),
        ("Bitcoin", "BTC"),
    ),
    _account(
        "brian_armstrong",
        "14379660",
        "Brian Armstrong",
        "2008-04-14T02:05:44.000Z",
        1_400_000,
        2,
        ("COIN", "BTC", "ETH"),
        ("Base", "crypto"),
    ),
    _account(
        "CoinbaseAssets",
        "1333467482",
        "Coinbase Assets",
        "2013-04-17T18:30:11.000Z",
        600_000,
        3,
        ("COIN", "SOL", "ETH"),
        ("listing",),
        vtype="business",
    ),
    _account(
        "jeffbezos",
        "15506669",
        "Jeff Bezos",
        "2008-07-20T22:04:55.000Z",
        6_800_000,
        0.4,
        ("AMZN",),
        ("BlueOrigin",),
    ),
    _account(
        "Meta",
        "1371227935",
        "Meta",
        "2013-04-03T22:09:02.000Z",
        1_800_000,
        2,
        ("META",),
        ("MetaAI", "Llama"),
        vtype="business",
    ),
    _account(
        "Palantir",
        "701207744",
        "Palantir",
        "2012-07-17T14:21:43.000Z",
        900_000,
        2,
        ("PLTR",),
        ("AIP",),
        vtype="business",
    ),
    _account(
        "IonQ",
        "3106483719",
        "IonQ",
        "2015-03-23T16:33:50.000Z",
        110_000,
        1.5,
        ("IONQ",),
        ("QuantumComputing",),
        vtype="business",
    ),
    _account(
        "Ethereum",
        "2312333412",
        "Ethereum",
        "2014-02-03T03:32:04.000Z",
        3_600_000,
        2,
        ("ETH",),
        ("Ethereum", "ETH"),
    ),
    _account(
        "CNBC",
        "20402945",
        "CNBC",
        "2009-02-08T22:35:42.000Z",
        5_000_000,
        80,
        ("SPY", "AAPL", "NVDA", "TSLA", "JPM", "XOM"),
        ("markets", "economy"),
        vtype="business",
    ),
    _account(
        "Tether",
        "3102349617",
        "Tether",
        "2015-04-01T10:01:12.000Z",
        400_000,
        2,
        ("USDT", "BTC"),
        ("Tether", "USDT"),
        vtype="business",
    ),
    _account(
        "WSJ",
        "3108351",
        "The Wall Street Journal",
        "2007-03-15T23:00:00.000Z",
        21_000_000,
        70,
        ("SPY", "MSFT", "GOOGL", "BA", "JPM"),
        ("WSJ", "markets"),
        vtype="business",
    ),
    _account(
        "Tesla",
        "13298072",
        "Tesla",
        "2008-02-27T14:03:21.000Z",
        24_000_000,
        1.5,
        ("TSLA",),
        ("Cybertruck", "FSD"),
        vtype="business",
    ),
    _account(
        "nvidia",
        "61559439",
        "NVIDIA",
        "2009-07-30T20:42:09.000Z",
        2_400_000,
        4,
        ("NVDA",),
        ("GTC", "AI"),
        vtype="business",
    ),
    _account(
        "CathieDWood",
        "2361631088",
        "Cathie Wood",
        "2014-02-25T18:40:34.000Z",
        1_600_000,
        5,
        ("TSLA", "COIN", "ROKU", "BTC"),
        ("innovation",),
    ),
    _account(
        "cryptopumpdump",
        "1555000000000000001",
        "pump signals",
        "2022-08-04T10:00:00.000Z",
        1200,
        10,
        ("DOGE",),
        ("100x",),
        vtype="none",
        suspended=True,
    ),
)

_BY_NAME = {a.username.lower(): a for a in ACCOUNTS}
_BY_ID = {a.id: a for a in ACCOUNTS}


def account_by_username(username: str) -> Account | None:
    """Usernames are case-insensitive on X (``oracle`` finds ``Oracle``)."""
    return _BY_NAME.get(username.lower())


def account_by_id(user_id: str) -> Account | None:
    return _BY_ID.get(user_id)


def _iso(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_rfc3339(value: str) -> float:
    """Unix seconds of an RFC 3339 timestamp (``2024-05-31T14:02:11Z`` or with ``.000Z``/offset)."""
    text = value.strip()
    if text.endswith("Z") or text.endswith("z"):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("timestamp without a zone")
    return moment.timestamp()


def snowflake_ms(post_id: int) -> int:
    """The creation time (epoch ms) encoded in an X snowflake id."""
    return (post_id >> 22) + TWEPOCH_MS


def _slot_seconds(account: Account) -> float:
    return 86400.0 / account.posts_per_day


def _created_s(account: Account) -> float:
    return parse_rfc3339(account.created_at)


# -- posts ---------------------------------------------------------------------------------------

_COMPANIES = {
    "TSLA": "Tesla",
    "AAPL": "Apple",
    "NVDA": "NVIDIA",
    "AMZN": "Amazon",
    "META": "Meta",
    "ORCL": "Oracle",
    "GOOGL": "Google",
    "MSTR": "MicroStrategy",
    "COIN": "Coinbase",
    "PLTR": "Palantir",
    "IONQ": "IonQ",
    "SPY": "S&P 500",
    "JPM": "JPMorgan Chase",
    "XOM": "ExxonMobil",
    "MSFT": "Microsoft",
    "BA": "Boeing",
    "GLD": "Gold",
    "ROKU": "Roku",
    "BTC": "Bitcoin",
    "ETH": "Ethereum",
    "DOGE": "Dogecoin",
    "SOL": "Solana",
    "USDT": "Tether",
}
_CRYPTO = {"BTC", "ETH", "DOGE", "SOL", "USDT"}
_OPENERS = (
    "{c} looking strong into the close",
    "Big week ahead for {c}",
    "{c} deliveries beat expectations",
    "Watching {c} closely today",
    "Why {c} could surprise everyone this quarter",
    "{c} just hit a new high",
    "Long-term thinking beats short-term noise. {c}",
    "Huge progress from the team on {c}",
    "{c} and {c2}: the two charts that matter this week",
    "Earnings preview: what to expect from {c}",
)
_CLOSERS = (
    "",
    "",
    " #{h}",
    " More here: {u}",
    " {u}",
    " Thoughts @{m}?",
    " #{h} #{h2}",
    " (via @{m}) {u}",
)
_PLAIN = (
    "The future is going to be exciting",
    "Incredible work by the team today",
    "Interest rates matter more than most think",
    "Patience is a competitive advantage",
    "This is the way",
    "Great conversation this morning",
    "Stay curious",
)
_DOMAINS = (
    "cnbc.com/markets",
    "wsj.com/articles",
    "tesla.com/blog",
    "x.ai/news",
    "blog.coinbase.com",
    "nvidianews.nvidia.com",
)


@dataclass(frozen=True)
class Post:
    """One post, with everything any ``tweet.fields`` selection can ask for."""

    id: int
    account: Account
    ms: int
    text: str
    kind: str  # original | reply | retweet | quote
    reply_to: Account | None
    referenced_id: int | None
    urls: tuple[tuple[str, str, str], ...]  # (t.co, expanded, display)
    mention_ids: dict[str, str]
    note_text: str | None  # the full text of a long post (note_tweet)


def _post_id(seed: int, account: Account, ms: int) -> int:
    worker = int(unit(seed, account.id, "worker", ms) * 1024)
    sequence = int(unit(seed, account.id, "seq", ms) * 4096)
    return ((ms - TWEPOCH_MS) << 22) | (worker << 12) | sequence


def _tco(seed: int, *parts: object) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return "https://t.co/" + "".join(alphabet[int(unit(seed, "tco", *parts, i) * 62)] for i in range(10))


def post_in_slot(seed: int, account: Account, slot: int) -> Post | None:
    """The account's post in time slot ``slot`` (None: the slot is empty or before the account existed)."""
    if unit(seed, account.id, "slot", slot) >= POST_PROBABILITY:
        return None
    slot_s = _slot_seconds(account)
    ms = int((slot + unit(seed, account.id, "at", slot)) * slot_s * 1000)
    if ms / 1000 < _created_s(account):
        return None
    return _build_post(seed, account, slot, ms)


def _build_post(seed: int, account: Account, slot: int, ms: int) -> Post:
    key = (seed, account.id, slot)
    others = [a for a in ACCOUNTS if a.id != account.id and not a.suspended]
    roll = unit(*key, "kind")
    kind = "original"
    reply_to: Account | None = None
    referenced: int | None = None
    if roll < 0.12:
        kind = "reply"
        reply_to = others[int(unit(*key, "replyto") * len(others))]
    elif roll < 0.2:
        kind = "retweet"
        reply_to = others[int(unit(*key, "rtof") * len(others))]
    elif roll < 0.25:
        kind = "quote"
    if kind in ("reply", "retweet", "quote"):
        referenced = _post_id(
            seed, reply_to or account, ms - int(3_600_000 * (1 + 20 * unit(*key, "refage")))
        )
    tickers = account.tickers
    ticker = pick(tickers, *key, "t1")
    ticker2 = pick(tuple(_COMPANIES), *key, "t2")
    mention = pick(tuple(a.username for a in others), *key, "m")
    hashtag = pick(account.hashtags, *key, "h1")
    hashtag2 = pick(("investing", "markets", "crypto", "AI", "tech", "economy"), *key, "h2")
    url = _tco(seed, account.id, slot)
    if unit(*key, "plain") < 0.15:
        body = pick(_PLAIN, *key, "plain-text")
    else:
        opener = pick(_OPENERS, *key, "open").format(c="$" + ticker, c2="$" + ticker2)
        closer = pick(_CLOSERS, *key, "close").format(h=hashtag, h2=hashtag2, u=url, m=mention)
        body = opener + closer
    note_text: str | None = None
    if unit(*key, "long") < 0.05:
        long_text = body + " " + " ".join(pick(_PLAIN, *key, "long", i) + "." for i in range(12))
        note_text = long_text
        body = long_text[:270].rstrip() + "…"
    if kind == "reply" and reply_to is not None:
        body = f"@{reply_to.username} {body}"
        mention = reply_to.username
    elif kind == "retweet" and reply_to is not None:
        body = f"RT @{reply_to.username}: {body}"
        mention = reply_to.username
    elif kind == "quote":
        body = f"{body} {_tco(seed, account.id, slot, 'quote')}"
    urls: list[tuple[str, str, str]] = []
    for found in re.findall(r"https://t\.co/\w+", body):
        domain = pick(_DOMAINS, seed, found, "domain")
        path = f"{domain}/{int(unit(seed, found, 'path') * 1e6)}"
        urls.append((found, "https://" + path, path[:26] + ("…" if len(path) > 26 else "")))
    mention_ids = {a.username: a.id for a in ACCOUNTS if f"@{a.username}" in body}
    return Post(
        id=_post_id(seed, account, ms),
        account=account,
        ms=ms,
        text=body,
        kind=kind,
        reply_to=reply_to,
        referenced_id=referenced,
        urls=tuple(urls),
        mention_ids=mention_ids,
        note_text=note_text,
    )


def posts_between(
    seed: int,
    account: Account,
    *,
    newest_ms: int,
    oldest_ms: int,
    limit: int,
    exclude: frozenset[str] = frozenset(),
) -> list[Post]:
    """Up to ``limit`` posts with ``oldest_ms <= ms <= newest_ms``, newest first."""
    slot_ms = _slot_seconds(account) * 1000
    slot = math.floor(newest_ms / slot_ms)
    lowest_slot = math.floor(oldest_ms / slot_ms)
    found: list[Post] = []
    while slot >= lowest_slot and len(found) < limit:
        post = post_in_slot(seed, account, slot)
        slot -= 1
        if post is None or not oldest_ms <= post.ms <= newest_ms:
            continue
        if ("replies" in exclude and post.kind == "reply") or (
            "retweets" in exclude and post.kind == "retweet"
        ):
            continue
        found.append(post)
    return found


def timeline_floor_ms(account: Account, now_ms: int) -> int:
    """The oldest instant the timeline still reaches (≈ the 3,200 most recent posts)."""
    slots = math.ceil(TIMELINE_DEPTH / POST_PROBABILITY)
    return max(int(_created_s(account) * 1000), int(now_ms - slots * _slot_seconds(account) * 1000))


def newest_post(seed: int, account: Account, now_ms: int) -> Post | None:
    posts = posts_between(
        seed, account, newest_ms=now_ms, oldest_ms=timeline_floor_ms(account, now_ms), limit=1
    )
    return posts[0] if posts else None


# -- JSON objects -----------------------------------------------------------------------------------

DEFAULT_TWEET_FIELDS = ("id", "text", "edit_history_tweet_ids")


def _entities(post: Post, text: str) -> dict[str, list[dict[str, Any]]]:
    """Entity arrays with code-point offsets; empty arrays (and an empty object) are omitted."""
    entities: dict[str, list[dict[str, Any]]] = {}
    urls = []
    for tco, expanded, display in post.urls:
        start = text.find(tco)
        if start >= 0:
            urls.append(
                {
                    "start": start,
                    "end": start + len(tco),
                    "url": tco,
                    "expanded_url": expanded,
                    "display_url": display,
                }
            )
    hashtags = [{"start": m.start(), "end": m.end(), "tag": m.group(1)} for m in re.finditer(r"#(\w+)", text)]
    cashtags = [
        {"start": m.start(), "end": m.end(), "tag": m.group(1)}
        for m in re.finditer(r"\$([A-Z]{1,6})\b", text)
    ]
    mentions = [
        {"start": m.start(), "end": m.end(), "username": m.group(1), "id": post.mention_ids[m.group(1)]}
        for m in re.finditer(r"@(\w+)", text)
        if m.group(1) in post.mention_ids
    ]
    for name, items in (
        ("urls", urls),
        ("hashtags", hashtags),
        ("cashtags", cashtags),
        ("mentions", mentions),
    ):
        if items:
            entities[name] = items
    return entities


def _metrics(seed: int, post: Post, now_ms: int) -> dict[str, int]:
    age_h = max(0.0, (now_ms - post.ms) / 3_600_000)
    growth = 1 - math.exp(-age_h / 6)
    reach = post.account.followers * (0.0002 + 0.002 * unit(seed, post.id, "reach") ** 2)
    likes = int(reach * growth)
    return {
        "retweet_count": int(likes * 0.09),
        "reply_count": int(likes * 0.07),
        "like_count": likes,
        "quote_count": int(likes * 0.012),
        "bookmark_count": int(likes * 0.02),
        "impression_count": int(reach * 90 * growth),
    }


def _context_annotations(post: Post) -> list[dict[str, Any]]:
    annotations = []
    for match in dict.fromkeys(re.findall(r"\$([A-Z]{1,6})\b", post.text)):
        company = _COMPANIES.get(match)
        if company is None:
            continue
        domain = (
            {
                "id": "174",
                "name": "Digital Assets & Crypto",
                "description": "Digital assets like cryptocurrency and NFTs",
            }
            if match in _CRYPTO
            else {"id": "47", "name": "Brand", "description": "Brands and Companies"}
        )
        entity_id = str(10_000_000_000_000 + int(unit("entity", match) * 9e14))
        annotations.append({"domain": domain, "entity": {"id": entity_id, "name": company}})
    return annotations


def tweet_object(seed: int, post: Post, fields: set[str], now_ms: int) -> dict[str, Any]:
    """The v2 post object with the requested ``tweet.fields`` (id/text/edit history by default)."""
    data: dict[str, Any] = {"id": str(post.id), "text": post.text}
    wanted = fields | set(DEFAULT_TWEET_FIELDS)
    if "edit_history_tweet_ids" in wanted:
        data["edit_history_tweet_ids"] = [str(post.id)]
    if "author_id" in wanted:
        data["author_id"] = post.account.id
    if "created_at" in wanted:
        data["created_at"] = _iso(post.ms)
    if "conversation_id" in wanted:
        conversation = post.referenced_id if post.kind == "reply" and post.referenced_id else post.id
        data["conversation_id"] = str(conversation)
    if "in_reply_to_user_id" in wanted and post.kind == "reply" and post.reply_to is not None:
        data["in_reply_to_user_id"] = post.reply_to.id
    if "referenced_tweets" in wanted and post.referenced_id is not None:
        ref_type = {"reply": "replied_to", "retweet": "retweeted", "quote": "quoted"}[post.kind]
        data["referenced_tweets"] = [{"type": ref_type, "id": str(post.referenced_id)}]
    if "lang" in wanted:
        data["lang"] = "en" if re.search(r"[A-Za-z]{3}", post.text) else "und"
    if "possibly_sensitive" in wanted:
        data["possibly_sensitive"] = False
    if "reply_settings" in wanted:
        data["reply_settings"] = "everyone"
    if "public_metrics" in wanted:
        data["public_metrics"] = _metrics(seed, post, now_ms)
    if "entities" in wanted:
        entities = _entities(post, post.text)
        if entities:
            data["entities"] = entities
    if "context_annotations" in wanted:
        annotations = _context_annotations(post)
        if annotations:
            data["context_annotations"] = annotations
    if "note_tweet" in wanted and post.note_text is not None:
        note: dict[str, Any] = {"text": post.note_text}
        note_entities = _entities(post, post.note_text)
        if note_entities:
            note["entities"] = note_entities
        data["note_tweet"] = note
    if "edit_controls" in wanted:
        data["edit_controls"] = {
            "edits_remaining": 5,
            "is_edit_eligible": post.kind == "original",
            "editable_until": _iso(post.ms + 3_600_000),
        }
    return data


DEFAULT_USER_FIELDS = ("id", "name", "username")


def user_object(seed: int, account: Account, fields: set[str], now_ms: int) -> dict[str, Any]:
    """The v2 user object with the requested ``user.fields`` (id, name, username always)."""
    data: dict[str, Any] = {"id": account.id, "name": account.name, "username": account.username}
    if "created_at" in fields:
        data["created_at"] = account.created_at
    if "description" in fields:
        data["description"] = account.description
    if "location" in fields and account.location:
        data["location"] = account.location
    if "url" in fields:
        data["url"] = account.url
    if "protected" in fields:
        data["protected"] = account.protected
    if "verified" in fields:
        data["verified"] = account.verified_type != "none"
    if "verified_type" in fields:
        data["verified_type"] = account.verified_type
    if "profile_image_url" in fields:
        data["profile_image_url"] = (
            f"https://pbs.twimg.com/profile_images/{account.id[:10]}/{account.username.lower()}_normal.jpg"
        )
    if "most_recent_tweet_id" in fields:
        newest = newest_post(seed, account, now_ms)
        if newest is not None:
            data["most_recent_tweet_id"] = str(newest.id)
    if "public_metrics" in fields:
        years = max(0.1, (now_ms / 1000 - _created_s(account)) / (365.25 * 86400))
        data["public_metrics"] = {
            "followers_count": int(account.followers * (1 + 0.00001 * (now_ms / 86_400_000 % 1000))),
            "following_count": account.following,
            "tweet_count": int(account.posts_per_day * 365.25 * years * POST_PROBABILITY),
            "listed_count": account.listed,
            "like_count": int(account.posts_per_day * 200 * years) + 10,
            "media_count": int(account.posts_per_day * 30 * years),
        }
    return data
