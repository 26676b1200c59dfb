"""Fixtures for the integration tests against the real Kafka, PostgreSQL and service binary.

Each test module gets its own fresh set of the seven topics (3 partitions, unique suffix)
and one service instance on them (own consumer group, transactional.id and HTTP port), so
modules never see each other's events. Start the dependencies with `make up` first.

The service runs the production rules (RULES_FILE=deploy/rules/default.json). A module that
needs other rules overrides the module-scoped `rules_file` fixture (a path, or None for the
built-in rules), e.g. with a file written to a tmp dir; see test_rules_first_comment.py.

Environment: KAFKA_BOOTSTRAP_SERVERS, DATABASE_URL (defaults as in SPEC.md),
COMMENT_INGEST_BIN (default build/asan/comment-ingest), IT_KEEP_TOPICS=1 to keep the topics.
"""

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402

OUTPUT_EVENT_TYPES = ("comment-published", "moderation-needed", "comment-rejected")


# ---------------------------------------------------------------- dependencies

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
        db = harness.Db(url)
        db.close()
    except Exception as e:  # noqa: BLE001
        pytest.fail(f"PostgreSQL at {url} does not answer ({e}); run `make up`", pytrace=False)
    return url


@pytest.fixture(scope="session")
def db(database_url):
    d = harness.Db(database_url)
    yield d
    d.close()


@pytest.fixture(scope="session")
def producer(kafka_bootstrap):
    return harness.Producer(kafka_bootstrap)


@pytest.fixture(scope="session")
def validators():
    """{event_type: jsonschema validator} for the three output events (schemas/*.v1.schema.json)."""
    out = {}
    for et in OUTPUT_EVENT_TYPES:
        path = harness.SCHEMAS / f"{et}.v1.schema.json"
        if not path.exists():
            pytest.fail(f"schema {path} is missing", pytrace=False)
        out[et] = harness.schema_validator(et)
    return out


@pytest.fixture(scope="session")
def seed():
    return harness.load_seed()


@pytest.fixture(scope="session")
def service_binary():
    path = harness.service_binary()
    if not path.exists():
        pytest.fail(f"service binary {path} not found: build it first (make build) or set COMMENT_INGEST_BIN",
                    pytrace=False)
    return path


# ---------------------------------------------------------------- per module: topics and service

@pytest.fixture(scope="module")
def topic_factory(kafka_bootstrap):
    """Creates fresh, uniquely suffixed topic sets; deletes them when the module is done."""
    created = []

    def make():
        ts = harness.create_topics(kafka_bootstrap)
        created.append(ts)
        return ts

    yield make
    if os.environ.get("IT_KEEP_TOPICS") != "1":
        for ts in created:
            harness.delete_topics(kafka_bootstrap, ts)


@pytest.fixture(scope="module")
def topics(topic_factory):
    return topic_factory()


@pytest.fixture(scope="module")
def rules_file():
    """RULES_FILE for the module's services: the production rules. Override it in a module
    (same name, module scope) to run other rules; None runs the built-in rules."""
    return harness.DEFAULT_RULES_FILE


@pytest.fixture(scope="module")
def service_factory(request, kafka_bootstrap, database_url, service_binary, rules_file):
    """Starts service instances (waits for /readyz); stops the still running ones at module end,
    asserting a clean exit (code 0, no sanitizer report). Each runs the module's `rules_file`
    unless start() is given rules_file=..."""
    started = []
    module = request.module.__name__.rsplit(".", 1)[-1]

    def start(topics, **kw):
        kw.setdefault("rules_file", rules_file)
        svc = harness.Service(f"{module}-{len(started) + 1}", topics, bootstrap=kafka_bootstrap, db_url=database_url,
                              binary=service_binary, **kw)
        started.append(svc)
        try:
            svc.start()
        except Exception as e:  # noqa: BLE001
            svc.kill()
            pytest.fail(str(e), pytrace=False)
        return svc

    yield start
    errors = []
    for svc in started:
        if svc.proc is not None and svc.exit_code is None and svc.proc.poll() is None:
            try:
                svc.stop()
            except AssertionError as e:
                errors.append(str(e))
        elif svc.proc is not None and svc.exit_code is None:
            errors.append(f"{svc.name}: exited on its own with {svc.proc.returncode}\n{svc.log_tail()}")
    if errors:
        pytest.fail("\n\n".join(errors), pytrace=False)


@pytest.fixture(scope="module")
def service(service_factory, topics):
    """The module's service instance on the module's topics."""
    return service_factory(topics)


@pytest.fixture(scope="module")
def article_id(seed, topics):
    """The seed article's id with the module's suffix, so that reruns never collide in the shared
    database (e.g. with a content-duplicate rule keyed on author, article and body)."""
    return f"{seed['article']['id']}:it-{topics.suffix}"


# ---------------------------------------------------------------- reporting

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for svc in list(harness.RUNNING):
            report.sections.append((f"service log {svc.name}", svc.log_tail(80)))
