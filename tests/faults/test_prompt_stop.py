"""Scenario: SIGTERM ends the process within 10 s, with status 0, in every state (issue 13):

- starting, while Kafka is unreachable (init_transactions is blocked on it);
- starting, while PostgreSQL is unreachable;
- paused, because PostgreSQL went down mid-run;
- backing off (rewound and paused) after batches failed: a constraint refuses every row;
- committing, because Kafka went down mid-run with a batch in its transaction. librdkafka 2.0.2 may
  then block in send_offsets_to_transaction past its timeout (librdkafka#5456): the stop interrupts
  what it can after 4 s, and leaves at 9 s whatever still blocks.

Where a load ran, a second instance with the same group and transactional id then consumes the rest
after the dependency is back, and the end-to-end check (`faults.verify`) finds nothing lost and
nothing doubled: a stop never commits a batch twice, and what it abandons is replayed. The
PostgreSQL and Kafka scenarios stop the shared dependency for a few seconds (InfraLock)."""

import time

import psycopg
import pytest

import faults
import harness

LIMIT_S = 10.0


def closed_port() -> int:
    return harness.free_port()  # bound and released: nothing listens on it


def stop_and_time(svc) -> tuple[int | None, float]:
    status, took = svc.stop_timed(LIMIT_S + 20)
    return status, round(took, 2)


@pytest.mark.parametrize("dependency", ["kafka", "postgres"])
def test_stop_while_a_dependency_is_unreachable_at_start(fresh_topics, instances, record, dependency):
    t0 = time.monotonic()
    topics = fresh_topics(3)
    tag = harness.unique_suffix()
    env = ({"KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{closed_port()}"} if dependency == "kafka" else
           {"DATABASE_URL": f"postgresql://comment_ingest@127.0.0.1:{closed_port()}/comment_ingest"})
    svc = faults.new_service(f"faults-stop-start-{dependency}", topics, f"faults-stop-{tag}", f"faults-stop-{tag}",
                             extra_env=env)
    instances.append(svc)
    svc.spawn()
    time.sleep(3.0)
    alive = svc.proc.poll() is None
    status, took = stop_and_time(svc)
    msgs = [ln.get("msg") for ln in svc.log_lines()]
    res = {"scenario": f"stop_while_{dependency}_unreachable_at_start", "exit_status": status, "stop_seconds": took}
    failures = []
    if not alive:
        failures.append(f"the instance exited before the signal\n{svc.log_tail()}")
    if status != 0 or took > LIMIT_S:
        failures.append(f"exit status {status} after {took}s (want 0 within {LIMIT_S}s)\n{svc.log_tail(30)}")
    if dependency == "kafka" and "kafka transactions initialized" in msgs:
        failures.append("transactions were initialized: the stop did not meet init_transactions blocked")
    if dependency == "postgres":
        # the whole libpq message, not its first line: "connection to server at ... failed:" said nothing
        errors = [ln.get("error", "") for ln in svc.log_lines() if ln.get("msg") == "postgres connection failed"]
        if not errors or "Connection refused" not in errors[0]:
            failures.append(f"the log does not say why PostgreSQL is unreachable: {errors[:1]}")
    if svc.sanitizer_findings():
        failures.append(f"sanitizer: {svc.sanitizer_findings()[:3]}")
    faults.conclude(res, failures, record, t0)


