"""Helpers for the integration tests: fresh topics, the real service as a subprocess,
Kafka produce/consume, Prometheus metrics, PostgreSQL rows, and the output schemas.

Everything here talks to the real components started by `make up` (SPEC.md):
Kafka on KAFKA_BOOTSTRAP_SERVERS, PostgreSQL on DATABASE_URL, and the service binary
COMMENT_INGEST_BIN (default build/asan/comment-ingest, the ASan+UBSan build). The service runs
the production moderation rules, RULES_FILE=deploy/rules/default.json, unless a module says
otherwise (see the `rules_file` fixture in conftest.py).

Test data is relative to now: the rules reject a submitted_at more than 7 days old or more than
5 minutes in the future (submitted_at()), and hold the 6th comment of one author within a minute,
so comments that are not about their author get an author id of their own (author_id()).
"""

from __future__ import annotations

import base64
import collections
import contextlib
import dataclasses
import datetime
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))  # for tests/schema_validator.py
SCHEMAS = REPO / "schemas"
SEED_FILE = REPO / "deploy" / "demo" / "seed-comments.json"
LOG_DIR = REPO / ".run" / "test-logs"

DEFAULT_BOOTSTRAP = "127.0.0.1:9092"
DEFAULT_DATABASE_URL = "postgresql://comment_ingest@127.0.0.1:25432/comment_ingest"
DEFAULT_BIN = REPO / "build" / "asan" / "comment-ingest"
DEFAULT_RULES_FILE = REPO / "deploy" / "rules" / "default.json"

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "LeakSanitizer", "runtime error:")

OUTPUT_KINDS = ("published", "moderation", "rejected")
EVENT_TYPE_OF_KIND = {
    "published": "comment-published",
    "moderation": "moderation-needed",
    "rejected": "comment-rejected",
}


def bootstrap_servers() -> str:
    return os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or DEFAULT_BOOTSTRAP


def database_url() -> str:
    return os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL


def service_binary() -> Path:
    p = Path(os.environ.get("COMMENT_INGEST_BIN") or DEFAULT_BIN)
    return p if p.is_absolute() else REPO / p


def unique_suffix() -> str:
    return uuid.uuid4().hex[:10]


# ---------------------------------------------------------------- topics

@dataclasses.dataclass(frozen=True)
class TopicSet:
    """The seven topics of one test module (SPEC names with a unique suffix): the two inputs
    (submitted comments, moderation decisions) and the five outputs."""

    suffix: str
    submitted: str
    published: str
    moderation: str
    rejected: str
    decided: str
    moderated: str
    decision_rejected: str

    @classmethod
    def fresh(cls, suffix: str) -> "TopicSet":
        return cls(
            suffix=suffix,
            submitted=f"comment-submitted-it-{suffix}",
            published=f"comment-published-it-{suffix}",
            moderation=f"moderation-needed-it-{suffix}",
            rejected=f"comment-rejected-it-{suffix}",
            decided=f"moderation-decided-it-{suffix}",
            moderated=f"comment-moderated-it-{suffix}",
            decision_rejected=f"moderation-decision-rejected-it-{suffix}",
        )

    @classmethod
    def defaults(cls) -> "TopicSet":
        return cls(
            suffix="",
            submitted=os.environ.get("TOPIC_SUBMITTED", "comment-submitted"),
            published=os.environ.get("TOPIC_PUBLISHED", "comment-published"),
            moderation=os.environ.get("TOPIC_MODERATION", "moderation-needed"),
            rejected=os.environ.get("TOPIC_REJECTED", "comment-rejected"),
            decided=os.environ.get("TOPIC_DECIDED", "moderation-decided"),
            moderated=os.environ.get("TOPIC_MODERATED", "comment-moderated"),
            decision_rejected=os.environ.get("TOPIC_DECISION_REJECTED", "moderation-decision-rejected"),
        )

    def all(self) -> list[str]:
        return [self.submitted, self.published, self.moderation, self.rejected, self.decided, self.moderated,
                self.decision_rejected]

    def output(self, kind: str) -> str:
        return {"published": self.published, "moderation": self.moderation, "rejected": self.rejected,
                "moderated": self.moderated, "decision_rejected": self.decision_rejected}[kind]

    def env(self) -> dict[str, str]:
        return {
            "TOPIC_SUBMITTED": self.submitted,
            "TOPIC_PUBLISHED": self.published,
            "TOPIC_MODERATION": self.moderation,
            "TOPIC_REJECTED": self.rejected,
            "TOPIC_DECIDED": self.decided,
            "TOPIC_MODERATED": self.moderated,
            "TOPIC_DECISION_REJECTED": self.decision_rejected,
        }


