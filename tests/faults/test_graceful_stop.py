"""Scenario 5: SIGTERM under load. With a large backlog in the input topic, one instance runs for a
few seconds and gets SIGTERM. README: "On SIGTERM or SIGINT the service finishes the batch in
flight, leaves the consumer group and exits 0." Checked:

- exit status 0 within 10 s;
- it finished the batches in flight and took no more: at most IN_FLIGHT + 1 batches' worth of
  input (BATCH_MAX_MESSAGES = 500 here) was committed after the signal (the one being stored, up to
  two batches' worth stored and queued for the Kafka stage, as much in its transaction, and one of
  slack for the metrics scrape before the signal), not the rest of the backlog;
- nothing it stored is left uncommitted in Kafka (no PostgreSQL row above the group's offsets);
- it left the group: right after the exit the group has no members (no session timeout to wait);
- a restart in the same group consumes the rest with comment_ingest_replayed_total = 0;
- nothing is lost or doubled.
"""

import time

import faults
import harness

BATCH = 500  # BATCH_MAX_MESSAGES of the instance that gets SIGTERM
# Batches' worth a stop finishes (pipeline.c, txq.h): the front's, two queued for the Kafka stage
# (txq_init's max_messages) and two in its transaction. The collecting batch is dropped.
IN_FLIGHT = 1 + 2 * 2


def test_sigterm_under_load(fresh_topics, kafka_bootstrap, database_url, scale, instances, record, rng):
    t0 = time.monotonic()
    rand, seed = rng
    topics = fresh_topics(3)
    n = scale["graceful_backlog"]
    plan = faults.Plan(topics, n, 3, rand)
    s = faults.Sender(kafka_bootstrap, plan)
    s.start()
    s.finish()
    tag = harness.unique_suffix()
    group = txid = f"faults-graceful-{tag}"
    a = faults.new_service("faults-graceful-1", topics, group, txid, extra_env={"BATCH_MAX_MESSAGES": str(BATCH)})
    instances.append(a)
    a.start()
    time.sleep(3.0)
    m = a.metrics()
    before = m["comment_ingest_consumed_total"]
    status, took = a.stop_timed(10)
    failures = []
    if status is None:
        # Still running after 10 s: see how long it takes to stop at all, then go on.
        status, took = a.stop_timed(180)
        failures.append(f"no exit within 10 s of SIGTERM (it exited after {took + 10:.1f} s with {status})")
        took += 10
        if status is None:
            a.kill()
    members_after = [mm.member_id for mm in faults.describe_group(kafka_bootstrap, group).members]
    committed = faults.committed_offsets(kafka_bootstrap, group, topics.submitted, 3)
    after = sum(max(v, 0) for v in committed.values())
    pending, _ = faults.uncommitted_rows(database_url, plan, committed, None)
    took_more = after - before
    lines = a.log_lines()
    left = any(x.get("msg") == "left the consumer group" for x in lines)

    b = faults.new_service("faults-graceful-2", topics, group, txid)
    instances.append(b)
    b.start()
    faults.wait_caught_up(kafka_bootstrap, group, topics.submitted, 3, timeout=300)
    mb = b.metrics()
    res = faults.verify(plan, database_url, kafka_bootstrap, timeout=180)
    status_b, _ = b.stop_timed(15)
    res.update({"seed": seed, "backlog": n, "consumed_before_sigterm": before,
                "committed_after_sigterm": took_more, "exit_status": status,
                "stop_seconds": round(took, 1), "members_after_exit": len(members_after),
                "stored_not_committed_after_exit": pending, "replayed": faults.metric(mb, "comment_ingest_replayed_total"),
                "restart_exit_status": status_b})
    failures += faults.clean_failures(res)
    if status is not None and status != 0:
        failures.append(f"exit status {status} after SIGTERM")
    if took_more > (IN_FLIGHT + 1) * BATCH:
        failures.append(f"{took_more} input messages were committed after SIGTERM (consumed {before:.0f} before it): "
                        "the service kept taking new batches instead of finishing the ones in flight")
    if pending:
        failures.append(f"{pending} rows stored in PostgreSQL but not committed in Kafka after the exit")
    if members_after:
        failures.append(f"the group still has members after the exit: {members_after}")
    if not left:
        failures.append("no 'left the consumer group' log line")
    if res["replayed"] != 0:
        failures.append(f"the restart replayed {res['replayed']} comments: the in-flight batch was not committed")
    if status_b != 0:
        failures.append(f"restarted instance: exit status {status_b} after SIGTERM")
    for svc in instances:
        if svc.sanitizer_findings():
            failures.append(f"{svc.name}: sanitizer: {svc.sanitizer_findings()[:3]}")
    faults.conclude(res, failures, record, t0)
