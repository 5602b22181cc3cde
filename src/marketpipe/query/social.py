"""Social posts (X and Truth Social) by account or mentioning a ticker, with our VADER score per
ticker each post mentions (no provider scores posts)."""

from __future__ import annotations

import re

from marketpipe.query import core, sentiment
from marketpipe.query.core import BadInput, Source
from marketpipe.query.models import Post, PostsPage, TickerSentiment

MAX_POSTS = 100
MAX_TEXT = 2000

_PAGE = (
    """AND (%(ts)s::timestamptz IS NULL OR created_at < %(ts)s OR (created_at = %(ts)s AND id < %(key)s))"""
)

_X = f"""SELECT 'x' AS network, tweet_id AS id, coalesce(username, source_account) AS account, display_name,
                created_at, text, NULL::text AS url, like_count AS likes, retweet_count AS reposts,
                reply_count AS replies
           FROM (SELECT *, tweet_id AS id FROM x_posts) p
          WHERE (%(account)s::text IS NULL OR lower(source_account) = lower(%(account)s)
                 OR lower(username) = lower(%(account)s))
            AND (%(word)s::text IS NULL OR text ~ %(word)s) {_PAGE}
          ORDER BY created_at DESC, id DESC LIMIT %(n)s"""
_TRUTH = f"""SELECT 'truth_social' AS network, id, username AS account, display_name, created_at,
                    coalesce(clean_content, content) AS text, url, favourites_count AS likes,
                    reblogs_count AS reposts, replies_count AS replies
               FROM truth_social_posts
              WHERE (%(account)s::text IS NULL OR lower(username) = lower(%(account)s))
                AND (%(word)s::text IS NULL OR coalesce(clean_content, content) ~ %(word)s) {_PAGE}
              ORDER BY created_at DESC, id DESC LIMIT %(n)s"""


async def posts(
    src: Source,
    account: str | None = None,
    ticker: str | None = None,
    limit: int = 20,
    cursor: str | None = None,
) -> PostsPage:
    """Posts by ``account`` and/or mentioning ``ticker`` (as a word or a ``$cashtag``), newest first."""
    if account is None and ticker is None:
        raise BadInput("pass account or ticker")
    acct = core.account(account) if account is not None else None
    sym = core.symbol(ticker, "ticker") if ticker is not None else None
    limit = core.limit(limit, MAX_POSTS)
    after = core.decode_cursor(cursor)
    params = {
        "account": acct,
        "word": rf"(^|[^A-Za-z0-9])\$?{re.escape(sym)}([^A-Za-z0-9]|$)" if sym else None,
        "ts": after[0] if after else None,
        "key": after[1] if after else "",
        "n": limit + 1,
    }
    rows = await src.rows(_X, params) + await src.rows(_TRUTH, params)
    rows.sort(key=lambda r: (r["created_at"], r["id"]), reverse=True)
    page = rows[:limit]
    items = []
    for r in page:
        text = r["text"][:MAX_TEXT]
        tickers = ([sym] if sym else []) + sentiment.cashtags(text)
        items.append(
            Post(
                **{**r, "text": text},
                sentiment=[
                    TickerSentiment(ticker=t, score=s, label=lab, model="vader")
                    for t, s, lab in sentiment.per_ticker(text, tickers[:10])
                ],
            )
        )
    more = len(rows) > limit
    return PostsPage(
        items=items,
        next_cursor=core.encode_cursor(page[-1]["created_at"], page[-1]["id"]) if more and page else None,
    )