def admin_client(bootstrap: str):
    from confluent_kafka.admin import AdminClient

    return AdminClient({"bootstrap.servers": bootstrap})


def create_topics(bootstrap: str, suffix: str | None = None, partitions: int = 3, timeout: float = 30.0) -> TopicSet:
    """Creates a fresh set of the seven topics and waits until every partition has a leader."""
    from confluent_kafka.admin import NewTopic

    topics = TopicSet.fresh(suffix or unique_suffix())
    admin = admin_client(bootstrap)
    futures = admin.create_topics(
        [NewTopic(t, num_partitions=partitions, replication_factor=1) for t in topics.all()],
        operation_timeout=timeout,
        request_timeout=timeout,
    )
    for name, fut in futures.items():
        fut.result(timeout=timeout)
    deadline = time.monotonic() + timeout
    while True:
        md = admin.list_topics(timeout=10)
        ready = all(
            t in md.topics
            and md.topics[t].error is None
            and len(md.topics[t].partitions) == partitions
            and all(p.leader >= 0 for p in md.topics[t].partitions.values())
            for t in topics.all()
        )
        if ready:
            return topics
        if time.monotonic() > deadline:
            raise TimeoutError(f"topics {topics.all()} have no leaders after {timeout}s")
        time.sleep(0.1)


def delete_topics(bootstrap: str, topics: TopicSet, timeout: float = 30.0) -> None:
    admin = admin_client(bootstrap)
    futures = admin.delete_topics(topics.all(), operation_timeout=timeout, request_timeout=timeout)
    for fut in futures.values():
        try:
            fut.result(timeout=timeout)
        except Exception:  # noqa: BLE001 - cleanup is best effort
            pass


def check_kafka(bootstrap: str, timeout: float = 10.0) -> None:
    """Raises with a clear message when the broker does not answer."""
    try:
        admin_client(bootstrap).list_topics(timeout=timeout)
    except Exception as e:  # noqa: BLE001
        raise RuntimeError(f"Kafka at {bootstrap} does not answer ({e}); run `make up`") from e


# ---------------------------------------------------------------- producing

@dataclasses.dataclass(frozen=True)
class Produced:
    """One message as the broker acknowledged it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


def encode_value(event) -> bytes | None:
    if event is None or isinstance(event, (bytes, bytearray)):
        return None if event is None else bytes(event)
    if isinstance(event, str):
        return event.encode("utf-8")
    return json.dumps(event, ensure_ascii=False).encode("utf-8")


class Producer:
    """A plain (non-transactional) producer with acks=all, like a front end."""

    def __init__(self, bootstrap: str):
        from confluent_kafka import Producer as KProducer

        self._p = KProducer({
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 5,
        })

    def produce(self, topic: str, events, key=None, timeout: float = 30.0) -> list[Produced]:
        """Produces events in order; each is a dict (JSON-encoded), str, bytes or None.

        The key is `key` when given, otherwise the event's article_id when it has one.
        Returns the acknowledged coordinates, in the order given.
        """
        results: list[Produced | Exception | None] = [None] * len(events)

        def on_delivery(i):
            def cb(err, msg):
                if err is not None:
                    results[i] = RuntimeError(f"delivery failed: {err}")
                else:
                    results[i] = Produced(msg.topic(), msg.partition(), msg.offset(), msg.key(), msg.value())
            return cb

        for i, ev in enumerate(events):
            k = key
            if k is None and isinstance(ev, dict) and isinstance(ev.get("article_id"), str):
                k = ev["article_id"]
            if isinstance(k, str):
                k = k.encode("utf-8")
            self._p.produce(topic, value=encode_value(ev), key=k, on_delivery=on_delivery(i))
            self._p.poll(0)
        left = self._p.flush(timeout)
        if left:
            raise TimeoutError(f"{left} messages not delivered within {timeout}s")
        for r in results:
            if isinstance(r, Exception):
                raise r
            assert r is not None, "a message got no delivery report"
        return results  # type: ignore[return-value]

    def produce_raw(self, topic: str, value: bytes | None, key: bytes | str | None = None) -> Produced:
        """Produces one message with exactly these bytes (None: a null value) and key (None: no key)."""
        return self.produce(topic, [value], key=key)[0]


# ---------------------------------------------------------------- consuming

@dataclasses.dataclass
class Record:
    """One consumed output message; `event` is the parsed JSON value (None if it is not JSON)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    event: dict | None

    @property
    def key_text(self) -> str | None:
        return None if self.key is None else self.key.decode("utf-8", "replace")


