-- 004_moderation_decisions.sql - moderation decisions close a comment's life cycle: the status
-- `rejected`, the record of every decision applied, and the function that applies a batch's
-- decisions inside the transaction that stores its comments (one round trip per batch).
-- Idempotent: at start the service applies, in order and under an advisory lock, every migration
-- that schema_migrations does not record yet.
--
-- The life cycle (the service checks every answer against its own copy, decision.c):
--   approve: pending -> published, rejected -> published (restored), published: no-op
--   reject:  pending -> rejected, published -> rejected (taken down), rejected: no-op

-- A comment may now be rejected by a moderator. Replaced only while it lacks 'rejected', so that
-- a start does not scan the table to validate the same constraint again.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint
                   WHERE conrelid = 'comments'::regclass AND conname = 'comments_status_check'
                     AND pg_get_constraintdef(oid) LIKE '%rejected%') THEN
        ALTER TABLE comments DROP CONSTRAINT IF EXISTS comments_status_check;
        ALTER TABLE comments ADD CONSTRAINT comments_status_check
            CHECK (status IN ('published', 'pending', 'rejected'));
    END IF;
END $$;

-- The status the comment was accepted with (NULL: status, no decision changed it yet). The
-- submission's own event (comment-published or moderation-needed) is built from it, so that a
-- replay of the submission after a decision re-emits the same bytes.
ALTER TABLE comments ADD COLUMN IF NOT EXISTS accepted_status text;

-- decided_at of the decision that set the current status (NULL: none did). A decision made
-- before it that would change the status again is stale: it would undo a later decision.
ALTER TABLE comments ADD COLUMN IF NOT EXISTS status_decided_at timestamptz;

-- One row per decision that was applied or changed nothing (a no-op), keyed by the moderation
-- tool's decision_id, with the Kafka coordinates it was read from (the replay rule). Bad
-- decisions (unknown comment, wrong article, stale) are not recorded: they changed nothing, and
-- the same decision_id may come back corrected.
CREATE TABLE IF NOT EXISTS moderation_decisions (
    decision_id      uuid        PRIMARY KEY,
    comment_id       uuid        NOT NULL,
    article_id       text        NOT NULL,
    decision         text        NOT NULL CHECK (decision IN ('approve', 'reject')),
    outcome          text        NOT NULL CHECK (outcome IN ('applied', 'noop')),
    from_status      text        NOT NULL,
    to_status        text        NOT NULL,
    moderator_id     text        NOT NULL,
    note             text,
    decided_at       timestamptz NOT NULL,
    source_topic     text        NOT NULL,
    source_partition integer     NOT NULL,
    source_offset    bigint      NOT NULL,
    applied_at       timestamptz NOT NULL DEFAULT now()
);

-- A comment's history of decisions, in order.
CREATE INDEX IF NOT EXISTS moderation_decisions_comment_idx ON moderation_decisions (comment_id, applied_at);

-- Applies a batch's decisions in order. The arguments are the decisions column by column, each
-- already validated by the service. One result row per decision, in order (ord):
--
--   the comment, as a stored comment's event is built from it (the columns of store.c's
--   OUT_COLUMNS; NULL when the comment is unknown), then what became of the decision:
--   outcome   'applied' | 'noop' | 'duplicate' | 'unknown_comment' | 'article_mismatch' | 'stale'
--   replay    the decision_id is recorded from these very coordinates: outcome, statuses, time
--             and coordinates are the record's, so the event is built again byte for byte
--   from_status, to_status, decided_at (UTC, six fractional digits), the decision's coordinates
--
-- Every comment decided on is locked first, in comment_id order, so that two transactions never
-- deadlock and each decision sees the effect of the ones before it, in this batch or another.
CREATE OR REPLACE FUNCTION comment_ingest_apply_decisions(
    p_decision_id uuid[], p_comment_id uuid[], p_article_id text[], p_decision text[],
    p_moderator_id text[], p_note text[], p_decided_at timestamptz[],
    p_source_topic text[], p_source_partition integer[], p_source_offset bigint[])
RETURNS TABLE (
    comment_id text, article_id text, author_id text, author_display_name text, parent_id text,
    body text, status text, reasons text, submitted_at text, accepted_at text, source_topic text,
    source_partition integer, source_offset bigint,
    ord integer, outcome text, replay boolean, from_status text, to_status text, decided_at text,
    decision_source_topic text, decision_source_partition integer, decision_source_offset bigint)
LANGUAGE plpgsql VOLATILE
AS $fn$
#variable_conflict use_column
DECLARE
    n integer := coalesce(array_length(p_decision_id, 1), 0);
    rec moderation_decisions%ROWTYPE;
    cur comments%ROWTYPE;
    target text;
    result text;
    stored integer;
    fmt CONSTANT text := 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"';
