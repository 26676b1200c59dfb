"""Stall detection: a pipeline that stops moving is visible. Here an INSERT waits on a lock (an
operator's trigger takes an advisory lock that the test holds), so no batch fails and none
commits while comments wait: /readyz turns 503 within STALL_TIMEOUT_MS and says why,
comment_ingest_stalled is 1, and once the lock is released everything is published and the
service is ready again. The trigger applies to this module's article only."""

import json
import time

import psycopg
import pytest

import harness

STALL_MS = 2000
LOCK_KEY = 0x5157A11  # the advisory lock the trigger waits for


@pytest.fixture(scope="module")
def stall_service(service_factory, topics):
    return service_factory(topics, extra_env={"STALL_TIMEOUT_MS": str(STALL_MS)})


@pytest.fixture(scope="module")
def waiting_trigger(database_url, topics, article_id):
    t = topics.suffix
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"CREATE FUNCTION ci_it_wait_{t}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                     f" PERFORM pg_advisory_xact_lock({LOCK_KEY}); RETURN NEW; END $$")
        conn.execute(f"CREATE TRIGGER ci_it_wait_{t} BEFORE INSERT ON comments FOR EACH ROW"
                     f" WHEN (NEW.article_id = '{article_id}') EXECUTE FUNCTION ci_it_wait_{t}()")
        try:
            yield
        finally:
            conn.execute(f"DROP TRIGGER IF EXISTS ci_it_wait_{t} ON comments")
            conn.execute(f"DROP FUNCTION IF EXISTS ci_it_wait_{t}()")


def readyz(svc):
    status, _, body = svc.get("/readyz")
    return status, json.loads(body)


def test_a_stuck_insert_turns_readyz_503_and_recovers(stall_service, producer, database_url, waiting_trigger,
                                                      article_id, db):
    svc = stall_service
    status, body = readyz(svc)
    assert status == 200 and body["pipeline"]["ok"] is True, body
    events = [harness.comment_event(harness.author_id("reader-wait"), "Wait W",
                                    f"Comment {i} waits behind an insert that waits for a lock held elsewhere.",
                                    article_id) for i in range(20)]
    with psycopg.connect(database_url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        producer.produce(svc.topics.submitted, events)
        svc.expect("published", len(events))
        t0 = time.monotonic()
        body = None
        while time.monotonic() - t0 < STALL_MS / 1000 + 10:
            status, body = readyz(svc)
            if status == 503:
                break
            time.sleep(0.2)
        waited = time.monotonic() - t0
        assert status == 503, f"/readyz stayed {status} for {waited:.1f}s while no batch could commit: {body}"
        assert waited < STALL_MS / 1000 + 5, waited
        pipe = body["pipeline"]
        assert pipe["ok"] is False and "no batch committed for" in pipe["detail"] and pipe["backlog"] > 0, body
        assert body["postgres"]["ok"] is True and body["kafka"]["ok"] is True, body
        m = svc.metrics()
        assert m["comment_ingest_stalled"] == 1
        assert m["comment_ingest_backlog_messages"] > 0
        assert harness.metric_sum(m, "comment_ingest_batch_failures_total") == 0, "nothing failed; it waits"
        holder.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))

    recs = harness.wait_for(svc, events, timeout=60)
    for ev in events:
        harness.assert_published(svc, db, ev, recs.get(ev["comment_id"], []))
    deadline = time.monotonic() + 10
    while readyz(svc)[0] != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    status, body = readyz(svc)
    assert status == 200 and body["pipeline"]["ok"] is True, body
    m = svc.wait_metrics(lambda m: m["comment_ingest_stalled"] == 0)
    assert m["comment_ingest_stalled"] == 0
    assert m["comment_ingest_last_commit_timestamp_seconds"] > time.time() - 60
    msgs = [ln.get("msg") for ln in svc.log_lines()]
    assert msgs.count("pipeline stalled") == 1 and msgs.count("pipeline no longer stalled") == 1, \
        [m for m in msgs if m and "stall" in m]


def test_failure_metrics_are_exposed_for_every_stage_and_cause(stall_service):
    m = stall_service.metrics()
    series = harness.metric_series(m, "comment_ingest_batch_failures_total")
    for stage in ("collect", "lookup", "store", "kafka"):
        for cause in ("connection", "constraint", "read_only", "permission", "resources", "timeout", "kafka_aborted"):
            assert f'{{stage="{stage}",cause="{cause}"}}' in series, (stage, cause)
    assert 'comment_ingest_rejected_total{reason="storage_refused"}' in m
    assert "comment_ingest_row_isolations_total" in m


def test_outputs_and_metrics_match_the_ledger(stall_service, validators, db):
    harness.check_outputs_and_metrics(stall_service, validators, db)