def _parse(value: bytes | None):
    if value is None:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return None


def consume_all(bootstrap: str, topics, expected_count: int | None = None, timeout: float = 30.0,
                extra: float = 2.0, match=None, start_offsets: dict | None = None) -> list[Record]:
    """Reads committed messages of one or more topics from the beginning.

    A fresh read_committed consumer (unique group, partitions assigned explicitly, no
    offsets committed) reads every partition. Records for which `match(record)` is true
    (all when match is None) are collected. It returns once it has read to the end of every
    partition, has `expected_count` matches (None: any number) and `extra` seconds have passed
    since that count was reached, so that surplus events (duplicates) are caught too. At
    `timeout` it returns what it has. Callers assert on the length.

    start_offsets: optional {(topic, partition): offset} to start from instead of the beginning.
    """
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

    if isinstance(topics, str):
        topics = [topics]
    c = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": f"it-reader-{unique_suffix()}",
        "isolation.level": "read_committed",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "enable.partition.eof": True,
    })
    try:
        md = c.list_topics(timeout=10)
        tps = []
        for t in topics:
            if t not in md.topics or md.topics[t].error is not None:
                raise RuntimeError(f"topic {t} does not exist")
            for pid in sorted(md.topics[t].partitions):
                off = (start_offsets or {}).get((t, pid), OFFSET_BEGINNING)
                tps.append(TopicPartition(t, pid, off))
        c.assign(tps)
        parts = {(tp.topic, tp.partition) for tp in tps}
        at_end: set = set()
        found: list[Record] = []
        deadline = time.monotonic() + timeout
        count_reached_at = None
        while True:
            now = time.monotonic()
            if count_reached_at is None and (expected_count is None or len(found) >= expected_count):
                count_reached_at = now
            if count_reached_at is not None and at_end == parts and now - count_reached_at >= extra:
                break
            if now >= deadline:
                break
            msg = c.poll(0.1)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    at_end.add((msg.topic(), msg.partition()))
                    continue
                raise RuntimeError(f"consumer error: {msg.error()}")
            at_end.discard((msg.topic(), msg.partition()))
            rec = Record(msg.topic(), msg.partition(), msg.offset(), msg.key(), msg.value(), _parse(msg.value()))
            if match is None or match(rec):
                found.append(rec)
        return found
    finally:
        c.close()


def by_comment_ids(ids):
    ids = set(ids)
    return lambda rec: rec.event is not None and rec.event.get("comment_id") in ids


def by_sources(produced: list[Produced]):
    coords = {(p.topic, p.partition, p.offset) for p in produced}

    def match(rec):
        src = (rec.event or {}).get("source") or {}
        return (src.get("topic"), src.get("partition"), src.get("offset")) in coords
    return match


def watermarks(bootstrap: str, topics) -> dict:
    """{(topic, partition): high watermark} for the given topics."""
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"it-wm-{unique_suffix()}"})
    try:
        md = c.list_topics(timeout=10)
        out = {}
        for t in topics:
            for pid in md.topics[t].partitions:
                _, high = c.get_watermark_offsets(TopicPartition(t, pid), timeout=10)
                out[(t, pid)] = high
        return out
    finally:
        c.close()


# ---------------------------------------------------------------- HTTP and metrics

def http_get(port: int, path: str, host: str = "127.0.0.1", timeout: float = 5.0):
    """Returns (status, content_type, body_text); HTTP errors are returned, not raised."""
    url = f"http://{host}:{port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", "") if e.headers else "", e.read().decode("utf-8", "replace")


_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)(?:\s+\d+)?$')


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text exposition -> {'name' or 'name{labels}': value} (labels as written)."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if not m:
            raise ValueError(f"unparsable metrics line: {line!r}")
        name, labels, value = m.group(1), m.group(2) or "", m.group(3)
        out[name + labels] = float(value)
    return out


def metric_series(metrics: dict[str, float], name: str) -> dict[str, float]:
    """Every series of one metric name: {'{labels}' or '': value}."""
    out = {}
    for k, v in metrics.items():
        if k == name:
            out[""] = v
        elif k.startswith(name + "{"):
            out[k[len(name):]] = v
    return out


def metric_sum(metrics: dict[str, float], name: str) -> float:
    return sum(metric_series(metrics, name).values())


def metrics(port: int) -> dict[str, float]:
    status, _, body = http_get(port, "/metrics")
    if status != 200:
        raise RuntimeError(f"/metrics answered {status}: {body[:200]}")
    return parse_metrics(body)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- the service

