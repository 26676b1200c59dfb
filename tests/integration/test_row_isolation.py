"""Row isolation: a comment that passes every rule but that PostgreSQL refuses when its row is
inserted ends as one comment-rejected event with code storage_refused (the SQLSTATE and
PostgreSQL's message in the detail), and the comments after it on the same partition are stored
and published. Without isolation one such row fails its whole batch again and again, and the
partition stops.

Each kind of row-specific refusal gets its own operator change to the shared comments table,
scoped to this module's article (partial indexes, a NOT VALID check, triggers with a WHEN clause),
so that other tests and other people's services never meet it; every change is dropped at the end:

- program_limit_exceeded (54000): an index on body; a long body of random text makes an index row
  larger than a B-tree page allows;
- check_violation (23514): a check constraint on the body;
- unique_violation (23505): a unique index on the display name;
- string_data_right_truncation (22001): a trigger copies the body into a narrower column;
- raise_exception (P0001): a trigger refuses a body.

A replay of the same coordinates (a second instance, another group, the same topics) refuses the
row again and produces the same bytes.
"""

import random
import uuid

import psycopg
import pytest

import harness

BODY = "A perfectly ordinary comment about the talks that is long enough to pass every rule."


def zalgo_body(seed: int) -> str:
    """500 graphemes of random letters, each with four random combining marks: about 4,500
    bytes that compress badly, so an index entry for it exceeds the 2,704 bytes a B-tree allows."""
    rng = random.Random(seed)
    out = []
    for _ in range(500):
        out.append(rng.choice("abcdefghijklmnopqrstuvwxyz") + "".join(chr(rng.randint(0x300, 0x36F)) for _ in range(4)))
    return "".join(out)


KINDS = {
    # name: (SQLSTATE, DDL to apply ({t}: a unique suffix, {a}: the article), DDL to drop, the refused event's body,
    #        its display name)
    "index_row_too_large": (
        "54000",
        ["CREATE INDEX ci_it_body_{t} ON comments (body) WHERE article_id = '{a}'"],
        ["DROP INDEX IF EXISTS ci_it_body_{t}"],
        zalgo_body(1), "Zed"),
    "check_violation": (
        "23514",
        ["ALTER TABLE comments ADD CONSTRAINT ci_it_check_{t} CHECK (article_id <> '{a}' OR body NOT LIKE '%FORBIDDEN-BY-DBA%') NOT VALID"],
        ["ALTER TABLE comments DROP CONSTRAINT IF EXISTS ci_it_check_{t}"],
        "This comment mentions FORBIDDEN-BY-DBA, which an operator's constraint refuses to store.", "Cat"),
    "unique_violation": (
        "23505",
        ["CREATE UNIQUE INDEX ci_it_unique_{t} ON comments (author_display_name) WHERE article_id = '{a}'"],
        ["DROP INDEX IF EXISTS ci_it_unique_{t}"],
        "Another reader with the very same display name posts a second, different comment here.", "Same Name"),
    "string_data_right_truncation": (
        "22001",
        ["CREATE TABLE ci_it_audit_{t} (body varchar(90))",
         "CREATE FUNCTION ci_it_audit_{t}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
         " INSERT INTO ci_it_audit_{t} VALUES (NEW.body); RETURN NEW; END $$",
         "CREATE TRIGGER ci_it_audit_{t} AFTER INSERT ON comments FOR EACH ROW WHEN (NEW.article_id = '{a}')"
         " EXECUTE FUNCTION ci_it_audit_{t}()"],
        ["DROP TRIGGER IF EXISTS ci_it_audit_{t} ON comments", "DROP FUNCTION IF EXISTS ci_it_audit_{t}()",
         "DROP TABLE IF EXISTS ci_it_audit_{t}"],
        "This comment is longer than the ninety characters that the operator's audit copy of every body can hold.",
        "Tru"),
    "raise_exception": (
        "P0001",
        ["CREATE FUNCTION ci_it_spam_{t}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
         " IF NEW.body LIKE '%spam-marker%' THEN RAISE EXCEPTION 'refused by the spam trigger'; END IF;"
         " RETURN NEW; END $$",
         "CREATE TRIGGER ci_it_spam_{t} BEFORE INSERT ON comments FOR EACH ROW WHEN (NEW.article_id = '{a}')"
         " EXECUTE FUNCTION ci_it_spam_{t}()"],
        ["DROP TRIGGER IF EXISTS ci_it_spam_{t} ON comments", "DROP FUNCTION IF EXISTS ci_it_spam_{t}()"],
        "This comment carries a spam-marker that the operator's trigger refuses to let through.", "Spa"),
}


