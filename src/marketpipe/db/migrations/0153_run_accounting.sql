-- Every row accounted for (issue 10): rows rejected and schema drift per run, and the field baselines
-- the drift check compares replies with. Owned by the collection engine.

ALTER TABLE collect_runs
    ADD COLUMN IF NOT EXISTS rows_rejected    integer NOT NULL DEFAULT 0,      -- rows refused (parser or validation)
    ADD COLUMN IF NOT EXISTS rejected_reasons jsonb   NOT NULL DEFAULT '{}'::jsonb,  -- {reason: count}
    ADD COLUMN IF NOT EXISTS drift_missing    text[]  NOT NULL DEFAULT '{}',   -- fields expected but missing
    ADD COLUMN IF NOT EXISTS drift_new        text[]  NOT NULL DEFAULT '{}',   -- fields seen for the first time
    ADD COLUMN IF NOT EXISTS warnings         text[]  NOT NULL DEFAULT '{}';   -- e.g. a reply drift emptied

-- Per dataset and endpoint: the fields its records had (any / every record) on accepted replies.
CREATE TABLE IF NOT EXISTS collect_fields (
    dataset    text        NOT NULL,
    endpoint   text        NOT NULL,
    fields     text[]      NOT NULL,
    always     text[]      NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dataset, endpoint)
);

-- A ReTruth (like a Mastodon reblog) is a wrapper status with empty content and the re-posted status
-- under `reblog`: the row stores the re-posted status's text, media, tags and card, and these columns
-- name the original (its id, url and author); NULL for an original post.
ALTER TABLE truth_social_posts
    ADD COLUMN IF NOT EXISTS reblog_of_id         text,
    ADD COLUMN IF NOT EXISTS reblog_of_url        text,
    ADD COLUMN IF NOT EXISTS reblog_of_username   text,
    ADD COLUMN IF NOT EXISTS reblog_of_account_id text;
