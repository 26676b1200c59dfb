"""Scenario 2: PostgreSQL restarts mid-run (deploy/postgres.sh stop; sleep; start) under a steady
load. The service stays up (same pid, /healthz 200 throughout), pauses its partitions and reports
/readyz 503 within a few seconds, reconnects, reports 200 again and resumes;
comment_ingest_pauses_total and comment_ingest_postgres_reconnects_total increase; nothing is lost
or doubled, and the outcome counters match what was sent exactly.

This stops the shared PostgreSQL for everyone for a few seconds (see conftest.py)."""

import time

import faults


def test_postgres_restart_mid_run(fresh_topics, kafka_bootstrap, database_url, scale, instances, record, rng):
    t0 = time.monotonic()
    rand, seed = rng
    topics = fresh_topics(3)
    res, failures = faults.dependency_restart("faults-pg", "postgres.sh", scale["pg_events"], scale["pg_down_s"],
                                              topics, kafka_bootstrap, database_url, rand, instances,
                                              ready_within=5.0, back_within=12.0)
    res["seed"] = seed
    if res["pauses"] < 1:
        failures.append("comment_ingest_pauses_total did not increase")
    if res["pg_reconnects"] < 1:
        failures.append("comment_ingest_postgres_reconnects_total did not increase")
    faults.conclude(res, failures, record, t0)
