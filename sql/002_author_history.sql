-- 002_author_history.sql - what the history rules look up for a new comment: the author's
-- earlier comments (first comment, rate limit) and the same body on the same article
-- (duplicate_content), all through one index on (author_id, accepted_at).
-- Idempotent.

ALTER TABLE comments ADD COLUMN IF NOT EXISTS body_md5 text GENERATED ALWAYS AS (md5(body)) STORED;

CREATE INDEX IF NOT EXISTS comments_author_accepted_idx ON comments (author_id, accepted_at);
