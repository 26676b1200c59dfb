#!/usr/bin/env python3
"""The `make run` demo: sends the article's five reader comments, one comment that is too short and
one with a link to a running comment-ingest, waits for each outcome, and prints what became of it.
Every comment is submitted now (in its seed offset, e.g. +05:30): the rules reject a submitted_at
more than 7 days old. Then a moderator approves the held comment (a decision on moderation-decided),
and the demo shows it published: its comment-published event and its row.

The service must already run (the Makefile starts it) on the default topics and HTTP port.
Reads deploy/demo/seed-comments.json. Configuration from the environment (SPEC defaults):
KAFKA_BOOTSTRAP_SERVERS, DATABASE_URL, TOPIC_SUBMITTED, TOPIC_PUBLISHED, TOPIC_MODERATION,
TOPIC_REJECTED, TOPIC_DECIDED, HTTP_PORT (8080), DEMO_HTTP_HOST (127.0.0.1), DEMO_TIMEOUT (30 seconds).
Exit status 0 when every outcome appeared in time, 1 otherwise, 2 when the service is not ready.
"""

import datetime
import json
import os
import re
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
import psycopg

HERE = Path(__file__).resolve().parent
SEED = HERE / "demo" / "seed-comments.json"

BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or "127.0.0.1:9092"
DATABASE_URL = os.environ.get("DATABASE_URL") or "postgresql://comment_ingest@127.0.0.1:25432/comment_ingest"
T_SUBMITTED = os.environ.get("TOPIC_SUBMITTED") or "comment-submitted"
T_PUBLISHED = os.environ.get("TOPIC_PUBLISHED") or "comment-published"
T_MODERATION = os.environ.get("TOPIC_MODERATION") or "moderation-needed"
T_REJECTED = os.environ.get("TOPIC_REJECTED") or "comment-rejected"
T_DECIDED = os.environ.get("TOPIC_DECIDED") or "moderation-decided"
HTTP_HOST = os.environ.get("DEMO_HTTP_HOST") or "127.0.0.1"
HTTP_PORT = int(os.environ.get("HTTP_PORT") or "8080")
TIMEOUT = float(os.environ.get("DEMO_TIMEOUT") or "30")

OUTCOME_OF_TOPIC = {T_PUBLISHED: "published", T_MODERATION: "held", T_REJECTED: "rejected"}


def log(msg):
    print(f"demo: {msg}", file=sys.stderr, flush=True)


