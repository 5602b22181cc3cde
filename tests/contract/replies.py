"""Literal provider replies, copied verbatim from the providers' documented examples (the project's
provider reference, which quotes each provider's public docs and captures; values illustrative where
the docs say so). Independent of the sandbox: parsers and classifiers are tested on these exact
bodies, including the quirks (AV refusals as HTTP 200, the CSV quota row, FRED's "." marker, NewsAPI's
7-digit fractions, X's HTTP-200 errors and next_token, Truth Social's reblog wrapper).
"""

from __future__ import annotations

# -- Alpha Vantage -----------------------------------------------------------------------------------

AV_OVERVIEW = """{
  "Symbol": "IBM", "AssetType": "Common Stock", "Name": "International Business Machines",
  "CIK": "51143", "Exchange": "NYSE", "Currency": "USD", "Country": "USA", "Sector": "TECHNOLOGY",
  "Industry": "COMPUTER & OFFICE EQUIPMENT", "FiscalYearEnd": "December",
  "LatestQuarter": "2024-03-31", "MarketCapitalization": "161692500000", "PERatio": "19.96",
  "DividendYield": "0.038", "AnalystTargetPrice": "181.05", "AnalystRatingStrongBuy": "4",
  "ForwardPE": "18.12", "52WeekHigh": "197.22", "SharesOutstanding": "918603000",
  "DividendDate": "2024-06-10", "ExDividendDate": "2024-05-09"
}"""

AV_BALANCE_SHEET = """{
  "symbol": "AAPL",
  "annualReports": [
    {
      "fiscalDateEnding": "2024-09-30",
      "reportedCurrency": "USD",
      "totalAssets": "364980000000",
      "totalCurrentAssets": "152987000000",
      "cashAndCashEquivalentsAtCarryingValue": "29943000000",
      "intangibleAssets": "None",
      "goodwill": "None",
      "totalLiabilities": "308030000000",
      "totalShareholderEquity": "56950000000",
      "treasuryStock": "None",
      "retainedEarnings": "-19154000000",
      "commonStockSharesOutstanding": "15116786000"
    }
  ],
  "quarterlyReports": [ { "fiscalDateEnding": "2024-12-31", "reportedCurrency": "USD", "totalAssets": "344085000000" } ]
}"""

AV_EARNINGS = """{
  "symbol": "AAPL",
  "annualEarnings": [ { "fiscalDateEnding": "2024-09-30", "reportedEPS": "6.08" } ],
  "quarterlyEarnings": [
    { "fiscalDateEnding": "2024-12-31", "reportedDate": "2025-01-30", "reportedEPS": "2.40",
      "estimatedEPS": "2.34", "surprise": "0.06", "surprisePercentage": "2.5641",
      "reportTime": "post-market" },
    { "fiscalDateEnding": "2024-03-31", "reportedDate": "2024-05-02", "reportedEPS": "1.53",
      "estimatedEPS": "1.50", "surprise": "0.03", "surprisePercentage": "2.00" }
  ]
}"""

AV_EARNINGS_CALENDAR_CSV = (
    "symbol,name,reportDate,fiscalDateEnding,estimate,currency,timeOfTheDay\r\n"
    "NVDA,NVIDIA Corp,2026-05-27,2026-04-30,0.88,USD,post-market\r\n"
    "AAPL,Apple Inc,2026-07-30,2026-06-30,,USD,post-market\r\n"
)

AV_IPO_CALENDAR_CSV = """symbol,name,ipoDate,priceRangeLow,priceRangeHigh,currency,exchange
ACME,Acme Corp,2026-03-15,18.00,20.00,USD,NASDAQ
KTWOR,K2 Capital Acquisition Corporation Rights,2026-02-25,0,0,USD,NASDAQ
"""

AV_CSV_QUOTA = """symbol,name,reportDate,fiscalDateEnding,estimate,currency,timeOfTheDay
I,n,f,o,r,m,a
"""