@pytest.fixture(scope="module")
def operator_changes(database_url, topics):
    """Applies every kind's DDL, each scoped to an article of its own; drops them all at the end."""
    applied = []
    tag = topics.suffix
    articles = {kind: f"iso-{kind.replace('_', '-')}:it-{tag}" for kind in KINDS}
    with psycopg.connect(database_url, autocommit=True) as conn:
        try:
            for kind, (_, apply, drop, _, _) in KINDS.items():
                t = f"{kind[:10]}_{tag}"
                applied.append([d.format(t=t, a=articles[kind]) for d in drop])
                for ddl in apply:
                    conn.execute(ddl.format(t=t, a=articles[kind]))
            yield articles
        finally:
            for drops in applied:
                for ddl in drops:
                    conn.execute(ddl)


@pytest.fixture(scope="module")
def sent(service, producer, operator_changes):
    """Per kind, on the kind's article (one partition): a comment before, the refused one, and
    two after. The unique kind's first comment takes the display name the refused one repeats."""
    out = {}
    for kind, (_, _, _, bad_body, bad_name) in KINDS.items():
        art = operator_changes[kind]
        first_name = "Same Name" if kind == "unique_violation" else "Reader Before"
        before = harness.comment_event(harness.author_id("reader-before"), first_name,
                                       "The comment before the refused one, which is stored as usual.", art)
        bad = harness.comment_event(harness.author_id("reader-bad"), bad_name, bad_body, art)
        after = [harness.comment_event(harness.author_id("reader-after"), f"Reader After {i}",
                                       f"Comment number {i} after the refused one, on the same partition.", art)
                 for i in range(2)]
        events = [before, bad] + after
        produced = producer.produce(service.topics.submitted, events)
        assert len({p.partition for p in produced}) == 1, "one article's events share a partition"
        out[kind] = (before, bad, after, produced)
        service.expect("published", 3)
        service.expect("rejected:storage_refused")
    return out


@pytest.mark.parametrize("kind", list(KINDS))
def test_refused_row_is_rejected_once_and_the_partition_moves_on(service, db, sent, kind):
    sqlstate = KINDS[kind][0]
    before, bad, after, produced = sent[kind]
    recs = harness.wait_for(service, [before, bad] + after, timeout=60)
    for ev in [before] + after:
        harness.assert_published(service, db, ev, recs.get(ev["comment_id"], []))
    out = harness.assert_rejected(service, db, bad, recs.get(bad["comment_id"], []), "storage_refused",
                                  produced=produced[1])
    detail = out["reason"]["detail"]
    assert f"({sqlstate})" in detail, f"the detail names the SQLSTATE {sqlstate}: {detail!r}"
    # PostgreSQL's message about this row alone: nothing of the other rows of its batch.
    for other in [before] + after:
        assert other["comment_id"] not in detail and other["body"][:30] not in detail, detail


def test_metrics_count_the_refusals_and_the_isolations(service, sent):
    m = service.wait_metrics(lambda m: m.get('comment_ingest_rejected_total{reason="storage_refused"}', 0) >= len(KINDS))
    assert m['comment_ingest_rejected_total{reason="storage_refused"}'] == len(KINDS)
    assert m["comment_ingest_row_isolations_total"] >= 1
    failures = harness.metric_sum(m, "comment_ingest_batch_failures_total")
    assert failures == 0, "a refused row is not a failed batch: nothing was replayed for it"


def test_outputs_and_metrics_match_the_ledger(service, validators, db, sent):
    harness.check_outputs_and_metrics(service, validators, db, timeout=60)


def test_a_replay_refuses_the_row_again_with_the_same_bytes(service, service_factory, sent):
    """A second instance in another group reads the same input from the start: every coordinate is
    a replay. The refused rows are refused again, and their events are byte-identical."""
    bad_ids = [sent[k][1]["comment_id"] for k in KINDS]
    first = harness.consume_all(service.bootstrap, service.topics.rejected, expected_count=len(bad_ids),
                                match=harness.by_comment_ids(bad_ids), timeout=30)
    assert len(first) == len(bad_ids)
    replayer = service_factory(service.topics, group_id=f"it-replay-{uuid.uuid4().hex[:8]}")
    both = harness.consume_all(service.bootstrap, service.topics.rejected, expected_count=2 * len(bad_ids),
                               match=harness.by_comment_ids(bad_ids), timeout=60)
    replayer.stop()
    by_id = {}
    for r in both:
        by_id.setdefault(r.event["comment_id"], []).append(r.value)
    for cid in bad_ids:
        values = by_id.get(cid, [])
        assert len(values) == 2, f"{cid}: want the first rejection and its replay, got {len(values)}"
        assert values[0] == values[1], f"{cid}: the replayed rejection differs:\n{values[0]!r}\n{values[1]!r}"
