"""Bad input becomes exactly one comment-rejected event (reason code, source coordinates, the
original payload), stores nothing, and never stops the service: valid comments produced after
the bad ones on the same partitions are still published."""

import json
import uuid

import pytest

import harness

FAMILY = "\U0001F468\u200D\U0001F469\u200D\U0001F467"  # one grapheme, five code points
ANY = object()  # the value is not asserted


class Case:
    def __init__(self, name, code, value, key=None, comment_id=None, article_id=None, encoding="utf-8"):
        self.name = name
        self.code = code
        self.value = value              # dict (JSON-encoded), bytes or None
        self.key = key                  # explicit message key; None: the event's article_id
        self.comment_id = comment_id    # expected in the event
        self.article_id = article_id    # expected in the event
        self.encoding = encoding
        self.produced = None
        self.records = []

    def raw(self):
        return harness.encode_value(self.value)


def build_cases(article_id):
    def ok(**over):
        ev = harness.comment_event(harness.author_id("reader-quick-q"), "Quick Q",
                                   "A perfectly valid comment body that is long enough to pass the minimum.",
                                   article_id)
        for k, v in over.items():
            if v is ANY:
                ev.pop(k, None)
            else:
                ev[k] = v
        return ev

    def case(name, code, ev, **kw):
        kw.setdefault("comment_id", ev.get("comment_id") if isinstance(ev, dict) else None)
        kw.setdefault("article_id", ev.get("article_id") if isinstance(ev, dict) else None)
        return Case(name, code, ev, **kw)

    invalid_utf8 = json.dumps(ok(body="Caf\u00e9 diplomacy is still diplomacy, even in this extraordinary cold."),
                              ensure_ascii=False).encode("utf-8").replace("\u00e9".encode(), b"\xe9")
    cases = [
        case("body_too_short", "body_too_short", ok(body="Peace now!")),
        case("body_49_graphemes", "body_too_short", ok(body="Agreed " + FAMILY * 42)),
        case("body_short_after_trim", "body_too_short", ok(body=" " * 60 + "Peace now!" + "\n" * 60)),
        case("body_too_long", "body_too_long", ok(body=("peace " * 100)[:501])),
        case("malformed_json", "malformed_json", b'{"schema_version": 1, "comment_id": "', key=b"raw-key-malformed"),
        case("null_value", "malformed_json", None, key=b"raw-key-null"),
        case("not_an_object", "not_an_object", b'["a", "list", "of", "strings"]', key=b"raw-key-array"),
        case("missing_body", "missing_field", ok(body=ANY)),
        case("missing_comment_id", "missing_field", ok(comment_id=ANY), comment_id=None),
        case("author_not_an_object", "invalid_type", ok(author="Priya S")),
        case("invalid_uuid", "invalid_uuid", ok(comment_id="not-a-uuid"), comment_id=None),
        case("invalid_article_id", "invalid_field", ok(article_id="bad article id!"), key=b"raw-key-article",
             article_id=ANY),
        case("invalid_submitted_at", "invalid_submitted_at", ok(submitted_at="31/01/2026 10:00")),
        # 128 characters, but 896 bytes: more than the author_id index takes (PostgreSQL used to refuse the row)
        case("author_id_too_large", "field_too_large",
             ok(author={"id": "q\u0301\u0302\u0303" * 128, "display_name": "Quick Q"})),
        case("schema_version_2", "unsupported_schema_version", ok(schema_version=2)),
        case("bidi_override", "invalid_text",
             ok(body="This looks harmless but \u202Ereverses the rest of the line for a reader, sneaky.")),
        case("nul_in_body", "invalid_text",
             ok(body="A NUL byte \u0000 hidden in the middle of an otherwise ordinary comment body.")),
        Case("invalid_utf8", "invalid_text", invalid_utf8, key=article_id.encode(), comment_id=None,
             article_id=None, encoding="base64"),
    ]
    return cases