def http_get(path, timeout=3.0):
    try:
        with urllib.request.urlopen(f"http://{HTTP_HOST}:{HTTP_PORT}{path}", timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


def wait_ready(timeout):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            status, body = http_get("/readyz")
            last = f"{status} {body.strip()}"
            if status == 200:
                return True
        except OSError as e:
            last = str(e)
        time.sleep(0.5)
    log(f"the service on {HTTP_HOST}:{HTTP_PORT} is not ready after {timeout:.0f}s (last: {last})")
    return False


def now_in_offset_of(seed_time):
    """Now, in RFC 3339 with the offset of seed_time ("Z" or e.g. "+05:30")."""
    m = re.search(r"([+-])([0-9]{2}):([0-9]{2})$", seed_time)
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    if not m:
        return now.strftime("%Y-%m-%dT%H:%M:%SZ")
    delta = datetime.timedelta(hours=int(m.group(2)), minutes=int(m.group(3)))
    local = now.astimezone(datetime.timezone(delta if m.group(1) == "+" else -delta))
    return local.strftime("%Y-%m-%dT%H:%M:%S") + m.group(0)


def build_submissions(seed, run):
    """(label, event, expected outcome) for the five seed comments and the two examples, all with fresh ids."""
    # The run tag keeps reruns apart in the shared database (content-duplicate checks look at
    # author, article and body).
    article_id = f"{seed['article']['id']}:demo-{run}"

    def ev(c):
        return {
            "schema_version": 1,
            "comment_id": str(uuid.uuid4()),
            "article_id": article_id,
            "author": dict(c["author"]),
            "body": c["body"],
            "submitted_at": now_in_offset_of(c["submitted_at"]),
        }

    subs = [(c["author"]["display_name"], ev(c), "published") for c in seed["comments"]]
    subs.append((seed["examples"]["too_short"]["author"]["display_name"] + " (too short)",
                 ev(seed["examples"]["too_short"]), "rejected"))
    subs.append((seed["examples"]["with_link"]["author"]["display_name"] + " (link)",
                 ev(seed["examples"]["with_link"]), "held"))
    return article_id, subs


def high_watermarks(consumer, topics):
    md = consumer.list_topics(timeout=10)
    out = []
    for t in topics:
        if t not in md.topics or md.topics[t].error is not None:
            raise SystemExit(f"demo: topic {t} does not exist (is `make up` done?)")
        for pid in sorted(md.topics[t].partitions):
            _, high = consumer.get_watermark_offsets(TopicPartition(t, pid), timeout=10)
            out.append(TopicPartition(t, pid, high))
    return out


def approve_held(consumer, producer, subs, seen):
    """A moderator approves the held comment: one decision on moderation-decided; waits for the
    comment-published event it makes, and prints it with the comment's row. Returns True when the
    comment is published."""
    held = [(label, e) for label, e, expected in subs if expected == "held" and e["comment_id"] in seen]
    if not held:
        return False
    label, e = held[0]
    decision = {
        "schema_version": 1,
        "decision_id": str(uuid.uuid4()),
        "comment_id": e["comment_id"],
        "article_id": e["article_id"],
        "decision": "approve",
        "moderator": {"id": "moderator-7"},
        "note": "The link is the official transcript.",
        "decided_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    producer.produce(T_DECIDED, key=e["article_id"].encode(), value=json.dumps(decision).encode())
    producer.flush(10)
    print(f"\nA moderator approves the held comment of {label} (decision {decision['decision_id']} on {T_DECIDED}):")
    event = None
    deadline = time.monotonic() + TIMEOUT
    while event is None and time.monotonic() < deadline:
        msg = consumer.poll(0.2)
        if msg is None or msg.error() or msg.topic() != T_PUBLISHED:
            continue
        try:
            out = json.loads(msg.value())
        except (TypeError, ValueError):
            continue
        if (out.get("moderation") or {}).get("decision_id") == decision["decision_id"]:
            event = (msg.partition(), msg.offset(), out)
    row = record = None
    try:
        with psycopg.connect(DATABASE_URL, connect_timeout=10) as conn:
            row = conn.execute("SELECT status, accepted_status FROM comments WHERE comment_id = %s",
                               (e["comment_id"],)).fetchone()
            record = conn.execute("SELECT from_status, to_status, moderator_id FROM moderation_decisions "
                                  "WHERE decision_id = %s", (decision["decision_id"],)).fetchone()
    except psycopg.Error as err:
        log(f"PostgreSQL query failed: {err}")
    if event is None:
        print(f"  no comment-published event within {TIMEOUT:.0f}s")
        return False
    part, off, out = event
    m = out["moderation"]
    print(f"  {T_PUBLISHED}[{part}]@{off}: status {out['status']}, moderation: {m['from_status']} -> published "
          f"by decision {m['decision_id']}")
    if row:
        print(f"  row: status {row[0]} (accepted as {row[1]})")
    if record:
        print(f"  moderation_decisions: {record[0]} -> {record[1]} by {record[2]}")
    return out["status"] == "published" and bool(row) and row[0] == "published"


def main():
    seed = json.loads(SEED.read_text(encoding="utf-8"))
    if not wait_ready(TIMEOUT):
        return 2

    consumer = Consumer({
        "bootstrap.servers": BOOTSTRAP,
        "group.id": f"comment-ingest-demo-{uuid.uuid4().hex[:8]}",
        "isolation.level": "read_committed",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
    # Start at the current end of the output topics: our outcomes can only come after it.
    consumer.assign(high_watermarks(consumer, [T_PUBLISHED, T_MODERATION, T_REJECTED]))

    run = uuid.uuid4().hex[:8]
    article_id, subs = build_submissions(seed, run)
    producer = Producer({"bootstrap.servers": BOOTSTRAP, "acks": "all", "enable.idempotence": True})
    coords = {}

    def delivered(cid):
        def cb(err, msg):
            coords[cid] = err if err else (msg.partition(), msg.offset())
        return cb

    for _, e, _ in subs:
        producer.produce(T_SUBMITTED, key=e["article_id"].encode(), value=json.dumps(e, ensure_ascii=False).encode(),
                         on_delivery=delivered(e["comment_id"]))
    producer.flush(10)
    failed = [cid for cid, c in coords.items() if not isinstance(c, tuple)]
    if failed or len(coords) != len(subs):
        log(f"could not produce to {T_SUBMITTED} on {BOOTSTRAP}: {[coords.get(c) for c in failed]}")
        return 1
    log(f"produced {len(subs)} comments for article {article_id} to {T_SUBMITTED}; waiting for outcomes")

    wanted = {e["comment_id"] for _, e, _ in subs}
    seen = {}
    deadline = time.monotonic() + TIMEOUT
    while wanted - set(seen) and time.monotonic() < deadline:
        msg = consumer.poll(0.2)
        if msg is None or (msg.error() and msg.error().code() == KafkaError._PARTITION_EOF):
            continue
        if msg.error():
            log(f"consumer error: {msg.error()}")
            continue
        try:
            out = json.loads(msg.value())
        except (TypeError, ValueError):
            continue
        cid = out.get("comment_id") if isinstance(out, dict) else None
        if cid in wanted and cid not in seen:
            seen[cid] = (msg.topic(), msg.partition(), msg.offset(), out)

    rows = {}
    try:
        with psycopg.connect(DATABASE_URL, connect_timeout=10) as conn:
            # Outcomes are committed to PostgreSQL before Kafka, so every stored row is there now.
            cur = conn.execute("SELECT comment_id::text, status FROM comments WHERE comment_id = ANY(%s::uuid[])",
                               (sorted(wanted),))
            rows = dict(cur.fetchall())
    except psycopg.Error as e:
        log(f"PostgreSQL query failed: {e}")

    table = [("author", "outcome", "reasons", "row", "output topic[partition]@offset", "input p@o")]
    missing = unexpected = 0
    for label, e, expected in subs:
        cid = e["comment_id"]
        p, o = coords[cid]
        if cid in seen:
            topic, part, off, out = seen[cid]
            outcome = OUTCOME_OF_TOPIC.get(topic, topic)
            if out.get("reason"):
                reasons = out["reason"].get("code", "")
            else:
                reasons = ",".join(r.get("code", "") for r in out.get("reasons") or []) or "-"
            where = f"{topic}[{part}]@{off}"
            if outcome != expected:
                unexpected += 1
                outcome = f"{outcome} (expected {expected}!)"
        else:
            outcome, reasons, where = "MISSING", "-", f"(nothing within {TIMEOUT:.0f}s)"
            missing += 1
        table.append((label, outcome, reasons, rows.get(cid, "-"), where, f"{p}@{o}"))

    widths = [max(len(str(r[i])) for r in table) for i in range(len(table[0]))]
    print(f"\nArticle: {seed['article']['title']}\narticle_id: {article_id}\n")
    for i, r in enumerate(table):
        print("  ".join(str(v).ljust(w) for v, w in zip(r, widths)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))

    approved = approve_held(consumer, producer, subs, seen)
    consumer.close()

    try:
        status, body = http_get("/metrics")
    except OSError as e:
        status, body = None, str(e)
    print(f"\n/metrics on {HTTP_HOST}:{HTTP_PORT}:")
    if status == 200:
        for line in body.splitlines():
            if line.startswith("comment_ingest_") and "_bucket" not in line:
                name_value = line.rsplit(" ", 1)
                if "{" in line and name_value[-1] in ("0", "0.0"):
                    continue  # a labelled series that never happened (a reason code, a failure cause)
                print(f"  {line}")
    else:
        print(f"  (unavailable: {status} {body[:200]})")

    if missing:
        log(f"{missing} of {len(subs)} outcomes did not appear within {TIMEOUT:.0f}s")
        return 1
    if not approved:
        log("the held comment was not published after its approval")
        return 1
    if unexpected:
        log(f"{unexpected} of {len(subs)} outcomes differ from what was expected")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
