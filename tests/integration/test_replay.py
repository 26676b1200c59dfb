"""Restarts. Offsets move only inside the Kafka transaction, so a restarted instance in the same
group consumes nothing twice; an instance in a new group reads everything again from the same
coordinates, which is a replay: every output event is re-emitted byte for byte (same event_id),
duplicates stay silent, and no row changes."""

import collections

import pytest

import harness


@pytest.fixture(scope="module")
def first_run(service_factory, topics, producer, seed, article_id):
    """Instance A: a known mix of inputs; waits for the outputs, then stops A cleanly."""
    a = service_factory(topics)
    c = seed["comments"]
    pub = [harness.seed_event(seed, x, article_id) for x in c[:3]]
    held = harness.seed_event(seed, seed["examples"]["with_link"], article_id)
    too_short = harness.seed_event(seed, seed["examples"]["too_short"], article_id)
    producer.produce(topics.submitted, pub + [held, too_short, pub[1]])
    producer.produce_raw(topics.submitted, b"{not json", key=b"raw-key")
    for o in ["published"] * 3 + ["held", "rejected:body_too_short", "duplicate", "rejected:malformed_json"]:
        a.expect(o)
    outs = [topics.published, topics.moderation, topics.rejected]
    recs = harness.consume_all(a.bootstrap, outs, expected_count=6)
    assert len(recs) == 6, [(r.topic, r.event) for r in recs]
    want = harness.ledger_expected_view(a.ledger)
    m = a.wait_metrics(lambda m: harness.ledger_metrics_view(m) == want)
    assert harness.ledger_metrics_view(m) == want
    a.stop()
    return {"service": a, "stored": pub + [held], "records": recs}


def outputs(topics):
    return [topics.published, topics.moderation, topics.rejected]


def snapshot(records):
    return collections.Counter((r.topic, r.key, r.value) for r in records)


def test_restart_in_the_same_group_consumes_nothing_twice(first_run, service_factory, topics, producer, article_id,
                                                          db):
    a = first_run["service"]
    rows_before = db.rows([e["comment_id"] for e in first_run["stored"]])
    b = service_factory(topics, group_id=a.group_id, transactional_id=a.transactional_id)
    ev = harness.comment_event(harness.author_id("reader-karthik-v"), "Karthik V",
                               "Back after a restart: this one must be published once, and nothing before it again.",
                               article_id)
    producer.produce(topics.submitted, [ev])
    b.expect("published")
    recs = harness.consume_all(b.bootstrap, outputs(topics), expected_count=7)
    assert snapshot(recs) - snapshot(first_run["records"]) == snapshot(
        [r for r in recs if r.event and r.event.get("comment_id") == ev["comment_id"]]), \
        "only the new comment's event may be new"
    assert len(recs) == 7, [(r.topic, r.event.get("comment_id"), r.event.get("source")) for r in recs]
    want = harness.ledger_expected_view(b.ledger)
    m = b.wait_metrics(lambda m: harness.ledger_metrics_view(m) == want)
    assert harness.ledger_metrics_view(m) == want, "the restarted instance re-consumed committed input"
    assert m["comment_ingest_replayed_total"] == 0
    b.stop()
    assert db.rows([e["comment_id"] for e in first_run["stored"]]) == rows_before


def test_new_group_replays_identical_events(first_run, service_factory, topics, db, validators):
    bootstrap = first_run["service"].bootstrap
    before = harness.consume_all(bootstrap, outputs(topics), expected_count=None, extra=0.5)
    stored = [r.event for r in before if r.topic != topics.rejected]
    rows_before = db.rows([e["comment_id"] for e in stored])
    assert len(rows_before) == len(stored)
    n_inputs = len(harness.consume_all(bootstrap, topics.submitted, expected_count=None, extra=0.5))
    c = service_factory(topics)   # new group and transactional.id: reads from the beginning
    recs = harness.consume_all(c.bootstrap, outputs(topics), expected_count=2 * len(before), timeout=45)
    doubled = snapshot(before) + snapshot(before)
    assert snapshot(recs) == doubled, (
        "a replay must re-emit every event byte for byte and nothing else; "
        f"missing: {list((doubled - snapshot(recs)).keys())[:5]} extra: {list((snapshot(recs) - doubled).keys())[:5]}")
    for r in recs:
        assert not harness.schema_errors(validators, r.event)
    m = c.wait_metrics(lambda m: m["comment_ingest_consumed_total"] >= n_inputs)
    assert m["comment_ingest_consumed_total"] == n_inputs
    assert m["comment_ingest_replayed_total"] == len(stored), "every stored comment came back from its coordinates"
    assert m["comment_ingest_duplicate_total"] == 1, "the second copy is still a duplicate, not a replay"
    assert m["comment_ingest_published_total"] + m["comment_ingest_held_total"] == len(stored)
    assert m["comment_ingest_consumed_total"] == (
        m["comment_ingest_published_total"] + m["comment_ingest_held_total"]
        + harness.metric_sum(m, "comment_ingest_rejected_total") + m["comment_ingest_duplicate_total"])
    c.stop()
    assert db.rows([e["comment_id"] for e in stored]) == rows_before, "a replay must not change stored rows"
