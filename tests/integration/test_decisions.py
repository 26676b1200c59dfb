"""Moderation decisions (issue 11): a moderator's approve or reject on moderation-decided closes a
comment's life cycle, with the guarantees of submissions.

- approve of a held comment -> exactly one comment-published (with a `moderation` object), the row
  published, the decision recorded;
- reject of a held comment -> the row rejected and one comment-moderated;
- take-down (reject a published comment) and restore (approve a rejected one);
- approving a published comment is a no-op: counted, recorded, no event;
- the same decision_id again: from other coordinates a duplicate (nothing happens), from the same
  coordinates (a new group reads everything again) a replay that re-emits every event byte for
  byte, submissions included, although the decisions changed the rows' status since;
- bad decisions (malformed, unknown comment, article mismatch, stale, decided in the future, ...)
  -> one moderation-decision-rejected each, with the reason code, the source coordinates and the
  payload; no row changes, and the partition goes on;
- a batch that goes through row isolation still applies its decisions, once;
- /metrics: decisions consumed = applied + no-op + duplicate + rejected, each shown.
"""

import collections
import datetime
import json
import uuid

import psycopg
import pytest

import harness

NAMESPACE = uuid.UUID("6f1c9e52-3b7d-4a0e-9c25-8144d60ba73f")  # services/comment-ingest/src/uuid.c
PLAIN = "A calm reply about the ceasefire talks, long enough to be published without a moderator."
HELD = "The full transcript of the talks is at https://example.org/talks for anyone who wants it."

DECISION_OUTPUT_TYPES = ("comment-published", "comment-moderated", "moderation-decision-rejected")


def event_id(name: str) -> str:
    return str(uuid.uuid5(NAMESPACE, name))


def decided_at(ago: float = 0.0) -> str:
    return harness.submitted_at(ago, fraction=".250000")


def decision_event(comment: dict, decision: str, decision_id: str | None = None, ago: float = 0.0,
                   article_id: str | None = None, moderator: str = "moderator-7", note: str | None = None,
                   **extra) -> dict:
    ev = {
        "schema_version": 1,
        "decision_id": decision_id or str(uuid.uuid4()),
        "comment_id": comment["comment_id"],
        "article_id": article_id or comment["article_id"],
        "decision": decision,
        "moderator": {"id": moderator},
        "decided_at": decided_at(ago),
    }
    if note is not None:
        ev["note"] = note
    ev.update(extra)
    return ev


@pytest.fixture(scope="module")
def validators():
    out = {}
    for et in ("comment-published", "moderation-needed", "comment-rejected") + DECISION_OUTPUT_TYPES:
        out[et] = harness.schema_validator(et)
    return out


@pytest.fixture(scope="module")
def svc(service_factory, topics):
    return service_factory(topics)


class Flow:
    """One article's comments and decisions on the module's service, with helpers to wait for outputs."""

    def __init__(self, svc, producer, db, validators):
        self.svc = svc
        self.t = svc.topics
        self.producer = producer
        self.db = db
        self.validators = validators
        self.article = f"decisions-{harness.unique_suffix()}"

    def comment(self, body: str, outcome: str) -> dict:
        ev = harness.comment_event(harness.author_id("reader-d"), "Dee R", body + f" ({uuid.uuid4().hex[:6]})",
                                   self.article)
        self.producer.produce(self.t.submitted, [ev])
        self.svc.expect(outcome)
        topic = self.t.published if outcome == "published" else self.t.moderation
        recs = harness.consume_all(self.svc.bootstrap, topic, expected_count=1,
                                   match=harness.by_comment_ids([ev["comment_id"]]))
        assert len(recs) == 1, recs
        return ev

    def decide(self, *events) -> list:
        return self.producer.produce(self.t.decided, list(events))

    def outputs_of(self, decision_ids=(), sources=(), expected: int | None = None, extra: float = 1.0) -> list:
        """The records on the decision output topics that belong to these decisions (by decision_id,
        for applied ones) or come from these source coordinates (dead letters)."""
        ids = set(decision_ids)
        coords = {(p.topic, p.partition, p.offset) for p in sources}

        def match(r):
            ev = r.event or {}
            did = ev.get("decision_id") or (ev.get("moderation") or {}).get("decision_id")
            src = ev.get("source") or {}
            return did in ids or (src.get("topic"), src.get("partition"), src.get("offset")) in coords
        return harness.consume_all(self.svc.bootstrap, [self.t.published, self.t.moderated, self.t.decision_rejected],
                                   expected_count=expected, match=match, extra=extra)

    def row(self, comment_id: str) -> dict:
        return self.db.rows([comment_id])[comment_id]

    def record(self, decision_id: str) -> dict | None:
        return self.db.conn.execute("SELECT * FROM moderation_decisions WHERE decision_id = %s",
                                    (decision_id,)).fetchone()

    def valid(self, ev: dict) -> None:
        errors = harness.schema_errors(self.validators, ev)
        assert not errors, (errors, ev)
        assert harness.is_uuid_v5(ev["event_id"])


