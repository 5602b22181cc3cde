-- 0005 social: X (Twitter) posts and profiles, Truth Social posts, tags and trends.

CREATE TABLE x_user_profiles (
    username     text PRIMARY KEY,
    user_id      text NOT NULL UNIQUE,
    display_name text,
    category     text,
    created_at   timestamptz NOT NULL DEFAULT now()
);
-- Case-insensitive lookup: the seed's plans said 'oracle' while profiles stored 'Oracle'.
CREATE INDEX idx_x_user_profiles_username_lower ON x_user_profiles (lower(username));

CREATE TABLE x_posts (
    tweet_id               text PRIMARY KEY CHECK (length(tweet_id) > 0),
    author_id              text NOT NULL,
    text                   text NOT NULL,
    created_at             timestamptz NOT NULL,
    lang                   text DEFAULT 'en',
    source_account         text NOT NULL CHECK (length(source_account) > 0),
    account_category       text DEFAULT 'core_investors',
    collection_source      text DEFAULT 'primary_token',
    retweet_count          integer NOT NULL DEFAULT 0,
    reply_count            integer NOT NULL DEFAULT 0,
    like_count             integer NOT NULL DEFAULT 0,
    quote_count            integer NOT NULL DEFAULT 0,
    bookmark_count         integer NOT NULL DEFAULT 0,
    impression_count       bigint NOT NULL DEFAULT 0,
    hashtags               jsonb,
    mentions               jsonb,
    urls                   jsonb,
    cashtags               jsonb,
    annotations            jsonb,
    context_annotations    jsonb,
    username               text,
    display_name           text,
    user_verified          boolean DEFAULT false,
    user_followers_count   bigint DEFAULT 0,
    user_following_count   bigint DEFAULT 0,
    user_tweet_count       bigint DEFAULT 0,
    edit_history_tweet_ids jsonb,
    collected_at           timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idx_x_posts_created_at ON x_posts (created_at DESC);
CREATE INDEX idx_x_posts_account_recent ON x_posts (source_account, created_at DESC);
CREATE INDEX idx_x_posts_text_fts ON x_posts USING gin (to_tsvector('english', text));

CREATE TABLE truth_social_posts (
    id                text PRIMARY KEY,
    created_at        timestamptz NOT NULL,
    username          text NOT NULL,
    account_id        text NOT NULL,
    display_name      text,
    verified          boolean DEFAULT false,
    content           text NOT NULL,       -- HTML as delivered
    clean_content     text,                -- tags stripped
    language          text,
    replies_count     integer NOT NULL DEFAULT 0,
    reblogs_count     integer NOT NULL DEFAULT 0,
    favourites_count  integer NOT NULL DEFAULT 0,
    upvotes_count     integer NOT NULL DEFAULT 0,
    downvotes_count   integer NOT NULL DEFAULT 0,
    url               text,
    uri               text,
    has_media         boolean DEFAULT false,
    media_count       integer DEFAULT 0,
    media_attachments jsonb,
    tags              jsonb DEFAULT '[]'::jsonb,
    mentions          jsonb DEFAULT '[]'::jsonb,
    has_tags          boolean DEFAULT false,
    has_mentions      boolean DEFAULT false,
    card_url          text,
    card_title        text,
    card_description  text,
    card_image        text,
    visibility        text DEFAULT 'public',
    sensitive         boolean DEFAULT false,
    spoiler_text      text,
    in_reply_to_id    text,
    quote_id          text,
    account_type      text DEFAULT 'individual',
    market_influence  integer DEFAULT 0,
    collected_at      timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idx_truth_posts_created_at ON truth_social_posts (created_at DESC);
CREATE INDEX idx_truth_posts_username_created ON truth_social_posts (username, created_at DESC);
CREATE INDEX idx_truth_posts_content_fts ON truth_social_posts USING gin (to_tsvector('english', clean_content));
CREATE INDEX idx_truth_posts_tags ON truth_social_posts USING gin (tags);

CREATE TABLE truth_social_tags (
    name                  text NOT NULL,
    collected_date        date NOT NULL,
    url                   text,
    total_uses            integer DEFAULT 0,
    total_accounts        integer DEFAULT 0,
    recent_statuses_count integer DEFAULT 0,
    history_data          jsonb,
    day_0_uses            integer DEFAULT 0,
    day_1_uses            integer DEFAULT 0,
    day_2_uses            integer DEFAULT 0,
    day_3_uses            integer DEFAULT 0,
    day_4_uses            integer DEFAULT 0,
    day_5_uses            integer DEFAULT 0,
    day_6_uses            integer DEFAULT 0,
    trend_score           numeric,
    growth_rate           numeric,
    weekly_average        numeric,
    tag_category          text,
    market_relevance      integer DEFAULT 0,
    collected_at          timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (name, collected_date)
);
CREATE INDEX idx_truth_tags_date_uses ON truth_social_tags (collected_date DESC, total_uses DESC);

CREATE TABLE truth_social_trends (
    id                text PRIMARY KEY,
    created_at        timestamptz NOT NULL,
    username          text NOT NULL,
    account_id        text NOT NULL,
    display_name      text,
    content           text NOT NULL,
    clean_content     text,
    language          text,
    replies_count     integer NOT NULL DEFAULT 0,
    reblogs_count     integer NOT NULL DEFAULT 0,
    favourites_count  integer NOT NULL DEFAULT 0,
    upvotes_count     integer NOT NULL DEFAULT 0,
    downvotes_count   integer NOT NULL DEFAULT 0,
    url               text,
    uri               text,
    has_media         boolean DEFAULT false,
    media_count       integer DEFAULT 0,
    media_attachments jsonb,
    tags              jsonb DEFAULT '[]'::jsonb,
    mentions          jsonb DEFAULT '[]'::jsonb,
    visibility        text DEFAULT 'public',
    sensitive         boolean DEFAULT false,
    in_reply_to_id    text,
    trend_rank        integer,
    trend_score       numeric,
    collected_at      timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idx_truth_trends_collected_at ON truth_social_trends (collected_at DESC);
CREATE INDEX idx_truth_trends_created_at ON truth_social_trends (created_at DESC);
CREATE INDEX idx_truth_trends_content_fts ON truth_social_trends USING gin (to_tsvector('english', clean_content));