RUNNING: list["Service"] = []


class Service:
    """The real comment-ingest binary on a fresh topic set, its own group and HTTP port."""

    def __init__(self, name: str, topics: TopicSet, bootstrap: str | None = None, db_url: str | None = None,
                 group_id: str | None = None, transactional_id: str | None = None, binary: Path | None = None,
                 extra_env: dict | None = None, rules_file: Path | str | None = DEFAULT_RULES_FILE):
        self.name = name
        # RULES_FILE for the service; None runs the built-in rules (RULES_FILE unset).
        self.rules_file = rules_file
        self.topics = topics
        self.bootstrap = bootstrap or bootstrap_servers()
        self.db_url = db_url or database_url()
        tag = unique_suffix()
        self.group_id = group_id or f"it-comment-ingest-{tag}"
        self.transactional_id = transactional_id or f"it-comment-ingest-{tag}"
        self.binary = binary or service_binary()
        self.port = free_port()
        self.extra_env = extra_env or {}
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        self.stdout_path = LOG_DIR / f"{name}-{stamp}-{tag}.stdout.log"
        self.stderr_path = LOG_DIR / f"{name}-{stamp}-{tag}.stderr.log"
        self.proc: subprocess.Popen | None = None
        self.exit_code: int | None = None
        # Expected outcomes of what the tests sent: published, held, duplicate, rejected:<code>.
        self.ledger: collections.Counter = collections.Counter()

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("RULES_FILE", None)
        if self.rules_file is not None:
            env["RULES_FILE"] = str(self.rules_file)
        env.update(self.topics.env())
        env.update({
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "DATABASE_URL": self.db_url,
            "KAFKA_GROUP_ID": self.group_id,
            "KAFKA_TRANSACTIONAL_ID": self.transactional_id,
            "HTTP_ADDR": "127.0.0.1",
            "HTTP_PORT": str(self.port),
            "LOG_LEVEL": "debug",
            "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0",
            "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
        })
        env.update(self.extra_env)
        return env

    def spawn(self) -> "Service":
        """Starts the process without waiting for it to be ready."""
        if not self.binary.exists():
            raise FileNotFoundError(f"service binary {self.binary} not found (build it, or set COMMENT_INGEST_BIN)")
        out = open(self.stdout_path, "wb")
        err = open(self.stderr_path, "wb")
        try:
            self.proc = subprocess.Popen([str(self.binary)], env=self.env(), stdout=out, stderr=err,
                                         stdin=subprocess.DEVNULL, cwd=str(REPO))
        finally:
            out.close()
            err.close()
        RUNNING.append(self)
        return self

    def start(self, ready_timeout: float = 60.0) -> "Service":
        self.spawn()
        deadline = time.monotonic() + ready_timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.exit_code = self.proc.returncode
                raise RuntimeError(f"{self.name}: exited with {self.exit_code} before ready\n{self.log_tail()}")
            try:
                status, _, body = http_get(self.port, "/readyz", timeout=2)
                last = (status, body)
                if status == 200:
                    return self
            except OSError as e:
                last = e
            time.sleep(0.2)
        self.kill()
        raise TimeoutError(f"{self.name}: /readyz not 200 within {ready_timeout}s (last: {last!r})\n{self.log_tail()}")

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self in RUNNING:
            RUNNING.remove(self)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM; asserts exit 0 within `timeout` and no sanitizer report."""
        assert self.proc is not None, "not started"
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.exit_code = self.proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
                    raise AssertionError(f"{self.name}: did not exit within {timeout}s of SIGTERM\n{self.log_tail()}")
            else:
                self.exit_code = self.proc.returncode
                raise AssertionError(f"{self.name}: had already exited with {self.exit_code} before SIGTERM\n"
                                     f"{self.log_tail()}")
            findings = self.sanitizer_findings()
            assert not findings, f"{self.name}: sanitizer reports: {findings}\n{self.log_tail(200)}"
            assert self.exit_code == 0, f"{self.name}: exit code {self.exit_code} after SIGTERM\n{self.log_tail()}"
        finally:
            if self in RUNNING:
                RUNNING.remove(self)

    def sanitizer_findings(self) -> list[str]:
        found = []
        for path in (self.stderr_path, self.stdout_path):
            try:
                text = path.read_text("utf-8", "replace")
            except FileNotFoundError:
                continue
            for line in text.splitlines():
                if any(m in line for m in SANITIZER_MARKERS):
                    found.append(line.strip())
        return found

    def log_tail(self, n: int = 60) -> str:
        parts = []
        for label, path in (("stdout", self.stdout_path), ("stderr", self.stderr_path)):
            try:
                lines = path.read_text("utf-8", "replace").splitlines()
            except FileNotFoundError:
                lines = []
            parts.append(f"---- {self.name} {label} ({path}), last {min(n, len(lines))} of {len(lines)} lines ----")
            parts.extend(lines[-n:])
        return "\n".join(parts)

    def log_lines(self) -> list[dict]:
        """The JSON log lines on stdout (non-JSON lines are skipped)."""
        out = []
        for line in self.stdout_path.read_text("utf-8", "replace").splitlines():
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict):
                out.append(obj)
        return out

    def send_signal(self, sig: int) -> None:
        assert self.running, f"{self.name}: not running\n{self.log_tail()}"
        self.proc.send_signal(sig)

    def wait_log(self, predicate, after: int = 0, timeout: float = 15.0) -> dict | None:
        """The first JSON log line, from line number `after` on (see log_lines), for which
        predicate(line) is true; None after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.log_lines()[after:]:
                if predicate(line):
                    return line
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.1)

    def get(self, path: str):
        return http_get(self.port, path)

    def metrics(self) -> dict[str, float]:
        return metrics(self.port)

    # ---- expected counts
    def expect(self, outcome: str, n: int = 1) -> None:
        """Records what the tests expect: 'published', 'held', 'duplicate' or 'rejected:<code>'."""
        self.ledger[outcome] += n

    def wait_metrics(self, predicate, timeout: float = 15.0):
        """Polls /metrics until predicate(metrics) is true; returns the last metrics."""
        deadline = time.monotonic() + timeout
        m = self.metrics()
        while not predicate(m) and time.monotonic() < deadline:
            time.sleep(0.2)
            m = self.metrics()
        return m