@pytest.fixture
def flow(svc, producer, db, validators):
    return Flow(svc, producer, db, validators)


def test_approve_of_a_held_comment_publishes_it_once(flow):
    c = flow.comment(HELD, "held")
    d = decision_event(c, "approve", note="Link checked: it is the official transcript.")
    [p] = flow.decide(d)
    recs = flow.outputs_of([d["decision_id"]], expected=1)
    assert [r.topic for r in recs] == [flow.t.published], [(r.topic, r.event) for r in recs]
    ev = recs[0].event
    flow.valid(ev)
    assert recs[0].key_text == c["article_id"]
    assert ev["event_type"] == "comment-published" and ev["status"] == "published" and ev["reasons"] == []
    assert ev["comment_id"] == c["comment_id"] and ev["body"] == c["body"]
    assert ev["event_id"] == event_id(f"{d['decision_id']}/comment-published")
    assert ev["moderation"] == {"decision_id": d["decision_id"], "decision": "approve", "from_status": "pending",
                                "decided_at": harness.canonical_time(d["decided_at"]),
                                "source": {"topic": flow.t.decided, "partition": p.partition, "offset": p.offset}}
    assert "Link checked" not in json.dumps(ev) and "moderator-7" not in json.dumps(ev), \
        "the note and the moderator stay in PostgreSQL"
    row = flow.row(c["comment_id"])
    assert row["status"] == "published" and row["accepted_status"] == "pending"
    rec = flow.record(d["decision_id"])
    assert rec is not None
    assert (rec["outcome"], rec["decision"], rec["from_status"], rec["to_status"]) == \
        ("applied", "approve", "pending", "published")
    assert (rec["moderator_id"], rec["note"]) == ("moderator-7", "Link checked: it is the official transcript.")
    assert (rec["source_topic"], rec["source_partition"], rec["source_offset"]) == (flow.t.decided, p.partition, p.offset)
    # the submission's own event is still the only moderation-needed one
    held = harness.consume_all(flow.svc.bootstrap, flow.t.moderation, match=harness.by_comment_ids([c["comment_id"]]))
    assert len(held) == 1


def test_reject_of_a_held_comment(flow):
    c = flow.comment(HELD, "held")
    d = decision_event(c, "reject", note="Spam link.")
    [p] = flow.decide(d)
    recs = flow.outputs_of([d["decision_id"]], expected=1)
    assert [r.topic for r in recs] == [flow.t.moderated], [(r.topic, r.event) for r in recs]
    ev = recs[0].event
    flow.valid(ev)
    assert recs[0].key_text == c["article_id"]
    assert ev == {"schema_version": 1, "event_id": event_id(f"{d['decision_id']}/comment-moderated"),
                  "event_type": "comment-moderated", "comment_id": c["comment_id"], "article_id": c["article_id"],
                  "decision": "reject", "from_status": "pending", "to_status": "rejected",
                  "decision_id": d["decision_id"], "decided_at": harness.canonical_time(d["decided_at"]),
                  "source": {"topic": flow.t.decided, "partition": p.partition, "offset": p.offset}}
    assert flow.row(c["comment_id"])["status"] == "rejected"
    assert flow.record(d["decision_id"])["to_status"] == "rejected"


def test_take_down_and_restore(flow):
    c = flow.comment(PLAIN, "published")
    down = decision_event(c, "reject", ago=20, note="Readers flagged it.")
    up = decision_event(c, "approve", ago=10, note="On review it is fine.")
    flow.decide(down, up)
    recs = flow.outputs_of([down["decision_id"], up["decision_id"]], expected=2)
    by = {r.topic: r.event for r in recs}
    assert sorted(r.topic for r in recs) == sorted([flow.t.moderated, flow.t.published]), [(r.topic, r.event) for r in recs]
    for ev in by.values():
        flow.valid(ev)
    taken = by[flow.t.moderated]
    assert (taken["decision_id"], taken["from_status"], taken["to_status"]) == (down["decision_id"], "published", "rejected")
    restored = by[flow.t.published]
    assert restored["moderation"]["decision_id"] == up["decision_id"]
    assert restored["moderation"]["from_status"] == "rejected"
    assert restored["status"] == "published"
    row = flow.row(c["comment_id"])
    assert row["status"] == "published" and row["accepted_status"] == "published"
    assert row["status_decided_at"] == harness.parse_canonical(harness.canonical_time(up["decided_at"]))
    # and the original publication stays the one event of the submission itself
    pub = harness.consume_all(flow.svc.bootstrap, flow.t.published, match=harness.by_comment_ids([c["comment_id"]]))
    assert sorted("moderation" in r.event for r in pub) == [False, True]