AV_TOP_GAINERS = """{
  "metadata": "Top gainers, losers, and most actively traded US tickers",
  "last_updated": "2025-11-06 16:16:00 US/Eastern",
  "top_gainers": [
    { "ticker": "JGH^", "price": "0.0108", "change_amount": "0.0062", "change_percentage": "134.7826%", "volume": "393947" }
  ],
  "top_losers": [
    { "ticker": "TLGYW", "price": "0.0433", "change_amount": "-0.0418", "change_percentage": "-49.1187%", "volume": "4" }
  ],
  "most_actively_traded": [
    { "ticker": "AMC", "price": "5.23", "change_amount": "2.32", "change_percentage": "79.7251%", "volume": "478354501" }
  ]
}"""

AV_NEWS_SENTIMENT = """{
  "items": "50",
  "sentiment_score_definition": "x <= -0.35: Bearish; -0.35 < x <= -0.15: Somewhat-Bearish; -0.15 < x < 0.15: Neutral; 0.15 <= x < 0.35: Somewhat_Bullish; x >= 0.35: Bullish",
  "relevance_score_definition": "0 < x <= 1, with a higher score indicating higher relevance.",
  "feed": [
    {
      "title": "Investigating Apple's Standing In Technology Hardware ... - Apple  ( NASDAQ:AAPL ) ",
      "url": "https://www.benzinga.com/insights/news/25/11/48688455/investigating-apples-standing",
      "time_published": "20251106T150118",
      "authors": ["Benzinga Insights"],
      "summary": "In the dynamic and cutthroat world of business, ...",
      "banner_image": "https://www.benzinga.com/next-assets/images/benzinga-schema-image-default.png",
      "source": "Benzinga",
      "category_within_source": "Markets",
      "source_domain": "www.benzinga.com",
      "topics": [
        { "topic": "Earnings", "relevance_score": "0.875462" },
        { "topic": "Technology", "relevance_score": "1.0" }
      ],
      "overall_sentiment_score": 0.249276,
      "overall_sentiment_label": "Somewhat-Bullish",
      "ticker_sentiment": [
        { "ticker": "AAPL", "relevance_score": "0.480056", "ticker_sentiment_score": "0.303491", "ticker_sentiment_label": "Somewhat-Bullish" }
      ]
    }
  ]
}"""

AV_CPI = """{
  "name": "Consumer Price Index for all Urban Consumers",
  "interval": "monthly",
  "unit": "index 1982-1984=100",
  "data": [
    { "date": "2023-11-01", "value": "307.051" },
    { "date": "2023-10-01", "value": "307.671" }
  ]
}"""

AV_DAILY_QUOTA = '{"Information": "Thank you for using Alpha Vantage! Our standard API rate limit is 25 requests per day. Please subscribe to any of the premium plans at https://www.alphavantage.co/premium/ to instantly remove all daily rate limits."}'
#: The burst refusal as captured from the live API (issue 10): it mentions "25 requests per day".
AV_BURST = '{"Information": "Thank you for using Alpha Vantage! Please consider spreading out your free API requests more sparingly (1 request per second). You may subscribe to any of the premium plans at https://www.alphavantage.co/premium/ to lift the free key rate limit (25 requests per day), raise the per-second burst limit, and instantly unlock all premium endpoints"}'
AV_LEGACY_NOTE = '{"Note": "Thank you for using Alpha Vantage! Our standard API call frequency is 5 calls per minute and 500 calls per day. Please visit https://www.alphavantage.co/premium/ if you would like to target a higher API call frequency."}'
AV_PREMIUM = '{"Information": "Thank you for using Alpha Vantage! This is a premium endpoint. You may subscribe to any of the premium plans at https://www.alphavantage.co/premium/ to instantly unlock all premium endpoints"}'
AV_DEMO = '{"Information": "The **demo** API key is for demo purposes only. Please claim your free API key at (https://www.alphavantage.co/support/#api-key) to explore our full API offerings. It takes fewer than 20 seconds."}'
AV_INVALID_KEY = '{"Error Message": "the parameter apikey is invalid or missing. Please claim your free API key on (https://www.alphavantage.co/support/#api-key). It should take less than 20 seconds."}'
AV_INVALID_CALL = '{"Error Message": "Invalid API call. Please retry or visit the documentation (https://www.alphavantage.co/documentation/) for TIME_SERIES_DAILY."}'
AV_NO_ARTICLES = '{"Information": "No articles found. Please adjust the time range or refer to the API documentation https://www.alphavantage.co/documentation#newsapi and try again."}'

