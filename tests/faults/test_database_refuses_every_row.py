"""Scenario: PostgreSQL refuses every insert (an operator's check constraint that no row of this
input passes) while comments arrive. That is the database's fault, not the comments': the
service rejects nothing and loses nothing, pauses its partitions and retries with a growing
backoff, turns /readyz 503 within STALL_TIMEOUT_MS naming the cause, logs the failure once
rather than once per retry, and, once the constraint is dropped, stores and publishes every
comment exactly once by itself.

The constraint refuses only rows read from this scenario's input topic, so nobody else's rows
are refused by it."""

import json
import time

import psycopg

import faults
import harness

STALL_MS = 3000


def test_database_refuses_every_row(fresh_topics, kafka_bootstrap, database_url, instances, record, rng):
    t0 = time.monotonic()
    rand, seed = rng
    topics = fresh_topics(3)
    tag = harness.unique_suffix()
    constraint = f"ci_faults_refuse_{tag}"
    svc = faults.new_service("faults-refuse", topics, f"faults-refuse-{tag}", f"faults-refuse-{tag}",
                             extra_env={"STALL_TIMEOUT_MS": str(STALL_MS), "LOG_LEVEL": "info"})
    instances.append(svc)
    svc.start()
    plan = faults.Plan(topics, 2000, 3, rand)
    failures: list[str] = []
    conn = psycopg.connect(database_url, autocommit=True)
    dropped = False
    try:
        conn.execute(f"ALTER TABLE comments ADD CONSTRAINT {constraint} "
                     f"CHECK (source_topic <> '{topics.submitted}') NOT VALID")
        mon = faults.Monitor(svc)
        mon.start()
        sender = faults.Sender(kafka_bootstrap, plan)
        t_send = time.monotonic()
        sender.start()
        sender.finish()

        # /readyz turns 503 within the stall timeout of the first failure, and says why.
        deadline = time.monotonic() + STALL_MS / 1000 + 15
        body = None
        while time.monotonic() < deadline:
            status, _, text = harness.http_get(svc.port, "/readyz")
            if status == 503:
                body = json.loads(text)
                break
            time.sleep(0.2)
        time.sleep(8)  # several retries with backoff while the constraint stays
        t_503 = mon.first(t_send, 503)
        m_fault = svc.metrics()
        rows_during = faults.rows_from_topic(database_url, topics.submitted)
        out_during = harness.consume_all(kafka_bootstrap, [topics.published, topics.moderation, topics.rejected],
                                         expected_count=0, extra=1.0, timeout=10)
        log_during = [ln for ln in svc.log_lines() if ln.get("msg", "").startswith("batch ")]

        conn.execute(f"ALTER TABLE comments DROP CONSTRAINT {constraint}")
        dropped = True
        t_drop = time.monotonic()
        faults.wait_caught_up(kafka_bootstrap, svc.group_id, topics.submitted, 3, timeout=120,
                              alive=lambda: svc.proc.poll() is None or failures.append("the instance exited"))
        want = plan.expected_metrics()
        m_after = svc.wait_metrics(lambda m: faults.outcome_view(m) == want, timeout=30)
        time.sleep(1.0)
        mon.stop()
        back = mon.first(t_drop, 200)
    finally:
        if not dropped:
            conn.execute(f"ALTER TABLE comments DROP CONSTRAINT IF EXISTS {constraint}")
        conn.close()

    res = faults.verify(plan, database_url, kafka_bootstrap)
    retries = faults.metric(m_fault, "comment_ingest_batch_failures_total")
    by_cause = harness.metric_series(m_fault, "comment_ingest_batch_failures_total")
    recovered = [ln for ln in svc.log_lines() if ln.get("msg") == "batch path recovered"]
    status, took = svc.stop_timed(15)
    res.update({"seed": seed, "stall_timeout_ms": STALL_MS,
                "readyz_503_after_s": None if t_503 is None else round(t_503, 1),
                "readyz_200_after_s": None if back is None else round(back, 1),
                "failures_during_fault": retries, "rows_during_fault": rows_during,
                "events_during_fault": len(out_during), "failure_log_lines": len(log_during),
                "storage_refused": m_after.get('comment_ingest_rejected_total{reason="storage_refused"}'),
                "exit_status": status})
    failures += faults.clean_failures(res)
    if body is None:
        failures.append(f"/readyz did not turn 503 within {STALL_MS / 1000 + 15:.0f}s")
    else:
        pipe = body.get("pipeline") or {}
        if pipe.get("ok") is not False or pipe.get("cause") != "constraint" or constraint not in pipe.get("detail", ""):
            failures.append(f"/readyz does not name the cause: {body}")
    if t_503 is None or t_503 > STALL_MS / 1000 + 10:
        failures.append(f"/readyz 503 only after {t_503}s (stall timeout {STALL_MS} ms)")
    if by_cause.get('{stage="store",cause="constraint"}', 0) < 3:
        failures.append(f"want several store/constraint failures while the constraint stood: {by_cause}")
    if rows_during or out_during:
        failures.append(f"while PostgreSQL refused every row: {rows_during} rows, {len(out_during)} events "
                        f"({[(r.topic, (r.event or {}).get('reason')) for r in out_during[:5]]})")
    if len(log_during) > 2:
        failures.append(f"{len(log_during)} failure log lines for {retries:.0f} failures: "
                        f"{[ln.get('msg') for ln in log_during[:6]]}")
    if res["storage_refused"]:
        failures.append(f"{res['storage_refused']} comments rejected with storage_refused: the database's fault")
    if back is None:
        failures.append("/readyz not 200 again after the constraint was dropped")
    if len(recovered) != 1:
        failures.append(f"want one 'batch path recovered' log line, got {len(recovered)}")
    if faults.outcome_view(m_after) != want:
        failures.append(f"metrics {faults.outcome_view(m_after)} != expected {want}")
    if status != 0:
        failures.append(f"exit status {status} after SIGTERM (took {took:.1f}s)")
    if svc.sanitizer_findings():
        failures.append(f"sanitizer: {svc.sanitizer_findings()[:3]}")
    faults.conclude(res, failures, record, t0)