def test_approving_a_published_comment_is_a_no_op(flow):
    c = flow.comment(PLAIN, "published")
    m0 = flow.svc.metrics()
    d = decision_event(c, "approve")
    [p] = flow.decide(d)
    flow.svc.wait_metrics(lambda m: m["comment_ingest_decisions_noop_total"] > m0["comment_ingest_decisions_noop_total"])
    assert flow.outputs_of([d["decision_id"]], sources=[p], extra=1.5) == []
    rec = flow.record(d["decision_id"])
    assert (rec["outcome"], rec["from_status"], rec["to_status"]) == ("noop", "published", "published")
    row = flow.row(c["comment_id"])
    assert row["status"] == "published" and row["accepted_status"] is None and row["status_decided_at"] is None


def test_the_same_decision_from_other_coordinates_is_a_duplicate(flow):
    c = flow.comment(HELD, "held")
    d = decision_event(c, "approve")
    m0 = flow.svc.metrics()
    [first] = flow.decide(d)
    assert len(flow.outputs_of([d["decision_id"]], expected=1)) == 1
    # the moderation tool sends it again (a retry), then a reject with the same id: both duplicates
    again = flow.decide(d, dict(d, decision="reject"))
    m = flow.svc.wait_metrics(
        lambda m: m["comment_ingest_decisions_duplicate_total"] >= m0["comment_ingest_decisions_duplicate_total"] + 2)
    assert m["comment_ingest_decisions_duplicate_total"] == m0["comment_ingest_decisions_duplicate_total"] + 2
    recs = flow.outputs_of([d["decision_id"]], sources=again, extra=1.5)
    assert len(recs) == 1 and recs[0].event["moderation"]["source"]["offset"] == first.offset
    assert flow.row(c["comment_id"])["status"] == "published"
    rec = flow.record(d["decision_id"])
    assert (rec["source_offset"], rec["decision"]) == (first.offset, "approve")


def test_stale_decision_is_rejected_and_a_stale_no_op_is_not(flow):
    c = flow.comment(HELD, "held")
    late = decision_event(c, "approve", ago=5)
    early_reject = decision_event(c, "reject", ago=60)     # older than the approval, would undo it
    early_approve = decision_event(c, "approve", ago=60)   # older too, but changes nothing
    produced = flow.decide(late, early_reject, early_approve)
    recs = flow.outputs_of([late["decision_id"]], sources=produced[1:], expected=2, extra=1.5)
    by_topic = collections.defaultdict(list)
    for r in recs:
        by_topic[r.topic].append(r.event)
    assert len(by_topic[flow.t.published]) == 1
    [stale] = by_topic[flow.t.decision_rejected]
    flow.valid(stale)
    assert stale["reason"]["code"] == "stale_decision"
    assert stale["decision_id"] == early_reject["decision_id"]
    assert stale["source"] == {"topic": flow.t.decided, "partition": produced[1].partition,
                               "offset": produced[1].offset}
    assert harness.decode_payload(stale) == produced[1].value
    assert flow.row(c["comment_id"])["status"] == "published"
    assert flow.record(early_reject["decision_id"]) is None, "a bad decision is not recorded"
    assert flow.record(early_approve["decision_id"])["outcome"] == "noop"


