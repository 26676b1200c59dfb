-- 001_comments.sql - the comments table: one row per accepted comment, keyed by the
-- front end's comment_id, with the Kafka coordinates it was read from (the replay rule).
-- Idempotent: at start the service applies, in order and under an advisory lock, every migration
-- that schema_migrations does not record yet.

CREATE TABLE IF NOT EXISTS comments (
    comment_id          uuid        PRIMARY KEY,
    article_id          text        NOT NULL,
    author_id           text        NOT NULL,
    author_display_name text        NOT NULL,
    parent_id           uuid,
    body                text        NOT NULL,
    status              text        NOT NULL CHECK (status IN ('published', 'pending')),
    reasons             jsonb       NOT NULL DEFAULT '[]'::jsonb,
    submitted_at        timestamptz NOT NULL,
    accepted_at         timestamptz NOT NULL DEFAULT now(),
    source_topic        text        NOT NULL,
    source_partition    integer     NOT NULL,
    source_offset       bigint      NOT NULL
);

-- The read path lists an article's comments in order.
CREATE INDEX IF NOT EXISTS comments_article_submitted_idx ON comments (article_id, submitted_at);

-- The moderation queue lists pending comments.
CREATE INDEX IF NOT EXISTS comments_pending_idx ON comments (accepted_at) WHERE status = 'pending';