BEGIN
    IF n = 0 THEN
        RETURN;
    END IF;
    PERFORM 1 FROM comments c WHERE c.comment_id = ANY (p_comment_id) ORDER BY c.comment_id FOR UPDATE;

    FOR i IN 1 .. n LOOP
        ord := i;
        replay := false;
        from_status := NULL;
        to_status := NULL;
        decided_at := to_char(p_decided_at[i] AT TIME ZONE 'UTC', fmt);
        decision_source_topic := p_source_topic[i];
        decision_source_partition := p_source_partition[i];
        decision_source_offset := p_source_offset[i];

        -- At most twice: a concurrent transaction may record the same decision_id first.
        FOR attempt IN 1 .. 2 LOOP
            SELECT * INTO rec FROM moderation_decisions d WHERE d.decision_id = p_decision_id[i];
            IF FOUND THEN
                IF rec.source_topic = p_source_topic[i] AND rec.source_partition = p_source_partition[i]
                   AND rec.source_offset = p_source_offset[i] THEN
                    outcome := rec.outcome;
                    replay := true;
                    from_status := rec.from_status;
                    to_status := rec.to_status;
                    decided_at := to_char(rec.decided_at AT TIME ZONE 'UTC', fmt);
                ELSE
                    outcome := 'duplicate';
                END IF;
                EXIT;
            END IF;

            SELECT * INTO cur FROM comments c WHERE c.comment_id = p_comment_id[i];
            IF NOT FOUND THEN
                outcome := 'unknown_comment';
                EXIT;
            END IF;
            IF cur.article_id <> p_article_id[i] THEN
                outcome := 'article_mismatch';
                EXIT;
            END IF;
            target := CASE p_decision[i] WHEN 'approve' THEN 'published' ELSE 'rejected' END;
            from_status := cur.status;
            IF target <> cur.status AND cur.status_decided_at IS NOT NULL
               AND p_decided_at[i] < cur.status_decided_at THEN
                outcome := 'stale';
                EXIT;
            END IF;
            result := CASE WHEN target = cur.status THEN 'noop' ELSE 'applied' END;

            INSERT INTO moderation_decisions (decision_id, comment_id, article_id, decision, outcome,
                                              from_status, to_status, moderator_id, note, decided_at,
                                              source_topic, source_partition, source_offset)
            VALUES (p_decision_id[i], p_comment_id[i], p_article_id[i], p_decision[i], result,
                    cur.status, target, p_moderator_id[i], p_note[i], p_decided_at[i],
                    p_source_topic[i], p_source_partition[i], p_source_offset[i])
            ON CONFLICT ON CONSTRAINT moderation_decisions_pkey DO NOTHING;
            GET DIAGNOSTICS stored = ROW_COUNT;
            IF stored = 0 THEN
                IF attempt = 2 THEN
                    RAISE EXCEPTION 'decision % is neither stored nor storable', p_decision_id[i];
                END IF;
                CONTINUE; -- recorded meanwhile by another transaction: a replay or a duplicate
            END IF;
            outcome := result;
            to_status := target;
            IF result = 'applied' THEN
                UPDATE comments c
                   SET status = target,
                       accepted_status = coalesce(c.accepted_status, c.status),
                       status_decided_at = p_decided_at[i]
                 WHERE c.comment_id = p_comment_id[i];
            END IF;
            EXIT;
        END LOOP;

        -- The comment as its events show it: what never changes, and the status it was accepted with.
        SELECT c.comment_id::text, c.article_id, c.author_id, c.author_display_name, c.parent_id::text,
               c.body, coalesce(c.accepted_status, c.status), c.reasons::text,
               to_char(c.submitted_at AT TIME ZONE 'UTC', fmt), to_char(c.accepted_at AT TIME ZONE 'UTC', fmt),
               c.source_topic, c.source_partition, c.source_offset
          INTO comment_id, article_id, author_id, author_display_name, parent_id, body, status, reasons,
               submitted_at, accepted_at, source_topic, source_partition, source_offset
          FROM comments c WHERE c.comment_id = p_comment_id[i];
        IF NOT FOUND THEN
            comment_id := NULL; article_id := NULL; author_id := NULL; author_display_name := NULL;
            parent_id := NULL; body := NULL; status := NULL; reasons := NULL; submitted_at := NULL;
            accepted_at := NULL; source_topic := NULL; source_partition := NULL; source_offset := NULL;
        END IF;
        RETURN NEXT;
    END LOOP;
END
$fn$;
