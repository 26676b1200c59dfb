"""The front end sends the same comment twice (same comment_id, other offsets): one row, one
output event (from the first copy), comment_ingest_duplicate_total + 1, nothing else."""

import harness


def outputs(service):
    t = service.topics
    return [t.published, t.moderation, t.rejected]


def dup_total(service):
    return service.metrics()["comment_ingest_duplicate_total"]


def wait_dup(service, before, n=1):
    m = service.wait_metrics(lambda m: m["comment_ingest_duplicate_total"] >= before + n)
    return m["comment_ingest_duplicate_total"]


def check_one(service, db, ev, first, kind, status):
    """Exactly one output event for ev, from the first copy's coordinates, and one row."""
    recs = harness.consume_all(service.bootstrap, outputs(service), expected_count=1,
                               match=harness.by_comment_ids([ev["comment_id"]]))
    assert [r.topic for r in recs] == [service.topics.output(kind)], \
        [(r.topic, r.event.get("source")) for r in recs]
    out = recs[0].event
    assert out["source"] == {"topic": service.topics.submitted, "partition": first.partition, "offset": first.offset}
    rows = db.rows([ev["comment_id"]])
    assert len(rows) == 1
    row = rows[ev["comment_id"]]
    assert row["status"] == status
    assert (row["source_partition"], row["source_offset"]) == (first.partition, first.offset)
    return out, row


def comment(article_id, body="Posting this twice by accident because the button did not react the first time."):
    return harness.comment_event(harness.author_id("reader-vikram-m"), "Vikram M", body, article_id)


def test_duplicate_after_the_first_is_committed(service, producer, db, article_id):
    ev = comment(article_id)
    before = dup_total(service)
    [first] = producer.produce(service.topics.submitted, [ev])
    service.expect("published")
    harness.consume_all(service.bootstrap, service.topics.published, expected_count=1, extra=0,
                        match=harness.by_comment_ids([ev["comment_id"]]))
    [second] = producer.produce(service.topics.submitted, [ev])
    service.expect("duplicate")
    assert (second.partition, second.offset) != (first.partition, first.offset)
    assert second.partition == first.partition, "same key, same partition"
    assert wait_dup(service, before) == before + 1
    check_one(service, db, ev, first, "published", "published")


def test_duplicate_in_the_same_batch(service, producer, db, article_id):
    ev = comment(article_id, "Double click on submit: both copies arrive within milliseconds of each other.")
    before = dup_total(service)
    first, second = producer.produce(service.topics.submitted, [ev, ev])
    service.expect("published")
    service.expect("duplicate")
    assert second.offset > first.offset and second.partition == first.partition
    assert wait_dup(service, before) == before + 1
    check_one(service, db, ev, first, "published", "published")


def test_duplicate_with_another_body_keeps_the_first(service, producer, db, article_id):
    ev = comment(article_id, "First version of my comment: the weekend talks are the real test of all this.")
    edited = dict(ev, body="Second version, edited: the weekend talks in Abu Dhabi are the real test of all this.")
    before = dup_total(service)
    first, _ = producer.produce(service.topics.submitted, [ev, edited])
    service.expect("published")
    service.expect("duplicate")
    assert wait_dup(service, before) == before + 1
    out, row = check_one(service, db, ev, first, "published", "published")
    assert out["body"] == ev["body"] and row["body"] == ev["body"]


def test_duplicate_of_a_held_comment(service, producer, db, article_id):
    ev = comment(article_id, "Sending the link again in case it got lost: https://example.com/ceasefire-map today.")
    before = dup_total(service)
    first, _ = producer.produce(service.topics.submitted, [ev, ev])
    service.expect("held")
    service.expect("duplicate")
    assert wait_dup(service, before) == before + 1
    out, row = check_one(service, db, ev, first, "moderation", "pending")
    assert "contains_link" in [r["code"] for r in out["reasons"]]


def test_duplicate_on_another_partition(service, producer, db, article_id):
    """The second copy carries another key (so, most likely, another partition): still a duplicate."""
    ev = comment(article_id, "Resent from the mobile app, which keys messages differently from the website.")
    before = dup_total(service)
    [first] = producer.produce(service.topics.submitted, [ev])
    service.expect("published")
    harness.consume_all(service.bootstrap, service.topics.published, expected_count=1, extra=0,
                        match=harness.by_comment_ids([ev["comment_id"]]))
    [second] = producer.produce(service.topics.submitted, [ev], key="some-other-key")
    service.expect("duplicate")
    assert (second.partition, second.offset) != (first.partition, first.offset)
    assert wait_dup(service, before) == before + 1
    check_one(service, db, ev, first, "published", "published")


def test_all_outputs_validate_and_metrics_add_up(service, validators, db):
    harness.check_outputs_and_metrics(service, validators, db)