def ledger_metrics_view(m: dict[str, float]) -> dict[str, float]:
    """The outcome counters of a metrics dict, in ledger terms (zero rejected series left out)."""
    view = {
        "consumed": m.get("comment_ingest_consumed_total", 0),
        "published": m.get("comment_ingest_published_total", 0),
        "held": m.get("comment_ingest_held_total", 0),
        "duplicate": m.get("comment_ingest_duplicate_total", 0),
    }
    for labels, v in metric_series(m, "comment_ingest_rejected_total").items():
        code = re.search(r'reason="([^"]*)"', labels)
        if v and code:
            view[f"rejected:{code.group(1)}"] = v
    return view


def ledger_expected_view(ledger: collections.Counter) -> dict[str, float]:
    view = {"consumed": float(sum(ledger.values())), "published": 0.0, "held": 0.0, "duplicate": 0.0}
    for k, v in ledger.items():
        if v:
            view[k] = float(v)
    return view


# ---------------------------------------------------------------- PostgreSQL

@contextlib.contextmanager
def scratch_database(url: str, name: str, options: str = "ENCODING 'UTF8'"):
    """A new database on url's server, owned by url's user and created with options (as the
    `postgres` superuser); yields its URL and drops it afterwards, whoever is still connected."""
    import psycopg

    info = psycopg.conninfo.conninfo_to_dict(url)
    with psycopg.connect(**dict(info, user="postgres", dbname="postgres"), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} {options} TEMPLATE template0 OWNER {info.get('user', 'comment_ingest')}")
        try:
            yield "postgresql://{user}@{host}:{port}/{db}".format(db=name, **info)
        finally:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


class Db:
    def __init__(self, url: str):
        import psycopg
        from psycopg.rows import dict_row

        self.conn = psycopg.connect(url, autocommit=True, row_factory=dict_row, connect_timeout=10)

    def close(self):
        self.conn.close()

    def rows(self, comment_ids) -> dict[str, dict]:
        """{comment_id: row} for the stored ones among comment_ids."""
        ids = [str(c) for c in comment_ids]
        cur = self.conn.execute("SELECT * FROM comments WHERE comment_id = ANY(%s::uuid[])", (ids,))
        out = {}
        for r in cur.fetchall():
            r = dict(r)
            r["comment_id"] = str(r["comment_id"])
            if r.get("parent_id") is not None:
                r["parent_id"] = str(r["parent_id"])
            out[r["comment_id"]] = r
        return out

    def count(self, comment_ids) -> int:
        ids = [str(c) for c in comment_ids]
        return self.conn.execute("SELECT count(*) AS n FROM comments WHERE comment_id = ANY(%s::uuid[])",
                                 (ids,)).fetchone()["n"]


