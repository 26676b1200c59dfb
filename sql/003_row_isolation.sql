-- 003_row_isolation.sql - row isolation: when the batch insert fails with an error that one row
-- can cause, the service stores the same rows again through this function, one at a time in
-- order, each under its own savepoint, and learns which rows PostgreSQL refuses and why.
-- Idempotent (CREATE OR REPLACE).
--
-- Before the rows, a canary: a plain comment with the first row's source coordinates, inserted
-- and undone. If PostgreSQL refuses even that, the refusal is the database's state (a constraint,
-- a trigger or a narrowed column that no comment passes), not any row's content: the call fails
-- with the canary's SQLSTATE and the service pauses and retries instead of rejecting anyone.
--
-- Only errors that one row's values can cause are caught per row: data exceptions (22), integrity
-- constraint violations (23), program limits such as an index row too large (54) and exceptions
-- raised by PL/pgSQL, in triggers (P0). Anything else (permissions, read-only, disk full, timeouts, lost
-- connections) fails the whole call: a dependency fault.
--
-- The arguments are the batch insert's arrays, as text, so that a value a column type refuses is
-- caught with its row. One result row per input row, in order: 'inserted', 'skipped' (the
-- comment_id is stored already) or 'refused' with the SQLSTATE and PostgreSQL's message.

CREATE OR REPLACE FUNCTION comment_ingest_insert_each(
    p_comment_id text[], p_article_id text[], p_author_id text[], p_display_name text[],
    p_parent_id text[], p_body text[], p_status text[], p_reasons text[], p_submitted_at text[],
    p_source_topic text[], p_source_partition text[], p_source_offset text[])
RETURNS TABLE (ord integer, outcome text, error_code text, error_message text)
LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
    n integer := coalesce(array_length(p_comment_id, 1), 0);
    stored integer;
    v_state text;
    v_message text;
BEGIN
    IF n = 0 THEN
        RETURN;
    END IF;

    BEGIN
        INSERT INTO comments (comment_id, article_id, author_id, author_display_name, parent_id,
                              body, status, reasons, submitted_at, source_topic, source_partition,
                              source_offset)
        VALUES ('00000000-0000-4000-8000-000000000000', 'comment-ingest.canary',
                'comment-ingest.canary', 'comment-ingest', NULL,
                'A plain comment that every healthy comments table accepts.', 'published', '[]',
                now(), p_source_topic[1], p_source_partition[1]::integer,
                p_source_offset[1]::bigint)
        ON CONFLICT (comment_id) DO NOTHING;
        RAISE SQLSTATE 'CI000'; -- undo the canary
    EXCEPTION
        WHEN SQLSTATE 'CI000' THEN
            NULL;
        WHEN data_exception OR integrity_constraint_violation OR program_limit_exceeded
             OR plpgsql_error THEN
            GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT;
            RAISE EXCEPTION USING ERRCODE = v_state,
                MESSAGE = 'PostgreSQL refuses a plain comment too: ' || v_message;
    END;

    FOR i IN 1 .. n LOOP
        ord := i;
        error_code := NULL;
        error_message := NULL;
        BEGIN
            INSERT INTO comments (comment_id, article_id, author_id, author_display_name, parent_id,
                                  body, status, reasons, submitted_at, source_topic,
                                  source_partition, source_offset)
            VALUES (p_comment_id[i]::uuid, p_article_id[i], p_author_id[i], p_display_name[i],
                    p_parent_id[i]::uuid, p_body[i], p_status[i], p_reasons[i]::jsonb,
                    p_submitted_at[i]::timestamptz, p_source_topic[i],
                    p_source_partition[i]::integer, p_source_offset[i]::bigint)
            ON CONFLICT (comment_id) DO NOTHING;
            GET DIAGNOSTICS stored = ROW_COUNT;
            outcome := CASE WHEN stored = 1 THEN 'inserted' ELSE 'skipped' END;
        EXCEPTION
            WHEN data_exception OR integrity_constraint_violation OR program_limit_exceeded
                 OR plpgsql_error THEN
                GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT;
                outcome := 'refused';
                error_code := v_state;
                error_message := v_message;
        END;
        RETURN NEXT;
    END LOOP;
END
$fn$;
