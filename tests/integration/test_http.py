"""The operators' HTTP port: /healthz, /readyz, /metrics (exact counts after known traffic),
and bad requests that get a 4xx (or a closed connection) without stalling the loop."""

import json
import re
import socket
import time

import harness

METRIC_NAMES = [
    "comment_ingest_consumed_total",
    "comment_ingest_published_total",
    "comment_ingest_held_total",
    "comment_ingest_rejected_total",
    "comment_ingest_duplicate_total",
    "comment_ingest_replayed_total",
    "comment_ingest_batches_total",
    "comment_ingest_batch_duration_seconds",
    "comment_ingest_phase_duration_seconds",
]


def raw_request(port, data: bytes, timeout=5.0) -> bytes:
    """Sends raw bytes, returns whatever comes back until the server closes or goes quiet."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            s.sendall(data)
        except OSError:
            return b""
        chunks = []
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                chunks.append(b)
        except (socket.timeout, ConnectionResetError):
            pass
        return b"".join(chunks)


def assert_4xx_or_closed(resp: bytes, what):
    if resp:
        m = re.match(rb"HTTP/1\.[01] (\d{3})", resp)
        assert m, f"{what}: not an HTTP response: {resp[:100]!r}"
        assert 400 <= int(m.group(1)) < 500, f"{what}: status {m.group(1)!r}"


def test_healthz(service):
    status, ctype, body = service.get("/healthz")
    assert status == 200
    assert json.loads(body) == {"status": "ok"}
    assert "json" in ctype


def test_readyz(service):
    status, ctype, body = service.get("/readyz")
    assert status == 200, body
    assert "json" in ctype
    doc = json.loads(body)
    assert doc["status"] == "ready"
    assert doc["kafka"]["ok"] is True
    assert doc["postgres"]["ok"] is True
    assert doc["partitions_assigned"] == 6, \
        "one instance in its own group owns all 3 partitions of each input (comment-submitted, moderation-decided)"


def test_metrics_format(service):
    status, ctype, body = service.get("/metrics")
    assert status == 200
    assert ctype.startswith("text/plain"), ctype
    m = harness.parse_metrics(body)   # every sample line parses
    for name in METRIC_NAMES:
        assert f"# TYPE {name} " in body, f"no TYPE line for {name}"
    for name in ["comment_ingest_consumed_total", "comment_ingest_published_total", "comment_ingest_held_total",
                 "comment_ingest_duplicate_total", "comment_ingest_replayed_total", "comment_ingest_batches_total"]:
        assert f"# TYPE {name} counter" in body
        assert name in m
    assert "# TYPE comment_ingest_batch_duration_seconds histogram" in body
    rejected = harness.metric_series(m, "comment_ingest_rejected_total")
    assert rejected and all(re.fullmatch(r'\{reason="[a-z_]+"\}', k) for k in rejected), rejected
    buckets = harness.metric_series(m, "comment_ingest_batch_duration_seconds_bucket")
    assert '{le="+Inf"}' in buckets
    values = [v for k, v in sorted(buckets.items(), key=lambda kv: float(re.search(r'le="([^"]+)"', kv[0]).group(1)
                                                                        .replace("+Inf", "inf")))]
    assert values == sorted(values), "histogram buckets must be cumulative"
    assert buckets['{le="+Inf"}'] == m["comment_ingest_batch_duration_seconds_count"]
    assert "comment_ingest_batch_duration_seconds_sum" in m
    assert "# TYPE comment_ingest_phase_duration_seconds histogram" in body
    phases = ["fetch", "collect", "lookup", "store", "wait", "build", "produce", "offsets", "commit"]
    counts = harness.metric_series(m, "comment_ingest_phase_duration_seconds_count")
    assert sorted(counts) == sorted(f'{{phase="{p}"}}' for p in phases), counts
    pb = harness.metric_series(m, "comment_ingest_phase_duration_seconds_bucket")
    for p in phases:
        series = sorted(((float(re.search(r'le="([^"]+)"', k).group(1).replace("+Inf", "inf")), v)
                         for k, v in pb.items() if f'phase="{p}"' in k))
        assert [v for _, v in series] == sorted(v for _, v in series), f"{p}: buckets must be cumulative"
        assert series[-1] == (float("inf"), counts[f'{{phase="{p}"}}'])


def test_unknown_path_is_4xx(service):
    status, _, _ = service.get("/no-such-thing")
    assert 400 <= status < 500


def test_bad_requests_do_not_stall_the_loop(service):
    port = service.port
    assert_4xx_or_closed(raw_request(port, b"\x00\x01\x02 GARBAGE \xff\xfe\r\n\r\n"), "garbage")
    assert_4xx_or_closed(raw_request(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (1 << 20)
                                     + b"\r\n\r\n", timeout=10), "1 MiB header")
    assert_4xx_or_closed(raw_request(port, b"GET /" + b"p" * 100000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"), "long URL")
    # A client that sends half a request and stays: the loop must keep answering others.
    idle = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        t0 = time.monotonic()
        status, _, _ = service.get("/healthz")
        assert status == 200
        assert time.monotonic() - t0 < 2.0
    finally:
        idle.close()
    assert service.running
    assert service.get("/readyz")[0] == 200


def test_metrics_count_exactly_what_was_sent(service, producer, seed, article_id, db):
    """2 published, 1 held, 2 rejected (2 reasons), 1 duplicate:
    consumed = published + held + rejected + duplicate, each exact."""
    before = service.metrics()
    c = seed["comments"]
    pub = [harness.seed_event(seed, x, article_id) for x in c[:2]]
    held = harness.seed_event(seed, seed["examples"]["with_link"], article_id)
    too_short = harness.seed_event(seed, seed["examples"]["too_short"], article_id)
    producer.produce(service.topics.submitted, pub + [held, too_short, pub[0]])
    producer.produce_raw(service.topics.submitted, b"{not json", key=b"raw-key")
    for outcome in ["published", "published", "held", "rejected:body_too_short", "duplicate",
                    "rejected:malformed_json"]:
        service.expect(outcome)

    t = service.topics
    recs = harness.consume_all(service.bootstrap, [t.published, t.moderation, t.rejected], expected_count=5)
    assert len(recs) == 5, [(r.topic, r.event) for r in recs]
    m = service.wait_metrics(lambda m: m["comment_ingest_consumed_total"] >= before["comment_ingest_consumed_total"] + 6)

    def delta(name):
        return m.get(name, 0) - before.get(name, 0)

    assert delta("comment_ingest_consumed_total") == 6
    assert delta("comment_ingest_published_total") == 2
    assert delta("comment_ingest_held_total") == 1
    assert delta('comment_ingest_rejected_total{reason="body_too_short"}') == 1
    assert delta('comment_ingest_rejected_total{reason="malformed_json"}') == 1
    assert harness.metric_sum(m, "comment_ingest_rejected_total") - \
        harness.metric_sum(before, "comment_ingest_rejected_total") == 2
    assert delta("comment_ingest_duplicate_total") == 1
    assert delta("comment_ingest_replayed_total") == 0
    assert m["comment_ingest_batches_total"] >= 1
    assert m["comment_ingest_batch_duration_seconds_count"] >= 1
    # where the time went: fetch once per message, every other phase once per committed batch
    assert delta('comment_ingest_phase_duration_seconds_count{phase="fetch"}') == 6
    batches = delta("comment_ingest_batches_total")
    for p in ["collect", "lookup", "store", "wait", "build", "produce", "offsets", "commit"]:
        assert delta(f'comment_ingest_phase_duration_seconds_count{{phase="{p}"}}') == batches, p
    assert delta('comment_ingest_phase_duration_seconds_sum{phase="commit"}') > 0
    assert m["comment_ingest_consumed_total"] == (
        m["comment_ingest_published_total"] + m["comment_ingest_held_total"]
        + harness.metric_sum(m, "comment_ingest_rejected_total") + m["comment_ingest_duplicate_total"])


def test_all_outputs_validate_and_metrics_add_up(service, validators, db):
    harness.check_outputs_and_metrics(service, validators, db)