def run_then_stop(name, topics, bootstrap, db_url, rand, instances, fault_on, fault_off, wait_for, n=3000,
                  extra_env=None):
    """A load on one instance; fault_on(); wait_for(svc) tells when the instance is in the state; SIGTERM;
    fault_off(); a second instance (same group and transactional id) consumes the rest; verify."""
    tag = harness.unique_suffix()
    group = txid = f"{name}-{tag}"
    a = faults.new_service(f"{name}-1", topics, group, txid, extra_env=extra_env or {})
    instances.append(a)
    a.start()
    plan = faults.Plan(topics, n, 3, rand)
    sender = faults.Sender(bootstrap, plan, rate=n / 6.0)
    sender.start()
    time.sleep(2.0)
    failures = []
    with faults.InfraLock():
        fault_on()
        try:
            in_state = wait_for(a)
            status, took = stop_and_time(a)
        finally:
            fault_off()
    sender.finish()
    b = faults.new_service(f"{name}-2", topics, group, txid)
    instances.append(b)
    b.start()
    faults.wait_caught_up(bootstrap, group, topics.submitted, 3, timeout=240)
    res = faults.verify(plan, db_url, bootstrap)
    b_status, _ = b.stop_timed(15)
    deadline_hit = any(ln.get("msg", "").startswith("stop deadline reached") for ln in a.log_lines())
    res.update({"exit_status": status, "stop_seconds": took, "in_state": in_state, "deadline_exit": deadline_hit,
                "second_exit_status": b_status, "deploy_notes": list(faults.DEPLOY_NOTES)})
    faults.DEPLOY_NOTES.clear()
    failures += faults.clean_failures(res)
    if not in_state:
        failures.append("the instance never reached the state under test before the signal")
    if status != 0 or took > LIMIT_S:
        failures.append(f"exit status {status} after {took}s (want 0 within {LIMIT_S}s)\n{a.log_tail(40)}")
    if b_status != 0:
        failures.append(f"the second instance exited {b_status}")
    for svc in (a, b):
        if svc.sanitizer_findings():
            failures.append(f"sanitizer ({svc.name}): {svc.sanitizer_findings()[:3]}")
    return res, failures


def readyz_503(svc, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if harness.http_get(svc.port, "/readyz", timeout=2)[0] == 503:
                return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


def test_stop_while_paused_with_postgres_down(fresh_topics, kafka_bootstrap, database_url, instances, record, rng):
    t0 = time.monotonic()
    rand, seed = rng
    topics = fresh_topics(3)
    res, failures = run_then_stop("faults-stop-pg", topics, kafka_bootstrap, database_url, rand, instances,
                                  lambda: faults.deploy("postgres.sh", "stop"),
                                  lambda: faults.deploy("postgres.sh", "start"), readyz_503)
    res.update({"scenario": "stop_while_paused_with_postgres_down", "seed": seed})
    faults.conclude(res, failures, record, t0)


def test_stop_while_backing_off_after_failures(fresh_topics, kafka_bootstrap, database_url, instances, record, rng):
    t0 = time.monotonic()
    rand, seed = rng
    topics = fresh_topics(3)
    constraint = f"ci_faults_stop_{harness.unique_suffix()}"
    conn = psycopg.connect(database_url, autocommit=True)

    def refuse():
        conn.execute(f"ALTER TABLE comments ADD CONSTRAINT {constraint} "
                     f"CHECK (source_topic <> '{topics.submitted}') NOT VALID")

    def allow():
        conn.execute(f"ALTER TABLE comments DROP CONSTRAINT IF EXISTS {constraint}")

    def backing_off(svc):
        line = svc.wait_log(lambda ln: ln.get("msg") == "batch failed; it will be replayed", timeout=20)
        time.sleep(0.3)  # inside the backoff (0.5 s, then longer)
        return line is not None

    try:
        res, failures = run_then_stop("faults-stop-refuse", topics, kafka_bootstrap, database_url, rand, instances,
                                      refuse, allow, backing_off)
    finally:
        allow()
        conn.close()
    res.update({"scenario": "stop_while_backing_off_after_failures", "seed": seed})
    faults.conclude(res, failures, record, t0)


def test_stop_while_committing_with_kafka_down(fresh_topics, kafka_bootstrap, database_url, instances, record, rng):
    t0 = time.monotonic()
    rand, seed = rng
    topics = fresh_topics(3)

    def kafka_gone(svc):
        time.sleep(1.0)  # the batch in flight meets the missing broker
        return svc.proc.poll() is None

    # The stopped instance cannot leave the group without a broker: the shortest session lets the second
    # one take the partitions over sooner.
    res, failures = run_then_stop("faults-stop-kafka", topics, kafka_bootstrap, database_url, rand, instances,
                                  lambda: faults.deploy("kafka.sh", "stop"),
                                  lambda: faults.deploy("kafka.sh", "start"), kafka_gone,
                                  extra_env={"KAFKA_SESSION_TIMEOUT_MS": "6000"})
    res.update({"scenario": "stop_while_committing_with_kafka_down", "seed": seed})
    faults.conclude(res, failures, record, t0)