def test_bad_decisions_go_to_the_dead_letter_and_block_nothing(flow):
    c = flow.comment(HELD, "held")
    other = flow.comment(PLAIN, "published")
    ok = decision_event(c, "approve")
    bad = [
        ("malformed_json", b'{"decision": ', c["article_id"]),
        ("not_an_object", b'["approve"]', c["article_id"]),
        ("missing_field", decision_event(c, "approve", moderator=None) | {"moderator": None}, None),
        ("invalid_field", decision_event(c, "maybe"), None),
        ("invalid_uuid", decision_event(c, "approve", decision_id="42"), None),
        ("invalid_type", decision_event(c, "approve", note=7), None),
        ("invalid_decided_at", decision_event(c, "approve") | {"decided_at": "2026-02-30T10:00:00Z"}, None),
        ("decided_in_future", decision_event(c, "approve", ago=-3600), None),
        ("unsupported_schema_version", decision_event(c, "approve") | {"schema_version": 2}, None),
        ("unknown_comment", decision_event(c | {"comment_id": str(uuid.uuid4())}, "approve"), None),
        ("article_mismatch", decision_event(other, "reject", article_id=flow.article + "-elsewhere"), None),
    ]
    produced = [flow.producer.produce(flow.t.decided, [ev], key=key)[0] for _, ev, key in bad]
    [p_ok] = flow.decide(ok)
    recs = flow.outputs_of([ok["decision_id"]], sources=produced, expected=len(bad) + 1, extra=1.5)
    letters = {(r.event["source"]["partition"], r.event["source"]["offset"]): r for r in recs
               if r.topic == flow.t.decision_rejected}
    assert len(letters) == len(bad) and len(recs) == len(bad) + 1, [(r.topic, r.event.get("reason")) for r in recs]
    for (code, ev, _), p in zip(bad, produced):
        r = letters[(p.partition, p.offset)]
        out = r.event
        flow.valid(out)
        assert out["reason"]["code"] == code, (code, out["reason"])
        assert out["reason"]["detail"]
        assert out["source"] == {"topic": flow.t.decided, "partition": p.partition, "offset": p.offset}
        assert out["event_id"] == event_id(f"{flow.t.decided}/{p.partition}/{p.offset}/moderation-decision-rejected")
        assert harness.decode_payload(out) == p.value
        assert r.key_text == (ev["article_id"] if isinstance(ev, dict) else c["article_id"])
        if isinstance(ev, dict) and code != "invalid_uuid":
            assert out["decision_id"] == ev["decision_id"]
    mismatch = letters[(produced[-1].partition, produced[-1].offset)].event
    assert mismatch["article_id"] == flow.article + "-elsewhere"
    assert other["article_id"] in mismatch["reason"]["detail"], "the detail names the comment's own article"
    # nothing changed, and the good decision after them went through
    assert flow.row(other["comment_id"])["status"] == "published"
    assert flow.row(c["comment_id"])["status"] == "published"
    assert [r.topic for r in recs if r.topic != flow.t.decision_rejected] == [flow.t.published]


def test_metrics_add_up(flow):
    c = flow.comment(HELD, "held")
    m0 = flow.svc.metrics()
    flow.decide(decision_event(c, "reject"))
    m = flow.svc.wait_metrics(lambda m: harness.metric_sum(m, "comment_ingest_decisions_applied_total")
                              > harness.metric_sum(m0, "comment_ingest_decisions_applied_total"))
    consumed = m["comment_ingest_decisions_consumed_total"]
    applied = harness.metric_sum(m, "comment_ingest_decisions_applied_total")
    assert consumed > 0 and applied > 0
    assert consumed == (applied + m["comment_ingest_decisions_noop_total"] + m["comment_ingest_decisions_duplicate_total"]
                        + harness.metric_sum(m, "comment_ingest_decisions_rejected_total"))
    series = harness.metric_series(m, "comment_ingest_decisions_applied_total")
    assert set(series) == {'{from="pending",to="published"}', '{from="pending",to="rejected"}',
                           '{from="published",to="rejected"}', '{from="rejected",to="published"}'}
    rejected = harness.metric_series(m, "comment_ingest_decisions_rejected_total")
    for code in ("unknown_comment", "article_mismatch", "stale_decision", "decided_in_future", "malformed_json"):
        assert f'{{reason="{code}"}}' in rejected
    assert '{reason="unknown_comment"}' not in harness.metric_series(m, "comment_ingest_rejected_total"), \
        "the submissions' rejections show only the codes a comment can get"
    # submissions still add up on their own
    assert m["comment_ingest_consumed_total"] == (
        m["comment_ingest_published_total"] + m["comment_ingest_held_total"] + m["comment_ingest_duplicate_total"]
        + harness.metric_sum(m, "comment_ingest_rejected_total"))
    assert m["comment_ingest_consumed_total"] == sum(flow.svc.ledger.values())