# ---------------------------------------------------------------- events and expectations

def load_seed() -> dict:
    with open(SEED_FILE, encoding="utf-8") as f:
        return json.load(f)


def author_id(base: str = "reader") -> str:
    """A fresh author id, e.g. reader-priya-s-3f9c0a1b: comments that are not about their author
    must not add up to a rate limit (or a first comment) across tests and runs."""
    return f"{base}-{uuid.uuid4().hex[:8]}"


def format_time(dt: datetime.datetime, offset: str = "Z", fraction: str = "") -> str:
    """dt as RFC 3339 in the given offset ("Z", "+05:30", "-08:00"), whole seconds plus `fraction`
    (e.g. ".123456")."""
    if offset in ("Z", "z"):
        tz = datetime.timezone.utc
    else:
        sign = 1 if offset[0] == "+" else -1
        tz = datetime.timezone(sign * datetime.timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6])))
    local = dt.astimezone(tz).replace(microsecond=0)
    return local.strftime("%Y-%m-%dT%H:%M:%S") + fraction + ("Z" if offset in ("Z", "z") else offset)


def submitted_at(ago: float = 0.0, offset: str = "Z", fraction: str = "") -> str:
    """A submitted_at `ago` seconds before now (negative: in the future), e.g.
    submitted_at(90, "+05:30") -> "2026-11-27T15:28:30+05:30"."""
    now = datetime.datetime.now(datetime.timezone.utc)
    return format_time(now - datetime.timedelta(seconds=ago), offset, fraction)


def _offset_of(rfc3339: str) -> str:
    m = re.search(r"([Zz]|[+-][0-9]{2}:[0-9]{2})$", rfc3339)
    return m.group(1) if m else "Z"


def seed_submitted_at(seed: dict, c: dict, latest_ago: float = 60.0) -> str:
    """The seed comment c's submitted_at moved to now: the latest seed comment `latest_ago`
    seconds ago, the others as far before it as in the seed file, each in its own offset."""
    def parse(ts):
        return datetime.datetime.fromisoformat(ts.replace("Z", "+00:00").replace("z", "+00:00"))
    latest = max(parse(x["submitted_at"]) for x in seed["comments"])
    ago = latest_ago + (latest - parse(c["submitted_at"])).total_seconds()
    return submitted_at(ago, _offset_of(c["submitted_at"]))


def seed_event(seed: dict, c: dict, article_id: str, **kw) -> dict:
    """A comment-submitted event for seed comment c (seed["comments"][i] or seed["examples"][k]):
    its body and display name, a fresh author id, submitted_at moved to now."""
    if c in seed["comments"]:
        kw.setdefault("submitted_at", seed_submitted_at(seed, c))
    else:
        kw.setdefault("submitted_at", submitted_at(30, _offset_of(c["submitted_at"])))
    return comment_event(author_id(c["author"]["id"]), c["author"]["display_name"], c["body"], article_id, **kw)


def comment_event(author_id: str, display_name: str, body: str, article_id: str, comment_id: str | None = None,
                  submitted_at: str | None = None, parent_id: str | None = None, **extra) -> dict:
    """A comment-submitted event; submitted_at defaults to now (UTC, "Z")."""
    if submitted_at is None:
        submitted_at = format_time(datetime.datetime.now(datetime.timezone.utc))
    ev = {
        "schema_version": 1,
        "comment_id": comment_id or str(uuid.uuid4()),
        "article_id": article_id,
        "author": {"id": author_id, "display_name": display_name},
        "body": body,
        "submitted_at": submitted_at,
    }
    if parent_id is not None:
        ev["parent_id"] = parent_id
    ev.update(extra)
    return ev


def canonical_time(rfc3339: str) -> str:
    """An RFC 3339 time as the service writes it: UTC, six fractional digits, Z."""
    dt = datetime.datetime.fromisoformat(rfc3339.replace("z", "Z"))
    return dt.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_canonical(ts: str) -> datetime.datetime:
    return datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)


def is_uuid_v5(s) -> bool:
    try:
        u = uuid.UUID(s)
    except (TypeError, ValueError, AttributeError):
        return False
    return u.version == 5 and u.variant == uuid.RFC_4122 and str(u) == s.lower()


def decode_payload(event: dict) -> bytes:
    if event["payload_encoding"] == "base64":
        return base64.b64decode(event["payload"], validate=True)
    return event["payload"].encode("utf-8")


# ---------------------------------------------------------------- one comment's outcome