# -- Finnhub -----------------------------------------------------------------------------------------

FINNHUB_NEWS = """[
  {
    "category": "top news",
    "datetime": 1763312400,
    "headline": "The stock market faces big questions about the economy this week.",
    "id": 7555018,
    "image": "https://static2.finnhub.io/file/publicdatany/finnhubimage/market_watch_logo.png",
    "related": "",
    "source": "MarketWatch",
    "summary": "Stock investors may be in for an unsettling start to the week ...",
    "url": "https://www.marketwatch.com/story/the-stock-market-faces-big-questions-fd7f5e2c"
  }
]"""

# -- FRED --------------------------------------------------------------------------------------------

FRED_OBSERVATIONS = """{
  "realtime_start": "2026-05-04", "realtime_end": "2026-05-04", "observation_start": "1776-07-04",
  "observation_end": "9999-12-31", "units": "lin", "output_type": 1, "file_type": "json",
  "order_by": "observation_date", "sort_order": "desc", "count": 952, "offset": 0, "limit": 2,
  "observations": [
    {
      "realtime_start": "2026-05-04", "realtime_end": "2026-05-04", "date": "2026-03-01",
      "value": "330.293"
    },
    {
      "realtime_start": "2026-05-04", "realtime_end": "2026-05-04", "date": "2026-02-01",
      "value": "."
    }
  ]
}"""
FRED_BAD_KEY = '{"error_code": 400, "error_message": "Bad Request.  The value for variable api_key is not a 32 character alpha-numeric lower-case string.  Read https://fred.stlouisfed.org/docs/api/api_key.html for more information."}'
FRED_THROTTLED = '{"error_code": 429, "error_message": "Too Many Requests.  Exceeded Rate Limit"}'

# -- NewsAPI -----------------------------------------------------------------------------------------

NEWSAPI_EVERYTHING = """{
  "status": "ok",
  "totalResults": 131,
  "articles": [
    {
      "source": { "id": "bbc-news", "name": "BBC News" },
      "author": "BBC News",
      "title": "US military plane carrying eight crashes off Japanese coast",
      "description": "Japanese broadcaster NHK said the Osprey was trying to land at Yakushima airport.",
      "url": "http://www.bbc.co.uk/news/world-asia-67563915",
      "urlToImage": "https://ichef.bbci.co.uk/news/1024/branded_news/0E83/production/_115651730_breaking-promo-976.png",
      "publishedAt": "2023-11-29T07:52:18.8294287Z",
      "content": "A US military aircraft with eight servicemen on board has crashed off the coast of Japan.\\r\\nJapanese officials said the CV-22 Osprey ... [+743 chars]"
    },
    {
      "source": { "id": null, "name": "New York Post" },
      "author": null,
      "title": "Ozempic may significantly lower the risk of Alzheimer's disease - New York Post",
      "description": null,
      "url": "https://nypost.com/2024/10/24/lifestyle/ozempic-may-lower-the-risk-of-alzheimers-disease-new-study/",
      "urlToImage": null,
      "publishedAt": "2024-10-24T11:00:00Z",
      "content": null
    }
  ]
}"""
NEWSAPI_RATE_LIMITED = '{"status":"error","code":"rateLimited","message":"You have made too many requests recently. Developer accounts are limited to 100 requests over a 24 hour period (50 requests available every 12 hours). Please upgrade to a paid plan if you need more requests."}'

# -- FMP ---------------------------------------------------------------------------------------------

FMP_SP500 = """[
  { "symbol": "APO", "name": "Apollo Global Management", "sector": "Financial Services",
    "subSector": "Asset Management - Global", "headQuarter": "New York City, New York",
    "dateFirstAdded": "2024-12-23", "cik": "0001858681", "founded": "1990" }
]"""
FMP_LEGACY = '{"Error Message": "Legacy Endpoint : Due to Legacy endpoints being no longer supported - This endpoint is only available for legacy users who have valid subscriptions prior August 31, 2025. Please visit our documentation page https://site.financialmodelingprep.com/developer/docs for our current APIs."}'

