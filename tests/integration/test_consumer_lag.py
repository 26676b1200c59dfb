"""Consumer lag and progress on /metrics (issue 10).

comment_ingest_consumer_lag_messages{topic,partition}: per partition the instance owns, the input's last
stable offset minus the group's committed offset; kept fresh while the service runs, also while its
partitions are paused. comment_ingest_oldest_uncommitted_age_seconds: how long ago the oldest message
consumed and not committed was consumed.

- A backlog produced before the service starts shows as lag > 0 on each partition and then goes to 0.
- While PostgreSQL refuses every row of this module's input (a NOT VALID check constraint on this
  module's topic only), the pipeline retries with its partitions paused: the lag of each partition is
  exactly what was produced to it (also what was produced after the pause began), the oldest
  uncommitted message grows old; once the constraint is dropped both go back to 0.
- Only assigned partitions have a series: with a second instance in the group, each shows its own
  partitions, together all of them, none twice; when the second stops, the first shows all again.
"""

import collections
import json
import re
import time
import uuid

import psycopg

import harness

LAG = "comment_ingest_consumer_lag_messages"
AGE = "comment_ingest_oldest_uncommitted_age_seconds"


def lag_of(m: dict, topic: str) -> dict[int, float]:
    """{partition: lag} of the series of this topic. The service reads two inputs (submitted comments
    and moderation decisions): a series may only be of one of this test's two input topics."""
    suffix = topic.rsplit("-it-", 1)[1]
    inputs = {harness.TopicSet.fresh(suffix).submitted, harness.TopicSet.fresh(suffix).decided}
    out = {}
    for labels, v in harness.metric_series(m, LAG).items():
        t = re.search(r'topic="([^"]*)"', labels).group(1)
        p = int(re.search(r'partition="(\d+)"', labels).group(1))
        assert t in inputs, f"a lag series for a topic the service does not read: {labels}"
        if t == topic:
            out[p] = v
    return out


def comments(n: int, tag: str) -> list[dict]:
    return [harness.comment_event(harness.author_id("reader-lag"), "Lag Reader",
                                  f"Comment {i} of the lag run {tag}: long enough to be published without a hold.",
                                  f"lag-{tag}-a{i % 60}") for i in range(n)]


def wait_lag(svc, topic, predicate, timeout):
    """Polls /metrics until predicate(lag_by_partition, metrics); returns (lag, metrics, samples)."""
    deadline = time.monotonic() + timeout
    samples = []
    while True:
        m = svc.metrics()
        lag = lag_of(m, topic)
        samples.append((round(time.monotonic(), 1), lag, m.get(AGE)))
        if predicate(lag, m) or time.monotonic() >= deadline:
            return lag, m, samples
        time.sleep(0.2)


def test_a_backlog_shows_as_lag_then_zero(topic_factory, service_factory, producer):
    topics = topic_factory()
    tag = uuid.uuid4().hex[:8]
    n = 1800
    produced = producer.produce(topics.submitted, comments(n, tag))
    sent = collections.Counter(p.partition for p in produced)
    assert len(sent) == 3, f"the backlog does not cover every partition: {sent}"
    # One message per batch (a Kafka transaction takes the one or two stored by then): the backlog
    # takes several seconds, many of the lag thread's 1 s rounds, so the lag is seen while it lasts.
    svc = service_factory(topics, extra_env={"BATCH_MAX_MESSAGES": "1"})
    seen = collections.defaultdict(float)

    def drained(lag, m):
        for p, v in lag.items():
            seen[p] = max(seen[p], v)
        return set(lag) == {0, 1, 2} and all(v == 0 for v in lag.values()) and m["comment_ingest_consumed_total"] == n

    lag, m, samples = wait_lag(svc, topics.submitted, drained, timeout=90)
    assert all(seen[p] > 0 for p in range(3)), f"no lag > 0 seen on every partition: max {dict(seen)}; {samples[:10]}"
    assert all(seen[p] <= sent[p] for p in range(3)), f"lag above the backlog: max {dict(seen)}, sent {dict(sent)}"
    assert lag == {0: 0, 1: 0, 2: 0}, f"lag not back to 0: {lag}; last samples {samples[-5:]}"
    assert m[AGE] == 0, f"an uncommitted message is left: age {m[AGE]}"
    status, _, body = svc.get("/readyz")
    pipeline = json.loads(body)["pipeline"]
    assert status == 200 and 0 <= pipeline["last_progress_age_s"] < 60, f"/readyz of an idle instance: {body}"