def wait_for(service, events, count: int | None = None, extra: float = 0.5, timeout: float = 30.0) -> dict:
    """{comment_id: [records]} of the output events (any of the three topics) for events; waits for
    one event per distinct comment_id unless `count` says otherwise."""
    ids = [e["comment_id"] for e in events]
    t = service.topics
    recs = consume_all(service.bootstrap, [t.published, t.moderation, t.rejected],
                       expected_count=len(set(ids)) if count is None else count, timeout=timeout, extra=extra,
                       match=by_comment_ids(ids))
    out = collections.defaultdict(list)
    for r in recs:
        out[r.event["comment_id"]].append(r)
    return out


def _got(recs) -> list:
    return [(r.topic, (r.event or {}).get("reasons") or (r.event or {}).get("reason")) for r in recs]


def assert_published(service, db, ev, recs, produced: Produced | None = None) -> dict:
    """ev's output records `recs`: one comment-published event, reasons [], a row 'published' with []."""
    assert [r.topic for r in recs] == [service.topics.published], f"{ev['body']!r}: want published, got {_got(recs)}"
    out = recs[0].event
    assert out["status"] == "published" and out["reasons"] == []
    row = db.rows([ev["comment_id"]]).get(ev["comment_id"])
    assert row is not None and row["status"] == "published" and row["reasons"] == [], row
    if produced is not None:
        assert out["source"] == {"topic": service.topics.submitted, "partition": produced.partition,
                                 "offset": produced.offset}
    return out


def assert_held(service, db, ev, recs, codes, term: str | None = None) -> dict:
    """One moderation-needed event with exactly the reason `codes` (each once, each with a detail;
    the suspect_term detail names `term`), and a row 'pending' whose reasons jsonb is the same."""
    assert [r.topic for r in recs] == [service.topics.moderation], \
        f"{ev['body']!r}: want held {sorted(codes)}, got {_got(recs)}"
    out = recs[0].event
    assert out["event_type"] == "moderation-needed" and out["status"] == "pending"
    got = [r["code"] for r in out["reasons"]]
    assert sorted(got) == sorted(codes), f"{ev['body']!r}: reasons {out['reasons']}, want {sorted(codes)}"
    assert len(got) == len(set(got)), f"a reason code appears twice: {got}"
    assert all(isinstance(r["detail"], str) and r["detail"] for r in out["reasons"]), out["reasons"]
    if term is not None:
        [suspect] = [r for r in out["reasons"] if r["code"] == "suspect_term"]
        assert term in suspect["detail"], f"the suspect term {term!r} is not in the detail {suspect['detail']!r}"
    row = db.rows([ev["comment_id"]]).get(ev["comment_id"])
    assert row is not None, f"a held comment has no row: {ev['comment_id']}"
    assert row["status"] == "pending"
    assert row["reasons"] == out["reasons"], "the row's reasons jsonb and the event's reasons differ"
    return out


def assert_rejected(service, db, ev, recs, code: str, produced: Produced | None = None) -> dict:
    """One comment-rejected event with reason `code` (and a detail), the original payload, no row."""
    assert [r.topic for r in recs] == [service.topics.rejected], \
        f"{ev['body']!r}: want rejected {code}, got {_got(recs)}"
    out = recs[0].event
    assert out["reason"]["code"] == code, f"{ev['body']!r}: reason {out['reason']}"
    assert isinstance(out["reason"]["detail"], str) and out["reason"]["detail"]
    assert out["comment_id"] == ev["comment_id"] and out["article_id"] == ev["article_id"]
    assert recs[0].key_text == ev["article_id"]
    if produced is not None:
        assert out["source"] == {"topic": service.topics.submitted, "partition": produced.partition,
                                 "offset": produced.offset}
        assert decode_payload(out) == produced.value, "the payload is not the original message value"
    assert db.count([ev["comment_id"]]) == 0, f"a rejected comment was stored: {ev['comment_id']}"
    return out


# ---------------------------------------------------------------- schemas

_DATE_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})")


def schema_validator(event_type: str):
    """A draft 2020-12 validator for schemas/<event_type>.v1.schema.json, formats checked."""
    from jsonschema import FormatChecker
    from schema_validator import ContractValidator  # tests/schema_validator.py: ECMA-262 `pattern`

    def _date_time(value):
        if not isinstance(value, str):
            return True
        if not _DATE_TIME.fullmatch(value):
            return False
        try:
            datetime.datetime.fromisoformat(value.replace("z", "Z").replace("t", "T"))
        except ValueError:
            return False
        return True

    checker = FormatChecker()
    if "date-time" not in checker.checkers:
        checker.checks("date-time")(_date_time)
    path = SCHEMAS / f"{event_type}.v1.schema.json"
    with open(path, encoding="utf-8") as f:
        schema = json.load(f)
    return ContractValidator(schema, format_checker=checker)