# -- X -----------------------------------------------------------------------------------------------

X_USER = """{
  "data": {
    "id": "44196397", "name": "Elon Musk", "username": "elonmusk",
    "created_at": "2009-06-02T20:12:29.000Z", "description": "", "verified": true,
    "profile_image_url": "https://pbs.twimg.com/profile_images/1234567890/abc_normal.jpg",
    "public_metrics": {
      "followers_count": 219000000, "following_count": 1100, "tweet_count": 78000,
      "listed_count": 160000, "like_count": 170000, "media_count": 4100
    }
  }
}"""
X_UNKNOWN_USER = """{
  "errors": [
    { "value": "nosuchuser123", "detail": "Could not find user with username: [nosuchuser123].",
      "title": "Not Found Error", "resource_type": "user", "parameter": "username",
      "resource_id": "nosuchuser123", "type": "https://api.twitter.com/2/problems/resource-not-found" }
  ]
}"""
X_TIMELINE = """{
  "data": [
    {
      "id": "1795123456789012345", "text": "$TSLA deliveries beat expectations https://t.co/AbCdEf",
      "created_at": "2024-05-31T14:02:11.000Z", "edit_history_tweet_ids": ["1795123456789012345"],
      "lang": "en",
      "public_metrics": {
        "retweet_count": 1200, "reply_count": 3400, "like_count": 45000, "quote_count": 310,
        "bookmark_count": 900, "impression_count": 9100000
      },
      "entities": {
        "urls": [
          {
            "start": 36, "end": 59, "url": "https://t.co/AbCdEf",
            "expanded_url": "https://example.com/article", "display_url": "example.com/article"
          }
        ],
        "cashtags": [{"start": 0, "end": 5, "tag": "TSLA"}],
        "mentions": [{"start": 10, "end": 19, "username": "Tesla", "id": "13298072"}],
        "hashtags": [{"start": 20, "end": 25, "tag": "EVs"}]
      }
    }
  ],
  "meta": {
    "result_count": 1, "newest_id": "1795123456789012345", "oldest_id": "1795123456789012345",
    "next_token": "7140dibdnow9c7btw4b0vjn0hp4bmxz"
  }
}"""

# -- Truth Social (Mastodon API) -----------------------------------------------------------------------

TRUTH_STATUS = """{
  "id": "114589123456789012", "created_at": "2025-06-01T14:39:30.235Z", "in_reply_to_id": null,
  "quote_id": null, "in_reply_to_account_id": null, "sensitive": false, "spoiler_text": "",
  "visibility": "public", "language": "en",
  "uri": "https://truthsocial.com/@realDonaldTrump/114589123456789012",
  "url": "https://truthsocial.com/@realDonaldTrump/114589123456789012",
  "content": "<p>TARIFFS ARE WORKING! <a href=\\"https://truthsocial.com/tags/MAGA\\" class=\\"mention hashtag\\" rel=\\"tag\\">#<span>MAGA</span></a></p>",
  "account": {
    "id": "107780257626128497", "username": "realDonaldTrump", "acct": "realDonaldTrump",
    "display_name": "Donald J. Trump"
  },
  "media_attachments": [
    {
      "id": "114589123400000001", "type": "image",
      "url": "https://static-assets-1.truthsocial.com/.../original/x.jpg",
      "preview_url": "https://static-assets-1.truthsocial.com/.../small/x.jpg", "remote_url": null,
      "description": null, "blurhash": "UEHV6nWB2yk8pyo0adR*.7kCMdnj",
      "meta": {"original": {"width": 1200, "height": 800}}
    }
  ],
  "mentions": [
    {
      "id": "107780257626128498", "username": "WhiteHouse", "acct": "WhiteHouse",
      "url": "https://truthsocial.com/@WhiteHouse"
    }
  ],
  "tags": [{"name": "MAGA", "url": "https://truthsocial.com/tags/MAGA"}], "card": null,
  "group": null, "quote": null, "in_reply_to": null, "reblog": null, "sponsored": false,
  "replies_count": 5210, "reblogs_count": 8120, "favourites_count": 31400, "favourited": false,
  "reblogged": false, "muted": false, "pinned": false, "bookmarked": false, "poll": null,
  "emojis": []
}"""

