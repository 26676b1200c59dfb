"""Scenario 1, kill -9: SIGKILL the service at random moments of a run (reduced: 10 kills in 8,000
events; full: 20 kills in 50,000 events) and restart it each time with the same consumer group and
transactional id. Nothing may be lost or doubled.

The moments that matter most are between the PostgreSQL commit and the Kafka commit (the Kafka
transaction runs in a worker thread after batch_stored; there is no log line in between). The
load keeps many small batches in flight, so random kills land there by chance, and every kill is
classified right after it: rows of this run whose source offset the group has not committed are
rows that PostgreSQL committed but whose Kafka transaction never did. When some of them were
accepted after the killed instance started, that kill hit the window. The test requires at least
one such kill, and comment_ingest_replayed_total > 0 across the restarts (a replay only happens
for a stored comment whose batch was never committed in Kafka).

Every fourth kill comes while the instance is still starting (before it is ready). Each restart
joins with the killed instance's group instance id (static membership, issue 10), so the broker
gives it the dead member's partitions at once: nothing removes the dead member from the group, and
no restart waits for its session to time out (45 s). Each restart's time to ready is recorded
(`ready_after_s` of the next kill's moment, `final_ready_after_s`).
"""

import time

import faults
import harness


def test_kill9_at_random_moments(fresh_topics, kafka_bootstrap, database_url, scale, instances, record, rng):
    t0 = time.monotonic()
    rand, seed = rng
    n, kills = scale["kill_events"], scale["kills"]
    topics = fresh_topics(3)
    plan = faults.Plan(topics, n, 3, rand)
    tag = harness.unique_suffix()
    group = txid = f"faults-kill9-{tag}"
    duration = kills * scale["kill_cycle_s"]
    sender = faults.Sender(kafka_bootstrap, plan, rate=n / duration)
    bot = faults.decisions.ModerationBot(kafka_bootstrap, topics, 3, seed)

    def spawn(i):
        svc = faults.new_service(f"faults-kill9-{i}", topics, group, txid)
        instances.append(svc)
        return svc.spawn()

    moments = []
    replayed = replayed_decisions = 0.0
    failures = []
    sender.start()
    bot.start()
    for k in range(kills):
        svc = spawn(k)
        early = k % 4 == 3
        ready_after = None
        if early:
            time.sleep(rand.uniform(0.05, 1.2))
        else:
            ready_after = svc.wait_ready()
            time.sleep(rand.uniform(0.3, 2.5))
        m = svc.try_metrics()
        if svc.proc.poll() is not None:
            failures.append(f"kill {k}: the instance exited on its own with {svc.proc.returncode}\n{svc.log_tail(30)}")
            break
        svc.sigkill()
        killed_at = time.monotonic() - t0
        replayed += faults.metric(m, "comment_ingest_replayed_total")
        replayed_decisions += faults.metric(m, "comment_ingest_decisions_replayed_total")
        time.sleep(0.5)  # a commit that reached the coordinator completes; the rest stays open
        committed = faults.committed_offsets(kafka_bootstrap, group, topics.submitted, 3)
        end = faults.high_watermarks(kafka_bootstrap, topics.submitted)
        pending, new = faults.uncommitted_rows(database_url, plan, committed, svc.spawned_at)
        moments.append({"kill": k + 1, "at_s": round(killed_at, 1), "while_starting": early,
                        "ready_after_s": None if ready_after is None else round(ready_after, 1),
                        "lag": sum(end[p] - max(committed.get(p, -1), 0) for p in end),
                        "stored_not_committed": pending, "stored_by_killed_instance_not_committed": new,
                        "replayed_so_far": replayed})

    final = spawn(kills)
    final_ready = final.wait_ready()
    sender.finish()
    counts = plan.counts()
    bot.finish(counts["held"], counts["published"])
    for topic in (topics.submitted, topics.decided):
        faults.wait_caught_up(kafka_bootstrap, group, topic, 3, timeout=300,
                              alive=lambda: final.proc.poll() is None or failures.append("final instance exited"))
    m = final.metrics()
    replayed += faults.metric(m, "comment_ingest_replayed_total")
    replayed_decisions += faults.metric(m, "comment_ingest_decisions_replayed_total")
    res = faults.verify(plan, database_url, kafka_bootstrap, final_status=bot.final)
    dres = faults.decisions.verify(bot, database_url, kafka_bootstrap, faults.db_connect)
    res.update(dres)
    failures += faults.decisions.failures(dres)
    status, took = final.stop_timed(15)

    in_window = [x for x in moments if x["stored_by_killed_instance_not_committed"] > 0]
    res.update({"seed": seed, "kills": len(moments), "kills_while_starting": sum(x["while_starting"] for x in moments),
                "kills_in_window": len(in_window), "replayed": replayed, "decisions_replayed": replayed_decisions,
                "final_ready_after_s": round(final_ready, 1), "exit_status": status,
                "transaction_aborts_final": faults.metric(m, "comment_ingest_transaction_aborts_total"),
                "moments": moments})
    failures += faults.clean_failures(res)
    if len(moments) < kills:
        failures.append(f"only {len(moments)} of {kills} kills happened")
    if not in_window:
        failures.append("no kill landed between a PostgreSQL commit and its Kafka commit "
                        f"(stored-but-uncommitted rows after each kill: {[x['stored_not_committed'] for x in moments]})")
    if replayed <= 0:
        failures.append("comment_ingest_replayed_total stayed 0 over all restarts: no replay was exercised")
    if status != 0:
        failures.append(f"final instance: exit status {status} after SIGTERM")
    for svc in instances:
        if svc.sanitizer_findings():
            failures.append(f"{svc.name}: sanitizer: {svc.sanitizer_findings()[:3]}")
    faults.conclude(res, failures, record, t0)