def test_lag_while_postgres_refuses_every_row(topic_factory, service_factory, producer, database_url):
    topics = topic_factory()
    tag = uuid.uuid4().hex[:8]
    svc = service_factory(topics)
    lag, _, samples = wait_lag(svc, topics.submitted, lambda lag, m: set(lag) == {0, 1, 2}, timeout=20)
    assert lag == {0: 0, 1: 0, 2: 0}, f"an idle instance with nothing committed yet: {lag}; {samples[-3:]}"

    constraint = f"ci_it_lag_refuse_{tag}"
    conn = psycopg.connect(database_url, autocommit=True)
    try:
        conn.execute(f"ALTER TABLE comments ADD CONSTRAINT {constraint} "
                     f"CHECK (source_topic <> '{topics.submitted}') NOT VALID")
        first = producer.produce(topics.submitted, comments(60, tag + "a"))
        assert svc.wait_log(lambda x: x.get("msg") == "batch failed; it will be replayed", timeout=20), \
            "the constraint did not make a batch fail"
        time.sleep(1.0)  # the partitions are paused, backing off
        second = producer.produce(topics.submitted, comments(90, tag + "b"))
        sent = collections.Counter(p.partition for p in first + second)
        lag, m, samples = wait_lag(svc, topics.submitted,
                                   lambda lag, m: lag == {p: float(sent[p]) for p in range(3)} and m[AGE] >= 3.0,
                                   timeout=30)
        assert lag == {p: float(sent[p]) for p in range(3)}, \
            f"while refused, the lag is not what was produced per partition ({dict(sent)}): {lag}; {samples[-5:]}"
        assert m[AGE] >= 3.0, f"the oldest uncommitted message does not grow old: {m[AGE]}"
        assert m["comment_ingest_consumed_total"] == 0
    finally:
        conn.execute(f"ALTER TABLE comments DROP CONSTRAINT IF EXISTS {constraint}")
        conn.close()
    lag, m, samples = wait_lag(svc, topics.submitted,
                               lambda lag, m: lag == {0: 0, 1: 0, 2: 0} and m[AGE] == 0, timeout=60)
    assert lag == {0: 0, 1: 0, 2: 0} and m[AGE] == 0, f"not back to 0 after the drop: {lag}, age {m[AGE]}; {samples[-5:]}"
    assert m["comment_ingest_consumed_total"] == 150


def test_only_assigned_partitions_have_a_series(topic_factory, service_factory, producer):
    topics = topic_factory()
    tag = uuid.uuid4().hex[:8]
    group = f"it-lag-{tag}"
    a = service_factory(topics, group_id=group, transactional_id=f"{group}-a")
    wait_lag(a, topics.submitted, lambda lag, m: set(lag) == {0, 1, 2}, timeout=20)
    b = service_factory(topics, group_id=group, transactional_id=f"{group}-b")

    def split(lag_a, lag_b):
        return lag_a and lag_b and not set(lag_a) & set(lag_b) and set(lag_a) | set(lag_b) == {0, 1, 2}

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        lag_a, lag_b = lag_of(a.metrics(), topics.submitted), lag_of(b.metrics(), topics.submitted)
        if split(lag_a, lag_b):
            break
        time.sleep(0.2)
    assert split(lag_a, lag_b), f"two instances: series {sorted(lag_a)} and {sorted(lag_b)}"
    # the second input, moderation decisions, is split between them the same way
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        dec_a, dec_b = lag_of(a.metrics(), topics.decided), lag_of(b.metrics(), topics.decided)
        if split(dec_a, dec_b):
            break
        time.sleep(0.2)
    assert split(dec_a, dec_b), f"two instances, decisions: series {sorted(dec_a)} and {sorted(dec_b)}"
    producer.produce(topics.submitted, comments(30, tag))
    b.stop()
    lag, _, samples = wait_lag(a, topics.submitted, lambda lag, m: lag == {0: 0, 1: 0, 2: 0}, timeout=30)
    assert lag == {0: 0, 1: 0, 2: 0}, f"after the second instance left: {lag}; {samples[-3:]}"
