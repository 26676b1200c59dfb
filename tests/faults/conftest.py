"""Fixtures of the fault tests (issue 4): the real service (ASan build) under SIGKILL, dependency
restarts, rebalances and SIGTERM, against the real Kafka and PostgreSQL of `make up`.

Every scenario uses its own fresh topics, consumer group, transactional ids and HTTP ports, so it
can run next to other people's integration tests, except that the PostgreSQL and Kafka restart
scenarios stop those shared dependencies for everyone for a few seconds (they take
.run/faults/infra.lock so that two fault runs never do it at once).

FAULTS_SCALE=reduced (default) or full; FAULTS_SEED for reproducible random moments. Each scenario
prints one result line at the end of the session and writes it to .run/faults/results.json.
"""

import datetime
import json
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import faults  # noqa: E402
import harness  # noqa: E402

_RESULTS: list[dict] = []


@pytest.fixture(scope="session")
def kafka_bootstrap():
    bootstrap = harness.bootstrap_servers()
    try:
        harness.check_kafka(bootstrap)
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)
    return bootstrap


@pytest.fixture(scope="session")
def database_url():
    url = harness.database_url()
    try:
        faults.db_connect(url, timeout=10).close()
    except Exception as e:  # noqa: BLE001
        pytest.fail(f"PostgreSQL at {url} does not answer ({e}); run `make up`", pytrace=False)
    return url


@pytest.fixture(scope="session", autouse=True)
def service_binary():
    path = harness.service_binary()
    if not path.exists():
        pytest.fail(f"service binary {path} not found: run `make build-asan` or set COMMENT_INGEST_BIN", pytrace=False)
    return path


@pytest.fixture(scope="session")
def scale():
    return faults.scale()


@pytest.fixture
def rng(request):
    s = faults.seed()
    request.node.user_properties.append(("seed", s))
    return faults.random.Random(s), s


@pytest.fixture
def fresh_topics(kafka_bootstrap):
    """fresh_topics(partitions) -> a new TopicSet (all seven topics with that many partitions);
    deleted after the test unless IT_KEEP_TOPICS=1."""
    made = []

    def make(partitions=3):
        ts = harness.create_topics(kafka_bootstrap, suffix=f"faults-{harness.unique_suffix()}", partitions=partitions)
        made.append(ts)
        return ts

    yield make
    if os.environ.get("IT_KEEP_TOPICS") != "1":
        for ts in made:
            harness.delete_topics(kafka_bootstrap, ts)


@pytest.fixture
def instances():
    """Tracks the FaultService instances a test starts; SIGKILLs the ones still running at the end
    (the test itself asserts the clean stops it cares about)."""
    started = []
    yield started
    for svc in started:
        if svc.proc is not None and svc.proc.poll() is None:
            svc.kill()


@pytest.fixture
def record(request):
    """record(result_dict): the scenario's figures, printed in the summary and written to
    .run/faults/results.json. Call it before asserting, so that a failing run is reported too."""
    def rec(res):
        res = dict(res)
        res.setdefault("scenario", request.node.name)
        res["scale"] = faults.scale_name()
        res["binary"] = str(harness.service_binary())
        res["at"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        _RESULTS.append(res)
        _write(res)
    return rec


def _write(res):
    faults.RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    try:
        data = json.loads(faults.RESULTS_FILE.read_text())
    except (FileNotFoundError, ValueError):
        data = {}
    data.setdefault(res["scale"], {})[res["scenario"]] = res
    tmp = faults.RESULTS_FILE.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    tmp.replace(faults.RESULTS_FILE)


def result_line(r) -> str:
    keys = ("sent", "rows", "events_seen", "lost", "duplicate_rows", "duplicate_events", "decisions_sent",
            "decisions_lost", "decisions_applied_twice", "decision_duplicate_events")
    parts = [f"{r['scenario']}:"] + [f"{k}={r[k]}" for k in keys if k in r]
    for k in ("kills", "kills_in_window", "replayed", "decisions_replayed", "exit_status", "stop_seconds", "readyz_503_after_s",
              "readyz_200_after_s", "pauses", "pg_reconnects", "tx_aborts", "fenced_exit"):
        if k in r:
            parts.append(f"{k}={r[k]}")
    parts.append(f"time={r.get('seconds', 0):.1f}s")
    parts.append("seed=%s" % r.get("seed", "-"))
    parts.append("OK" if r.get("ok") else "FAILED")
    return " ".join(parts)


def pytest_terminal_summary(terminalreporter):
    if not _RESULTS:
        return
    terminalreporter.section(f"fault scenarios ({faults.scale_name()}); results in {faults.RESULTS_FILE}")
    for r in _RESULTS:
        terminalreporter.write_line(result_line(r))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for svc in list(harness.RUNNING):
            report.sections.append((f"service log {svc.name}", svc.log_tail(60)))
