"""Scenario 3: the Kafka broker restarts mid-run (deploy/kafka.sh stop; start) under a steady load.
The service may log errors but must not exit (same pid, /healthz 200 throughout); /readyz turns
503 within a few seconds and 200 again after the broker is back; nothing is lost or doubled, and
the outcome counters match what was sent exactly. Transaction aborts and replays are reported.

This stops the shared broker for everyone (see conftest.py)."""

import time

import faults


def test_kafka_restart_mid_run(fresh_topics, kafka_bootstrap, database_url, scale, instances, record, rng):
    t0 = time.monotonic()
    rand, seed = rng
    topics = fresh_topics(3)
    res, failures = faults.dependency_restart("faults-kafka", "kafka.sh", scale["kafka_events"], scale["kafka_down_s"],
                                              topics, kafka_bootstrap, database_url, rand, instances,
                                              ready_within=5.0, back_within=30.0)
    res["seed"] = seed
    faults.conclude(res, failures, record, t0)