def schema_errors(validators_by_type: dict, event: dict) -> list[str]:
    et = event.get("event_type") if isinstance(event, dict) else None
    v = validators_by_type.get(et)
    if v is None:
        return [f"no schema for event_type {et!r}"]
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in v.iter_errors(event)]


# ---------------------------------------------------------------- whole-module checks

def check_outputs_and_metrics(svc: Service, validators: dict, db: Db | None = None, timeout: float = 30.0) -> list[Record]:
    """The end-of-module checks, against everything the module sent (svc.ledger):

    - the three output topics together hold exactly one event per published, held and rejected input;
    - each event is on the topic of its type, validates against its schema, has a UUIDv5 event_id
      unique in the module, and (published/moderation) the key is its article_id;
    - published and held comments have their row with the matching status;
    - /metrics matches the ledger exactly, and consumed = published + held + rejected + duplicate.
    """
    ledger = svc.ledger
    want_pub = ledger["published"]
    want_held = ledger["held"]
    want_rej = sum(v for k, v in ledger.items() if k.startswith("rejected:"))
    outputs = [svc.topics.published, svc.topics.moderation, svc.topics.rejected]
    recs = consume_all(svc.bootstrap, outputs, expected_count=want_pub + want_held + want_rej, timeout=timeout)
    per_topic = collections.Counter(r.topic for r in recs)
    assert (per_topic[svc.topics.published], per_topic[svc.topics.moderation], per_topic[svc.topics.rejected]) == \
        (want_pub, want_held, want_rej), f"output events per topic (published, moderation, rejected); ledger {dict(ledger)}"

    topic_type = {svc.topics.published: "comment-published", svc.topics.moderation: "moderation-needed",
                  svc.topics.rejected: "comment-rejected"}
    problems = []
    ids = collections.Counter()
    rejected_codes = collections.Counter()
    for r in recs:
        where = f"{r.topic}[{r.partition}]@{r.offset}"
        if r.event is None:
            problems.append(f"{where}: value is not JSON: {r.value[:200]!r}")
            continue
        ev = r.event
        if ev.get("event_type") != topic_type[r.topic]:
            problems.append(f"{where}: event_type {ev.get('event_type')!r} on topic {r.topic}")
        for e in schema_errors(validators, ev):
            problems.append(f"{where}: schema: {e}")
        if not is_uuid_v5(ev.get("event_id")):
            problems.append(f"{where}: event_id {ev.get('event_id')!r} is not a UUID version 5")
        ids[ev.get("event_id")] += 1
        if ev.get("event_type") in ("comment-published", "moderation-needed"):
            if r.key_text != ev.get("article_id"):
                problems.append(f"{where}: key {r.key_text!r} != article_id {ev.get('article_id')!r}")
        else:
            rejected_codes[(ev.get("reason") or {}).get("code")] += 1
    dup_ids = [i for i, n in ids.items() if n > 1]
    if dup_ids:
        problems.append(f"event ids used more than once: {dup_ids}")
    want_codes = collections.Counter({k.split(":", 1)[1]: v for k, v in ledger.items() if k.startswith("rejected:") and v})
    if rejected_codes != want_codes:
        problems.append(f"rejected reason codes {dict(rejected_codes)} != expected {dict(want_codes)}")

    if db is not None:
        stored = [r.event for r in recs if r.event and r.event.get("event_type") in ("comment-published", "moderation-needed")]
        rows = db.rows([e["comment_id"] for e in stored])
        for e in stored:
            row = rows.get(e["comment_id"])
            if row is None:
                problems.append(f"{e['event_type']} {e['comment_id']}: no row")
            elif row["status"] != e["status"]:
                problems.append(f"{e['comment_id']}: row status {row['status']!r} != event status {e['status']!r}")
    assert not problems, "\n".join(problems)

    want = ledger_expected_view(ledger)
    m = svc.wait_metrics(lambda m: ledger_metrics_view(m) == want)
    got = ledger_metrics_view(m)
    assert got == want, f"metrics {got} != expected from what was sent {want}"
    rejected_sum = metric_sum(m, "comment_ingest_rejected_total")
    assert m["comment_ingest_consumed_total"] == (m["comment_ingest_published_total"] + m["comment_ingest_held_total"]
                                                  + rejected_sum + m["comment_ingest_duplicate_total"])
    return recs