def test_decisions_in_a_batch_that_goes_through_row_isolation(service_factory, topic_factory, producer, db,
                                                               database_url, validators):
    """A refused comment sends its batch through row isolation; the decisions of that batch are
    applied after the rows, once: one on an earlier comment, one on a comment of the same batch,
    one on the refused comment (unknown: it was never stored)."""
    b = service_factory(topic_factory(), extra_env={"BATCH_MAX_WAIT_MS": "1500"})
    flow = Flow(b, producer, db, validators)
    earlier = flow.comment(HELD, "held")
    tag = harness.unique_suffix()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"ALTER TABLE comments ADD CONSTRAINT ci_it_dec_{tag} CHECK (article_id <> '{flow.article}' "
                     "OR body NOT LIKE '%REFUSED-BY-DBA%') NOT VALID")
        try:
            fresh = harness.comment_event(harness.author_id("reader-i"), "Ivy", HELD + " fresh", flow.article)
            refused = harness.comment_event(harness.author_id("reader-j"), "Jo",
                                            "This one says REFUSED-BY-DBA, which the operator's constraint refuses.",
                                            flow.article)
            m0 = b.metrics()
            producer.produce(flow.t.submitted, [fresh, refused])
            decisions = [decision_event(earlier, "approve"), decision_event(fresh, "reject"),
                         decision_event(refused, "approve")]
            produced = flow.decide(*decisions)
            m = b.wait_metrics(lambda m: m["comment_ingest_decisions_consumed_total"]
                               >= m0["comment_ingest_decisions_consumed_total"] + 3, timeout=30)
        finally:
            conn.execute(f"ALTER TABLE comments DROP CONSTRAINT IF EXISTS ci_it_dec_{tag}")
    assert m["comment_ingest_row_isolations_total"] > m0["comment_ingest_row_isolations_total"], \
        "the batch went through row isolation"
    recs = flow.outputs_of([d["decision_id"] for d in decisions], sources=produced, expected=3, extra=1.5)
    kinds = sorted((r.topic, (r.event.get("reason") or {}).get("code")) for r in recs)
    assert kinds == sorted([(flow.t.published, None), (flow.t.moderated, None),
                            (flow.t.decision_rejected, "unknown_comment")]), kinds
    assert flow.row(earlier["comment_id"])["status"] == "published"
    assert flow.row(fresh["comment_id"])["status"] == "rejected"
    assert db.count([refused["comment_id"]]) == 0
    b.stop()


def test_a_new_group_replays_every_event_byte_for_byte(flow, service_factory, topics, db):
    """Everything the module produced, read again by an instance in a new group: every submission
    and every decision is a replay (same coordinates) and re-emits the same bytes, even where a
    decision changed the comment's status after its submission's event; no row changes."""
    outs = [topics.published, topics.moderation, topics.rejected, topics.moderated, topics.decision_rejected]
    before = harness.consume_all(flow.svc.bootstrap, outs, extra=1.0)
    rows_before = db.conn.execute("SELECT comment_id, status, accepted_status, status_decided_at FROM comments "
                                  "WHERE source_topic = %s ORDER BY comment_id", (topics.submitted,)).fetchall()
    decisions_before = db.conn.execute("SELECT * FROM moderation_decisions WHERE source_topic = %s ORDER BY decision_id",
                                       (topics.decided,)).fetchall()
    assert any(r["status"] != r["accepted_status"] and r["accepted_status"] for r in rows_before)
    n_decisions = len(harness.consume_all(flow.svc.bootstrap, topics.decided, extra=0.5))
    c = service_factory(topics)
    recs = harness.consume_all(c.bootstrap, outs, expected_count=2 * len(before), timeout=60)
    snap = collections.Counter((r.topic, r.key, r.value) for r in before)
    got = collections.Counter((r.topic, r.key, r.value) for r in recs)
    assert got == snap + snap, ("a replay must re-emit every event byte for byte and nothing else",
                                list((snap + snap - got).items())[:3], list((got - snap - snap).items())[:3])
    m = c.wait_metrics(lambda m: m["comment_ingest_decisions_consumed_total"] >= n_decisions)
    assert m["comment_ingest_decisions_consumed_total"] == n_decisions
    applied = harness.metric_sum(m, "comment_ingest_decisions_applied_total")
    assert m["comment_ingest_decisions_replayed_total"] == applied + m["comment_ingest_decisions_noop_total"]
    assert db.conn.execute("SELECT comment_id, status, accepted_status, status_decided_at FROM comments "
                           "WHERE source_topic = %s ORDER BY comment_id", (topics.submitted,)).fetchall() == rows_before
    assert db.conn.execute("SELECT * FROM moderation_decisions WHERE source_topic = %s ORDER BY decision_id",
                           (topics.decided,)).fetchall() == decisions_before
    c.stop()
