"""Restarts in seconds (issue 10): an instance SIGKILLed under load and restarted at once with the same
group, transactional and group instance ids is consuming again within 10 s.

Before static group membership the dead member kept its partitions until its session timed out
(KAFKA_SESSION_TIMEOUT_MS, 45 s): the restart joined as a new member and waited for it (measured:
44.5 s). With group.instance.id the broker hands the dead member's partitions to the restart, which
joins with the same instance id, at once.

The run: a paced load on instance A; SIGKILL in the middle of it (its last batch may be stored in
PostgreSQL and not committed in Kafka: the restart replays it); the restart B is spawned at once, and
the rest of the input is produced right then. Measured from B's spawn: when /readyz answers 200, when
PostgreSQL has the first comment produced after the restart, and when it has all of them (every
partition consumed again). Required: all of them within 10 s, and, as in every fault scenario, nothing
lost or doubled (faults.verify). The figures are printed (-s) and written to .run/faults/results.json.

A before/after check: COMMENT_INGEST_BIN pointing at a build without static membership fails this
test with the time it took (the wait goes on for 60 s, so that the figure is measured either way).
"""

import time

import faults
import harness

LIMIT_S = 10.0
WAIT_S = 60.0
EVENTS = 900
BEFORE_KILL = 600  # items sent to A (paced) before the kill; the rest is produced right after the restart


def test_sigkill_and_restart_with_the_same_ids(fresh_topics, kafka_bootstrap, database_url, instances, record, rng):
    t0 = time.monotonic()
    rand, seed = rng
    topics = fresh_topics(3)
    plan = faults.Plan(topics, EVENTS, 3, rand)
    tag = harness.unique_suffix()
    group = txid = f"faults-restart-{tag}"  # the group instance id follows the transactional id

    a = faults.new_service("faults-restart-1", topics, group, txid)
    instances.append(a)
    a.start()
    before = faults.Sender(kafka_bootstrap, plan, rate=BEFORE_KILL / 4.0, stop_at=BEFORE_KILL)
    before.start()
    time.sleep(2.5)  # A is busy with the load
    members = [(m.member_id, m.group_instance_id) for m in faults.describe_group(kafka_bootstrap, group).members]
    a.sigkill()

    b = faults.new_service("faults-restart-2", topics, group, txid)
    instances.append(b)
    t_restart = time.monotonic()
    b.spawn()
    before.finish()
    after = faults.Sender(kafka_bootstrap, plan, start_at=BEFORE_KILL)
    after.start()
    new_ids = [it.comment_id for it in plan.items[BEFORE_KILL:] if it.kind in ("published", "held")]

    db = harness.Db(database_url)
    ready_s = first_s = all_s = None
    stored = 0
    try:
        while time.monotonic() - t_restart < WAIT_S and all_s is None:
            now = time.monotonic() - t_restart
            if b.proc.poll() is not None:
                break
            if ready_s is None:
                try:
                    if harness.http_get(b.port, "/readyz", timeout=1)[0] == 200:
                        ready_s = now
                except OSError:
                    pass
            stored = db.count(new_ids)
            if stored and first_s is None:
                first_s = now
            if stored == len(new_ids):
                all_s = now
            time.sleep(0.1)
    finally:
        db.close()
    assigned = b.wait_log(lambda x: x.get("msg") == "partitions assigned", timeout=0)
    after.finish()
    failures = []
    if b.proc.poll() is not None:
        failures.append(f"the restarted instance exited with {b.proc.returncode}\n{b.log_tail(30)}")
    else:
        faults.wait_caught_up(kafka_bootstrap, group, topics.submitted, 3, timeout=120)
    m = b.try_metrics()
    res = faults.verify(plan, database_url, kafka_bootstrap)
    status, took = b.stop_timed(15)

    def r(x):
        return None if x is None else round(x, 1)
    res.update({"seed": seed, "binary": str(harness.service_binary()), "members_before_kill": members,
                "restart_ready_s": r(ready_s), "restart_first_new_stored_s": r(first_s),
                "restart_all_new_stored_s": r(all_s), "new_stored": stored, "new_expected": len(new_ids),
                "restart_assigned_log": assigned.get("ts") if assigned else None,
                "replayed": faults.metric(m, "comment_ingest_replayed_total"), "exit_status": status})
    print(f"\nrestart after SIGKILL: ready after {r(ready_s)} s, first new comment stored after {r(first_s)} s, "
          f"all {len(new_ids)} new comments stored after {r(all_s)} s (limit {LIMIT_S} s; "
          f"binary {harness.service_binary()})")
    failures += faults.clean_failures(res)
    if all_s is None or all_s > LIMIT_S:
        failures.append(f"the restart was not consuming every partition again within {LIMIT_S} s: the new comments "
                        f"were stored after {r(first_s)} s (first) and {r(all_s)} s (all; None: not within {WAIT_S} s)")
    if not members or any(not gid for _, gid in members):
        failures.append(f"the killed instance was no static member: {members}")
    if status != 0:
        failures.append(f"restarted instance: exit status {status} after SIGTERM")
    for svc in instances:
        if svc.sanitizer_findings():
            failures.append(f"{svc.name}: sanitizer: {svc.sanitizer_findings()[:3]}")
    faults.conclude(res, failures, record, t0)