#: A ReTruth as Mastodon documents a reblog (docs.joinmastodon.org/entities/Status/#reblog): a
#: wrapper with its own id/time/account, empty content, no media/tags, card null, and the re-posted
#: status under ``reblog``.
TRUTH_RETRUTH = (
    """{
  "id": "114589999999999999", "created_at": "2025-06-01T15:00:00.000Z", "in_reply_to_id": null,
  "quote_id": null, "sensitive": false, "spoiler_text": "", "visibility": "public", "language": null,
  "uri": "https://truthsocial.com/users/WhiteHouse/statuses/114589999999999999/activity",
  "url": "https://truthsocial.com/@WhiteHouse/114589999999999999",
  "content": "",
  "account": {"id": "107780257626128498", "username": "WhiteHouse", "acct": "WhiteHouse",
              "display_name": "The White House"},
  "media_attachments": [], "mentions": [], "tags": [], "card": null,
  "replies_count": 0, "reblogs_count": 0, "favourites_count": 0,
  "reblog": """
    + TRUTH_STATUS
    + "}"
)

TRUTH_TRENDS = """[
  {
    "name": "Trump", "url": "https://truthsocial.com/tags/Trump", "recent_statuses_count": 4272,
    "history": [
      {"day": "1721606400", "accounts": "1453", "days_ago": 0, "uses": "4272"},
      {"day": "1721520000", "accounts": "860", "days_ago": 1, "uses": "2277"}
    ],
    "recent_history": [{"day": "1721606400", "accounts": "1453", "days_ago": 0, "uses": "4272"}]
  }
]"""

# -- Bithumb -----------------------------------------------------------------------------------------

BITHUMB_MARKETS = """[
  { "market": "KRW-BTC", "korean_name": "비트코인", "english_name": "Bitcoin", "market_warning": "NONE" },
  { "market": "BTC-ETH", "korean_name": "이더리움", "english_name": "Ethereum", "market_warning": "CAUTION" }
]"""

# -- CoinGecko ---------------------------------------------------------------------------------------

COINGECKO_DERIVATIVES = """[
  {
    "market": "Binance (Futures)", "symbol": "BTCUSDT", "index_id": "BTC", "price": "77034.8",
    "price_percentage_change_24h": -1.1733397846861013, "contract_type": "perpetual",
    "index": 76691.4276087, "basis": -0.138769748300737, "spread": 0.01, "funding_rate": 0.004308,
    "open_interest": 7497508223.83, "volume_24h": 9623150393.3656,
    "last_traded_at": 1779807819, "expired_at": null
  }
]"""

COINGECKO_GLOBAL = """{
  "data": {
    "active_cryptocurrencies": 13690, "upcoming_icos": 0, "ongoing_icos": 49, "ended_icos": 3376,
    "markets": 1046,
    "total_market_cap": { "btc": 39148073.27, "usd": 2721226850772.63, "krw": 3645913120000000 },
    "total_volume": { "btc": 1158215.39, "usd": 69327091133.54 },
    "market_cap_percentage": { "btc": 50.44, "eth": 14.92, "usdt": 3.9 },
    "market_cap_change_percentage_24h_usd": 1.72,
    "updated_at": 1712512855
  }
}"""

# -- CDN pages in front of any API -------------------------------------------------------------------

#: Cloudflare's interstitial as served to API clients (HTTP 403, text/html).
CLOUDFLARE_CHALLENGE = (
    '<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title>'
    '<meta http-equiv="Content-Type" content="text/html; charset=UTF-8"></head><body>'
    "<noscript>Enable JavaScript and cookies to continue</noscript>"
    '<script src="/cdn-cgi/challenge-platform/h/g/orchestrate/chl_page/v1"></script></body></html>'
)