@pytest.fixture(scope="module")
def sent(service, producer, article_id):
    """Produces every bad case, then one valid comment per message key (same partition, later
    offset); waits for all outcomes."""
    cases = build_cases(article_id)
    keys = []
    for c in cases:
        c.produced = producer.produce(service.topics.submitted, [c.value], key=c.key)[0]
        service.expect(f"rejected:{c.code}")
        k = c.produced.key
        if k not in keys:
            keys.append(k)
    followers = []
    for k in keys:
        ev = harness.comment_event(harness.author_id("reader-sarah-b"), "Sarah B",
                                   "Still here after the bad ones: valid comments keep flowing on this partition.",
                                   article_id)
        p = producer.produce(service.topics.submitted, [ev], key=k)[0]
        service.expect("published")
        followers.append((ev, p))

    recs = harness.consume_all(service.bootstrap, service.topics.rejected, expected_count=len(cases),
                               match=harness.by_sources([c.produced for c in cases]))
    by_src = {}
    for r in recs:
        by_src.setdefault((r.event["source"]["partition"], r.event["source"]["offset"]), []).append(r)
    for c in cases:
        c.records = by_src.get((c.produced.partition, c.produced.offset), [])
    fol = harness.consume_all(service.bootstrap, [service.topics.published, service.topics.moderation,
                                                  service.topics.rejected],
                              expected_count=len(followers),
                              match=harness.by_comment_ids([ev["comment_id"] for ev, _ in followers]))
    return {c.name: c for c in cases}, followers, fol


CASE_NAMES = [c.name for c in build_cases("x")]


@pytest.mark.parametrize("name", CASE_NAMES)
def test_bad_input_is_rejected_once(service, sent, db, name):
    cases, _, _ = sent
    c = cases[name]
    p = c.produced
    assert len(c.records) == 1, (f"{name}: want exactly one comment-rejected event for "
                                 f"{p.topic}[{p.partition}]@{p.offset}, got {len(c.records)}")
    rec = c.records[0]
    ev = rec.event
    assert ev["event_type"] == "comment-rejected"
    assert harness.is_uuid_v5(ev["event_id"])
    assert ev["reason"]["code"] == c.code, f"{name}: reason {ev['reason']}"
    assert isinstance(ev["reason"]["detail"], str) and ev["reason"]["detail"]
    assert ev["source"] == {"topic": service.topics.submitted, "partition": p.partition, "offset": p.offset}
    assert ev["payload_encoding"] == c.encoding
    assert harness.decode_payload(ev) == (c.raw() or b""), f"{name}: payload is not the original message value"
    assert ev["comment_id"] == c.comment_id
    if c.article_id is not ANY:
        assert ev["article_id"] == c.article_id
        # key = article_id, or the input key when article_id is unknown
        want_key = c.article_id.encode() if c.article_id is not None else p.key
        assert rec.key == want_key, f"{name}: key {rec.key!r}, want {want_key!r}"
    if c.comment_id is not None:
        assert db.count([c.comment_id]) == 0, f"{name}: a rejected comment was stored"


def test_rejected_comments_have_no_other_output(service, sent):
    cases, _, _ = sent
    ids = [c.comment_id for c in cases.values() if c.comment_id]
    recs = harness.consume_all(service.bootstrap, [service.topics.published, service.topics.moderation],
                               expected_count=0, extra=1.0, match=harness.by_comment_ids(ids))
    assert recs == []


def test_service_keeps_going_after_bad_input(service, sent, db):
    _, followers, fol = sent
    assert service.running
    assert service.get("/healthz")[0] == 200
    got = {r.event["comment_id"]: r for r in fol}
    assert len(fol) == len(followers), [(r.topic, r.event.get("comment_id")) for r in fol]
    rows = db.rows(got)
    for ev, p in followers:
        rec = got.get(ev["comment_id"])
        assert rec is not None and rec.topic == service.topics.published, \
            f"valid comment after bad input on partition {p.partition} offset {p.offset}: {rec and rec.event}"
        assert rec.event["source"] == {"topic": service.topics.submitted, "partition": p.partition,
                                       "offset": p.offset}
        assert rows[ev["comment_id"]]["status"] == "published"


def test_rejected_event_ids_are_distinct(sent):
    cases, _, _ = sent
    ids = [r.event["event_id"] for c in cases.values() for r in c.records]
    assert len(ids) == len(set(ids)) == len(cases)


def test_all_outputs_validate_and_metrics_add_up(service, sent, validators, db):
    harness.check_outputs_and_metrics(service, validators, db)
