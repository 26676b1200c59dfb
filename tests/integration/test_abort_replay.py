"""A batch whose Kafka transaction aborts is replayed with the same output.

The published topic is missing while a batch commits, so its deliveries fail and the
transaction aborts after PostgreSQL has already committed the rows. The service rewinds and
replays the batch; once the topic exists again, the replay emits each comment's event exactly
once, from the stored rows (same coordinates: a replay, not a duplicate)."""

import time

import harness


def test_aborted_transaction_is_replayed_with_the_same_output(kafka_bootstrap, db):
    kafka = kafka_bootstrap
    topics = harness.create_topics(kafka)
    admin = harness.admin_client(kafka)
    for fut in admin.delete_topics([topics.published], operation_timeout=30).values():
        fut.result(timeout=30)
    # deletion is asynchronous: wait until the broker no longer lists the topic
    deadline = time.monotonic() + 30
    while topics.published in admin.list_topics(timeout=10).topics:
        assert time.monotonic() < deadline, "published topic still listed after deletion"
        time.sleep(0.2)

    service = harness.Service("test_abort_replay", topics,
                              extra_env={"KAFKA_TRANSACTION_TIMEOUT_MS": "10000"}).start()
    try:
        article = "abort-replay:" + harness.unique_suffix()
        events = [harness.comment_event(harness.author_id("reader-abort"), "Aman W",
                                        f"Comment {i} of a batch whose transaction cannot commit at first, "
                                        "because its output topic is missing.", article)
                  for i in range(3)]
        ids = [e["comment_id"] for e in events]
        produced = harness.Producer(kafka).produce(topics.submitted, events, key=article)

        # PostgreSQL commits first; the Kafka transaction then aborts (deliveries time out).
        m = service.wait_metrics(lambda m: m["comment_ingest_transaction_aborts_total"] >= 1, timeout=60)
        assert m["comment_ingest_published_total"] == 0
        assert db.count(ids) == 3, "the rows are stored before the Kafka commit"

        # The topic comes back: the replay commits.
        from confluent_kafka.admin import NewTopic
        for fut in admin.create_topics([NewTopic(topics.published, num_partitions=3, replication_factor=1)]).values():
            fut.result(timeout=30)
        m = service.wait_metrics(lambda m: m["comment_ingest_published_total"] >= 3, timeout=90)
        assert m["comment_ingest_replayed_total"] >= 3, "the stored rows came back from the same coordinates"
        assert m["comment_ingest_duplicate_total"] == 0
        assert m["comment_ingest_consumed_total"] == 3

        recs = harness.consume_all(kafka, [topics.published, topics.moderation, topics.rejected],
                                   expected_count=3, match=harness.by_comment_ids(ids))
        assert sorted(r.event["comment_id"] for r in recs) == sorted(ids), "one event per comment, no more"
        by_id = {r.event["comment_id"]: r.event for r in recs}
        rows = db.rows(ids)
        for ev, p in zip(events, produced):
            out = by_id[ev["comment_id"]]
            assert out["event_type"] == "comment-published"
            assert out["source"] == {"topic": topics.submitted, "partition": p.partition, "offset": p.offset}
            assert (rows[ev["comment_id"]]["source_partition"], rows[ev["comment_id"]]["source_offset"]) == \
                (p.partition, p.offset)
        service.stop()
    finally:
        if service.running:
            service.kill()
        harness.delete_topics(kafka, topics)
