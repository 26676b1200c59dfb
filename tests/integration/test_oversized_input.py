"""Oversized input never blocks a partition. A message value that is large, or that JSON escaping
makes six times larger, used to become a comment-rejected event over Kafka's message size limit:
the Kafka transaction failed, the batch was replayed, and it failed again, forever. Now:

- a value over 262,144 bytes is rejected unread with payload_too_large;
- a rejection carries at most 65,536 bytes of the original value (cut between characters, or the
  first 49,152 bytes before base64) with payload_truncated true;
- a rejection without an article_id is keyed by the input key only up to 1,024 bytes;
- and a valid comment after each of them on the same partition is published.
"""

import json

import pytest

import harness

ECHO_MAX = 65536


class Case:
    def __init__(self, name, code, value: bytes, key: bytes, comment_id=None, article_id=None,
                 encoding="utf-8", echoed: bytes | None = None, out_key: bytes | None = None):
        self.name, self.code, self.value, self.key = name, code, value, key
        self.comment_id, self.article_id, self.encoding = comment_id, article_id, encoding
        self.echoed = echoed            # the payload the event carries
        self.out_key = out_key          # the rejection's key
        self.produced = None
        self.records = []


def build_cases(article_id):
    key = article_id.encode()
    control = b"\x01" * 900_000  # valid UTF-8 that JSON escapes as \u0001: 5.4 MB once escaped
    binary = bytes(range(256)) * 3500  # not UTF-8: base64 makes it a third larger
    ev = harness.comment_event(harness.author_id("reader-big"), "Big B", "\x01" * 30_000, article_id)
    escaped = json.dumps(ev).encode()  # 180 KB: read, rejected for its text, echoed in part
    assert ECHO_MAX < len(escaped) < 262_144
    return [
        Case("control_characters_900k", "payload_too_large", control, key, echoed=control[:ECHO_MAX],
             out_key=key),
        Case("binary_900k_with_a_2k_key", "payload_too_large", binary, b"k" * 2000, encoding="base64",
             echoed=binary[:ECHO_MAX // 4 * 3], out_key=None),
        Case("escaped_body_180k", "invalid_text", escaped, key, comment_id=ev["comment_id"],
             article_id=article_id, echoed=escaped[:ECHO_MAX], out_key=key),
    ]


@pytest.fixture(scope="module")
def sent(service, producer, article_id):
    cases = build_cases(article_id)
    followers = []
    for c in cases:
        c.produced = producer.produce(service.topics.submitted, [c.value], key=c.key)[0]
        service.expect(f"rejected:{c.code}")
        ev = harness.comment_event(harness.author_id("reader-after"), "After A",
                                   "A valid comment right after an oversized message, on the same partition.",
                                   article_id)
        followers.append((ev, producer.produce(service.topics.submitted, [ev], key=c.key)[0]))
        service.expect("published")
    recs = harness.consume_all(service.bootstrap, service.topics.rejected, expected_count=len(cases),
                               match=harness.by_sources([c.produced for c in cases]), timeout=60)
    for c in cases:
        c.records = [r for r in recs if (r.event["source"]["partition"], r.event["source"]["offset"])
                     == (c.produced.partition, c.produced.offset)]
    return {c.name: c for c in cases}, followers


@pytest.mark.parametrize("name", [c.name for c in build_cases("x")])
def test_oversized_input_is_rejected_once_with_a_bounded_event(service, sent, name):
    c = sent[0][name]
    assert len(c.records) == 1, f"{name}: want one comment-rejected event, got {len(c.records)}"
    rec = c.records[0]
    ev = rec.event
    assert ev["reason"]["code"] == c.code, ev["reason"]
    assert ev["comment_id"] == c.comment_id and ev["article_id"] == c.article_id
    assert ev["payload_encoding"] == c.encoding
    assert ev["payload_truncated"] is True
    assert harness.decode_payload(ev) == c.echoed, f"{name}: the payload is not the start of the original"
    assert rec.key == c.out_key, f"{name}: key of {len(rec.key or b'')} bytes, want {c.out_key!r:.40}"
    assert len(rec.value) < 6 * ECHO_MAX + 4096


def test_valid_comments_after_them_are_published(service, sent, db):
    _, followers = sent
    recs = harness.wait_for(service, [ev for ev, _ in followers], timeout=60)
    for ev, p in followers:
        harness.assert_published(service, db, ev, recs.get(ev["comment_id"], []), produced=p)


def test_no_batch_failed(service, sent):
    m = service.metrics()
    assert harness.metric_sum(m, "comment_ingest_batch_failures_total") == 0
    assert m["comment_ingest_transaction_aborts_total"] == 0


def test_outputs_and_metrics_match_the_ledger(service, validators, db, sent):
    harness.check_outputs_and_metrics(service, validators, db, timeout=60)
