"""The fault-test toolkit: a scale knob, a mixed workload with known expectations, a paced sender,
consumer-group tools (committed offsets, the group's members), a readiness monitor and
the end-to-end verification (read_committed outputs + PostgreSQL rows) that every scenario ends with.

It builds on tests/integration/harness.py (topics, the Service class, consume_all, metrics parsing).

Scale: FAULTS_SCALE=reduced (default, `make faults` / `make test`) or full (`make chaos`). The sizes
of both are in SCALES; FAULTS_EVENTS and FAULTS_KILLS override the kill -9 scenario's.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
import fcntl
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

import harness  # noqa: E402

import decisions  # noqa: E402  (tests/faults/decisions.py: the moderation bot)

REPO = harness.REPO

# One long-lived AdminClient per bootstrap for the whole session, also for harness.create_topics and
# friends: a client created per call is destroyed by the garbage collector, sometimes from
# librdkafka's own background thread while a request's callback runs, which aborts or crashes the
# Python process (confluentinc/confluent-kafka-python#2129, #2131). That happened here once, during
# the Kafka restart, with a new client every 0.5 s in wait_caught_up.
_ADMINS: dict = {}
_new_admin_client = harness.admin_client


def admin_client(bootstrap: str):
    if bootstrap not in _ADMINS:
        _ADMINS[bootstrap] = _new_admin_client(bootstrap)
    return _ADMINS[bootstrap]


harness.admin_client = admin_client

RESULTS_DIR = REPO / ".run" / "faults"
RESULTS_FILE = RESULTS_DIR / "results.json"
INFRA_LOCK = RESULTS_DIR / "infra.lock"

# ---------------------------------------------------------------- scale

SCALES = {
    # make faults / make test: the whole suite in about three minutes on the 2-core machine.
    "reduced": {
        "kill_events": 8000, "kills": 10, "kill_cycle_s": 3.5,
        "pg_events": 5000, "pg_down_s": 5,
        "kafka_events": 5000, "kafka_down_s": 4,
        "scale_events": 9000, "scale_partitions": 6,
        "fence_events": 3000,
        "graceful_backlog": 40000,
        "poison_batch": 300,
    },
    # make chaos: 50,000 events and 20 kills.
    "full": {
        "kill_events": 50000, "kills": 20, "kill_cycle_s": 3.5,
        "pg_events": 30000, "pg_down_s": 15,
        "kafka_events": 30000, "kafka_down_s": 15,
        "scale_events": 50000, "scale_partitions": 6,
        "fence_events": 10000,
        "graceful_backlog": 150000,
        "poison_batch": 450,
    },
}


def scale_name() -> str:
    name = os.environ.get("FAULTS_SCALE", "reduced")
    if name not in SCALES:
        raise ValueError(f"FAULTS_SCALE={name!r}: use one of {sorted(SCALES)}")
    return name


def scale() -> dict:
    s = dict(SCALES[scale_name()])
    if os.environ.get("FAULTS_EVENTS"):
        s["kill_events"] = int(os.environ["FAULTS_EVENTS"])
    if os.environ.get("FAULTS_KILLS"):
        s["kills"] = int(os.environ["FAULTS_KILLS"])
    return s


def seed() -> int:
    """FAULTS_SEED makes the random moments and the mix reproducible; printed with each result."""
    return int(os.environ.get("FAULTS_SEED") or random.SystemRandom().randrange(1 << 31))


# ---------------------------------------------------------------- the workload

# Words for bodies: only letters and spaces, so that no number ever looks like a phone, no two
# bodies are equal (the run tag and index are spelled in letters), and no rule but the link fires.
_LETTERS = "bcdfghjklmnpqrstvwxz"
_TAIL = ("the council should publish the full minutes before the vote and let readers judge the plan",
         "a calm and careful explanation of the budget would help everyone here understand the choice",
         "the reporting is balanced and the quotes from both sides make the trade offs rather clear",
         "local schools and clinics deserve a proper hearing before any final decision is made")


def spell(n: int) -> str:
    """n in letters (base 20, consonants only, never a run of repeated characters)."""
    out = []
    while True:
        out.append(_LETTERS[n % 20])
        n //= 20
        if n == 0:
            break
    word = "".join(reversed(out))
    return "-".join(word[i:i + 3] + "a" for i in range(0, len(word), 3))


def spell_tag(tag: str) -> str:
    return spell(int(tag, 16))


@dataclasses.dataclass
class Item:
    """One input message and what it must become."""

    idx: int
    kind: str              # published | held | rejected | duplicate | poison
    value: bytes
    key: bytes
    partition: int
    comment_id: str | None = None
    of: int | None = None   # duplicate: the index of the original
    offset: int | None = None

    @property
    def coords(self):
        return (self.partition, self.offset)


class Plan:
    """N input messages: mostly published, some held (a link), some rejected (a too-short body),
    a few duplicate comment_ids resent from other offsets (half on the same partition, half on
    another partition with another key), and a few poison messages (bytes that are not JSON)."""

    def __init__(self, topics: harness.TopicSet, n: int, partitions: int, rng: random.Random, tag: str | None = None,
                 held: float = 0.08, rejected: float = 0.05, duplicate: float = 0.015, poison: float = 0.004,
                 articles: int = 60):
        self.topics = topics
        self.tag = tag or uuid.uuid4().hex[:8]
        self.partitions = partitions
        self.items: list[Item] = []
        words = spell_tag(self.tag)
        pending_dups: list[int] = []
        dup_other = True
        for i in range(n):
            r = rng.random()
            article = f"fx-{self.tag}-a{rng.randrange(articles)}"
            p = zlib.crc32(article.encode()) % partitions
            if r < duplicate and pending_dups:
                j = pending_dups.pop(rng.randrange(len(pending_dups)))
                orig = self.items[j]
                if dup_other and partitions > 1:
                    part = (orig.partition + 1 + rng.randrange(partitions - 1)) % partitions
                    key = orig.key + b"#resent"
                else:
                    part, key = orig.partition, orig.key
                dup_other = not dup_other
                self.items.append(Item(i, "duplicate", orig.value, key, part, orig.comment_id, of=j))
                continue
            if r < duplicate + poison:
                junk = b"\xff\xfe" + rng.randbytes(rng.randrange(8, 40)) + b"{\"body\": "
                self.items.append(Item(i, "poison", junk, article.encode(), p))
                continue
            cid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            who = spell(i)
            if r < duplicate + poison + rejected:
                kind, body = "rejected", f"Too short {who}"
            elif r < duplicate + poison + rejected + held:
                kind, body = "held", f"Reader {who} of run {words} says see https://example.org/fx/{who} for the figures"
            else:
                kind, body = "published", f"Reader {who} of run {words} writes that {_TAIL[i % len(_TAIL)]}"
            ev = harness.comment_event(f"fx-{self.tag}-{i}", "Fault Reader", body, article, comment_id=cid)
            self.items.append(Item(i, kind, json.dumps(ev).encode(), article.encode(), p, cid))
            if kind != "rejected":
                pending_dups.append(i)
                if len(pending_dups) > 200:
                    pending_dups.pop(0)

    def __len__(self):
        return len(self.items)

    def counts(self) -> collections.Counter:
        return collections.Counter(it.kind for it in self.items)

    def stored_ids(self) -> list[str]:
        return [it.comment_id for it in self.items if it.kind in ("published", "held")]

    def sent(self) -> list[Item]:
        return [it for it in self.items if it.offset is not None]

    def expected_metrics(self) -> dict:
        """The outcome counters a single, undisturbed instance must report for this plan."""
        c = self.counts()
        return {"consumed": len(self.items), "published": c["published"], "held": c["held"],
                "duplicate": c["duplicate"], "rejected": c["rejected"] + c["poison"]}


class Sender(threading.Thread):
    """Produces a plan's items in order at `rate` messages/s (None: all at once), like a front end
    (acks=all, idempotent), to explicit partitions; records each item's offset from its delivery report."""

    def __init__(self, bootstrap: str, plan: Plan, rate: float | None = None, start_at: int = 0, stop_at: int | None = None):
        super().__init__(daemon=True)
        from confluent_kafka import Producer

        self.plan = plan
        self.rate = rate
        self.lo, self.hi = start_at, len(plan.items) if stop_at is None else stop_at
        self.producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True,
                                  "linger.ms": 5, "message.timeout.ms": 300000})
        self.errors: list[str] = []
        self.sent = 0
        self.delivered = 0
        self.done = threading.Event()
        self._stop_flag = False

    def _cb(self, item):
        def cb(err, msg):
            if err is not None:
                self.errors.append(f"item {item.idx}: {err}")
            else:
                item.offset = msg.offset()
                self.delivered += 1
        return cb

    def run(self):
        try:
            t0 = time.monotonic()
            for n, it in enumerate(self.plan.items[self.lo:self.hi]):
                if self._stop_flag:
                    break
                if self.rate:
                    due = t0 + n / self.rate
                    delay = due - time.monotonic()
                    if delay > 0:
                        self.producer.poll(0)
                        time.sleep(delay)
                while True:
                    try:
                        self.producer.produce(self.plan.topics.submitted, value=it.value, key=it.key,
                                              partition=it.partition, on_delivery=self._cb(it))
                        break
                    except BufferError:
                        self.producer.poll(0.05)
                self.sent += 1
                self.producer.poll(0)
            while self.producer.flush(1.0) > 0:
                if self._stop_flag:
                    break
        except Exception as e:  # noqa: BLE001
            self.errors.append(f"sender: {e!r}")
        finally:
            self.done.set()

    def finish(self, timeout: float = 330.0) -> None:
        """Waits until every item is delivered; raises on a delivery error."""
        self.join(timeout)
        assert not self.is_alive(), f"sender not done after {timeout}s ({self.sent} sent, {self.delivered} delivered)"
        assert not self.errors, f"delivery errors: {self.errors[:5]}"
        assert self.delivered == self.hi - self.lo, f"{self.delivered} of {self.hi - self.lo} delivered"


# ---------------------------------------------------------------- the service

_SETPRIV = shutil.which("setpriv")


class FaultService(harness.Service):
    """harness.Service that can also be spawned without waiting for readiness, and killed with SIGKILL."""

    def spawn(self) -> "FaultService":
        out = open(self.stdout_path, "wb")
        err = open(self.stderr_path, "wb")
        # setpriv --pdeathsig: if pytest itself dies (it did once: see admin_client), its instances
        # die with it instead of running on as orphans. setpriv execs the binary: same pid.
        cmd = ([_SETPRIV, "--pdeathsig", "KILL"] if _SETPRIV else []) + [str(self.binary)]
        try:
            self.proc = subprocess.Popen(cmd, env=self.env(), stdout=out, stderr=err,
                                         stdin=subprocess.DEVNULL, cwd=str(REPO))
        finally:
            out.close()
            err.close()
        harness.RUNNING.append(self)
        self.spawned_at = datetime.datetime.now(datetime.timezone.utc)
        return self

    def wait_ready(self, timeout: float = 90.0) -> float:
        """Waits for /readyz 200; returns the seconds it took."""
        t0 = time.monotonic()
        last = None
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                self.exit_code = self.proc.returncode
                raise RuntimeError(f"{self.name}: exited with {self.exit_code} before ready\n{self.log_tail()}")
            try:
                status, _, body = harness.http_get(self.port, "/readyz", timeout=2)
                last = (status, body)
                if status == 200:
                    return time.monotonic() - t0
            except OSError as e:
                last = e
            time.sleep(0.1)
        raise TimeoutError(f"{self.name}: /readyz not 200 within {timeout}s (last: {last!r})\n{self.log_tail()}")

    def start(self, ready_timeout: float = 90.0) -> "FaultService":
        self.spawn()
        self.ready_after = self.wait_ready(ready_timeout)
        return self

    def sigkill(self) -> None:
        assert self.running, f"{self.name}: not running when it was to be killed\n{self.log_tail()}"
        os.kill(self.proc.pid, signal.SIGKILL)
        self.exit_code = self.proc.wait()
        if self in harness.RUNNING:
            harness.RUNNING.remove(self)

    def try_metrics(self) -> dict | None:
        try:
            return self.metrics()
        except Exception:  # noqa: BLE001 - a dying or stalled instance
            return None

    def stop_timed(self, timeout: float = 10.0) -> tuple[int | None, float]:
        """SIGTERM; returns (exit status or None if still running after `timeout`, seconds taken).
        Unlike stop(), it does not assert, so that the caller can report the figures first."""
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.exit_code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None, time.monotonic() - t0
        finally:
            if self.exit_code is not None and self in harness.RUNNING:
                harness.RUNNING.remove(self)
        return self.exit_code, time.monotonic() - t0


def new_service(name: str, topics: harness.TopicSet, group_id: str, transactional_id: str, **kw) -> FaultService:
    return FaultService(name, topics, group_id=group_id, transactional_id=transactional_id, **kw)


# ---------------------------------------------------------------- consumer groups

def committed_offsets(bootstrap: str, group: str, topic: str, partitions: int) -> dict[int, int]:
    """The group's committed offsets on topic (stable ones only; -1 when none)."""
    from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition

    admin = admin_client(bootstrap)
    req = ConsumerGroupTopicPartitions(group, [TopicPartition(topic, p) for p in range(partitions)])
    fut = admin.list_consumer_group_offsets([req], require_stable=False, request_timeout=15)[group]
    res = fut.result(timeout=20)
    return {tp.partition: (tp.offset if tp.offset >= 0 else -1) for tp in res.topic_partitions}


def high_watermarks(bootstrap: str, topic: str) -> dict[int, int]:
    return {p: hi for (_, p), hi in harness.watermarks(bootstrap, [topic]).items()}


def wait_caught_up(bootstrap: str, group: str, topic: str, partitions: int, timeout: float = 120.0,
                   alive=None) -> dict:
    """Waits until the group's committed offsets reach the input's high watermarks.
    alive(): optional check run on each round (e.g. that the instances still run)."""
    deadline = time.monotonic() + timeout
    hi = high_watermarks(bootstrap, topic)
    last = None
    while time.monotonic() < deadline:
        if alive:
            alive()
        try:
            last = committed_offsets(bootstrap, group, topic, partitions)
        except Exception as e:  # noqa: BLE001 - the coordinator may be loading after a restart
            last = repr(e)
        if isinstance(last, dict) and all(last.get(p, -1) >= hi[p] for p in hi):
            return last
        time.sleep(0.5)
    raise TimeoutError(f"group {group} not caught up on {topic} within {timeout}s: committed {last}, end {hi}")


def describe_group(bootstrap: str, group: str):
    admin = admin_client(bootstrap)
    return admin.describe_consumer_groups([group], request_timeout=15)[group].result(timeout=20)


# ---------------------------------------------------------------- readiness over time

class Monitor(threading.Thread):
    """Polls one instance's /readyz and /healthz every `every` seconds; keeps (t, readyz, healthz)."""

    def __init__(self, svc: FaultService, every: float = 0.2):
        super().__init__(daemon=True)
        self.svc = svc
        self.every = every
        self.samples: list[tuple[float, int | None, int | None]] = []
        self._stop_ev = threading.Event()

    def run(self):
        while not self._stop_ev.is_set():
            t = time.monotonic()
            codes = []
            for path in ("/readyz", "/healthz"):
                try:
                    codes.append(harness.http_get(self.svc.port, path, timeout=2)[0])
                except Exception:  # noqa: BLE001
                    codes.append(None)
            self.samples.append((t, codes[0], codes[1]))
            self._stop_ev.wait(self.every)

    def stop(self):
        self._stop_ev.set()
        self.join(5)

    def first(self, after: float, ready: int) -> float | None:
        """Seconds from `after` to the first /readyz sample with this status."""
        for t, r, _ in self.samples:
            if t >= after and r == ready:
                return t - after
        return None

    def healthz_failures(self) -> int:
        return sum(1 for _, _, h in self.samples if h != 200)


# ---------------------------------------------------------------- shared infrastructure

class InfraLock:
    """An exclusive lock around restarts of the shared Kafka / PostgreSQL, so that two fault runs
    never stop the same dependency at once. (Integration runs of other people still see the outage.)"""

    def __enter__(self):
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        self.f = open(INFRA_LOCK, "w")
        fcntl.flock(self.f, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.f, fcntl.LOCK_UN)
        self.f.close()


DEPLOY_NOTES: list[str] = []


def deploy(script: str, action: str, timeout: float = 180.0, attempts: int = 3) -> float:
    """Runs deploy/<script> <action>; returns the seconds it took. A failed start is retried (the
    scripts are idempotent; another user's `deploy/up.sh` may be starting the same dependency at
    that moment); each failure is noted in DEPLOY_NOTES."""
    t0 = time.monotonic()
    for i in range(attempts):
        r = subprocess.run([str(REPO / "deploy" / script), action], cwd=str(REPO), capture_output=True, text=True,
                           timeout=timeout)
        if r.returncode == 0:
            return time.monotonic() - t0
        DEPLOY_NOTES.append(f"deploy/{script} {action} failed ({r.returncode}): {r.stderr.strip()[-500:]}")
        time.sleep(2)
    raise RuntimeError(f"deploy/{script} {action} failed {attempts} times: {DEPLOY_NOTES[-attempts:]}")


# ---------------------------------------------------------------- verification

def db_connect(url: str, timeout: float = 60.0):
    """A fresh autocommit connection (retried: PostgreSQL may just have restarted)."""
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        try:
            return psycopg.connect(url, autocommit=True, connect_timeout=5)
        except Exception:  # noqa: BLE001
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def stored_rows(db_url: str, comment_ids) -> dict[str, tuple]:
    """{comment_id: (status, source_topic, source_partition, source_offset, accepted_at)}."""
    ids = list(dict.fromkeys(comment_ids))
    out = {}
    with db_connect(db_url) as conn:
        for i in range(0, len(ids), 20000):
            cur = conn.execute("SELECT comment_id::text, status, source_topic, source_partition, source_offset,"
                               " accepted_at FROM comments WHERE comment_id = ANY(%s::uuid[])", (ids[i:i + 20000],))
            for cid, *rest in cur.fetchall():
                if cid in out:
                    out[cid + "#dup"] = tuple(rest)  # impossible with the primary key; counted if it happens
                out[cid] = tuple(rest)
    return out


def rows_from_topic(db_url: str, topic: str) -> int:
    with db_connect(db_url) as conn:
        return conn.execute("SELECT count(*) FROM comments WHERE source_topic = %s", (topic,)).fetchone()[0]


def uncommitted_rows(db_url: str, plan: Plan, committed: dict[int, int], since: datetime.datetime | None) -> tuple[int, int]:
    """Rows of the plan's comments whose source offset the group has not committed yet: stored in
    PostgreSQL, but their Kafka transaction never committed. Returns (all of them, those accepted
    at or after `since`, i.e. stored by the instance started then)."""
    ids = [it.comment_id for it in plan.sent() if it.kind in ("published", "held", "duplicate")]
    rows = stored_rows(db_url, set(ids))
    total = new = 0
    for status, topic, part, off, accepted in rows.values():
        if off >= committed.get(part, -1):
            total += 1
            if since is not None and accepted >= since:
                new += 1
    return total, new


def verify(plan: Plan, db_url: str, bootstrap: str, timeout: float = 120.0, final_status: dict | None = None) -> dict:
    """Reads every output event (read_committed) and the rows of every comment sent; returns the
    figures and a list of problems. The rules:

    - each published/held comment_id: exactly one row, with the right status (final_status[cid]
      when moderation decisions moved it on: see decisions.py, which checks their own events),
      stored from the coordinates of one of its copies, and exactly one event of its submission, on
      the right topic, whose source is the row's;
    - each rejected input (too short, poison): exactly one comment-rejected event with its coordinates;
    - a duplicate copy: nothing of its own (no event with its coordinates, no second row or event);
    - nothing else on the output topics; no event_id twice; no rows from the input topic but these.
    """
    topics = plan.topics
    items = plan.sent()
    assert len(items) == len(plan.items), f"only {len(items)} of {len(plan.items)} items were delivered"
    counts = plan.counts()
    expected_rows = counts["published"] + counts["held"]
    expected_events = expected_rows + counts["rejected"] + counts["poison"]
    recs = harness.consume_all(bootstrap, [topics.published, topics.moderation, topics.rejected],
                               expected_count=expected_events, timeout=timeout, extra=3.0)
    recs = [r for r in recs if not (r.event and "moderation" in r.event)]  # approvals: decisions.verify's
    rows = stored_rows(db_url, [it.comment_id for it in items if it.comment_id])
    rows_total = rows_from_topic(db_url, topics.submitted)

    by_cid = collections.defaultdict(list)
    by_coords = collections.defaultdict(list)
    event_ids = collections.Counter()
    problems = []
    for r in recs:
        ev = r.event
        if ev is None:
            problems.append(f"{r.topic}@{r.partition}/{r.offset}: not JSON")
            continue
        event_ids[ev.get("event_id")] += 1
        if r.topic == topics.rejected:
            src = ev.get("source") or {}
            by_coords[(src.get("partition"), src.get("offset"))].append(r)
        else:
            by_cid[ev.get("comment_id")].append(r)

    copies = collections.defaultdict(list)  # comment_id -> coordinates of every copy
    originals = {}
    for it in items:
        if it.kind in ("published", "held", "duplicate"):
            copies[it.comment_id].append(it.coords)
        if it.kind in ("published", "held"):
            originals[it.comment_id] = it
    dup_coords = {it.coords for it in items if it.kind == "duplicate"}

    lost = dup_events = dup_rows = wrong = 0
    matched_cids = set()
    matched_coords = set()
    for it in items:
        if it.kind in ("published", "held"):
            matched_cids.add(it.comment_id)
            want_topic = topics.published if it.kind == "published" else topics.moderation
            want_status = "published" if it.kind == "published" else "pending"
            evs = by_cid.get(it.comment_id, [])
            row = rows.get(it.comment_id)
            if not evs or row is None:
                lost += 1
                problems.append(f"lost {it.kind} #{it.idx} {it.comment_id} @{it.coords}: events {len(evs)}, row {row is not None}")
                if not evs:
                    continue
            if len(evs) > 1:
                dup_events += len(evs) - 1
                problems.append(f"{len(evs)} events for {it.kind} #{it.idx} {it.comment_id}: "
                                f"{[(e.topic, e.partition, e.offset) for e in evs]}")
            if it.comment_id + "#dup" in rows:
                dup_rows += 1
            for e in evs:
                src = e.event.get("source") or {}
                coords = (src.get("partition"), src.get("offset"))
                if e.topic != want_topic or e.event.get("status") != want_status:
                    wrong += 1
                    problems.append(f"#{it.idx} {it.comment_id}: event on {e.topic} status {e.event.get('status')}, "
                                    f"expected {want_topic} {want_status}")
                if coords not in copies[it.comment_id] or src.get("topic") != topics.submitted:
                    wrong += 1
                    problems.append(f"#{it.idx} {it.comment_id}: event source {src} is none of its copies {copies[it.comment_id]}")
                if row is not None and (row[1], row[2], row[3]) != (src.get("topic"), coords[0], coords[1]):
                    wrong += 1
                    problems.append(f"#{it.idx} {it.comment_id}: event source {src} != row source {row[1:4]}")
            want_row = (final_status or {}).get(it.comment_id, want_status)
            if row is not None and row[0] != want_row:
                wrong += 1
                problems.append(f"#{it.idx} {it.comment_id}: row status {row[0]}, expected {want_row}")
        elif it.kind in ("rejected", "poison"):
            matched_coords.add(it.coords)
            evs = by_coords.get(it.coords, [])
            if not evs:
                lost += 1
                problems.append(f"lost {it.kind} #{it.idx} @{it.coords}: no comment-rejected event")
            elif len(evs) > 1:
                dup_events += len(evs) - 1
                problems.append(f"{len(evs)} rejected events for #{it.idx} @{it.coords}")
            for e in evs:
                code = (e.event.get("reason") or {}).get("code")
                if it.kind == "rejected" and code != "body_too_short":
                    wrong += 1
                    problems.append(f"#{it.idx}: rejected with {code}, expected body_too_short")
                if it.kind == "poison" and code not in ("malformed_json", "invalid_text"):
                    wrong += 1
                    problems.append(f"poison #{it.idx}: rejected with {code}")
            if it.comment_id and it.comment_id in rows:
                dup_rows += 1
                problems.append(f"rejected #{it.idx} {it.comment_id} has a row")
        else:  # duplicate copy: nothing of its own
            if by_coords.get(it.coords):
                dup_events += len(by_coords[it.coords])
                codes = [(e.event.get("reason") or {}).get("code") for e in by_coords[it.coords]]
                orig = originals.get(it.comment_id)
                problems.append(f"duplicate copy #{it.idx} {it.comment_id} @{it.coords} produced comment-rejected "
                                f"{codes} (its original #{orig.idx if orig else '?'} @{orig.coords if orig else '?'})")

    unexpected = 0
    for cid, evs in by_cid.items():
        if cid not in matched_cids:
            unexpected += len(evs)
            problems.append(f"unexpected event(s) for comment_id {cid}")
    by_item_coords = {it.coords: it for it in items}
    for coords, evs in by_coords.items():
        if coords not in matched_coords and coords not in dup_coords:
            unexpected += len(evs)
            it = by_item_coords.get(coords)
            codes = [(e.event.get("reason") or {}).get("code") for e in evs]
            if it is None:
                problems.append(f"unexpected rejected event(s) {codes} from {coords}, which is no input of this run")
            else:
                problems.append(f"{it.kind} #{it.idx} {it.comment_id} @{coords} (copies {copies.get(it.comment_id)}) "
                                f"also produced comment-rejected {codes}")
    repeated_ids = sum(n - 1 for n in event_ids.values() if n > 1)
    if rows_total != expected_rows:
        problems.append(f"{rows_total} rows from {topics.submitted}, expected {expected_rows}")
    dup_rows += max(0, rows_total - expected_rows)
    return {
        "sent": len(items),
        "mix": dict(counts),
        "rows_expected": expected_rows,
        "rows": rows_total,
        "events_expected": expected_events,
        "events_seen": len(recs),
        "lost": lost,
        "duplicate_rows": dup_rows,
        "duplicate_events": dup_events + unexpected,
        "repeated_event_ids": repeated_ids,
        "wrong": wrong,
        "problems": problems[:40],
        "problem_count": len(problems),
    }


def clean_failures(res: dict) -> list[str]:
    """The required result, as a list of what is wrong (empty: nothing lost, nothing doubled,
    everything where it belongs)."""
    out = []
    for k in ("lost", "duplicate_rows", "duplicate_events", "repeated_event_ids", "wrong"):
        if res[k]:
            out.append(f"{k} = {res[k]}")
    if res["rows"] != res["rows_expected"]:
        out.append(f"rows {res['rows']} != expected {res['rows_expected']}")
    if res["events_seen"] != res["events_expected"]:
        out.append(f"output events {res['events_seen']} != expected {res['events_expected']}")
    if res["problem_count"] and not out:
        out.append(f"{res['problem_count']} problems")
    return out


def conclude(res: dict, failures: list[str], record, t0: float) -> None:
    """Records the scenario's figures (ok or not), then fails with every problem found."""
    res["seconds"] = round(time.monotonic() - t0, 1)
    res["ok"] = not failures
    res["failures"] = failures
    record(res)
    assert not failures, "\n".join(failures) + "\n" + "\n".join(res.get("problems", [])[:40]) + \
        "\nfigures: " + json.dumps({k: v for k, v in res.items() if k not in ("problems", "failures")}, default=str)


def metric(m: dict | None, name: str) -> float:
    if not m:
        return 0.0
    return harness.metric_sum(m, name)


def outcome_view(m: dict) -> dict:
    return {"consumed": m.get("comment_ingest_consumed_total", 0), "published": m.get("comment_ingest_published_total", 0),
            "held": m.get("comment_ingest_held_total", 0), "duplicate": m.get("comment_ingest_duplicate_total", 0),
            "rejected": harness.metric_sum(m, "comment_ingest_rejected_total")}


# ---------------------------------------------------------------- a dependency goes away and comes back

def dependency_restart(name: str, script: str, events: int, down_s: float, topics, bootstrap: str, db_url: str,
                       rand, instances: list, ready_within: float, back_within: float) -> tuple[dict, list[str]]:
    """One instance under a steady load; deploy/<script> stop, `down_s` seconds, start; the load
    goes on throughout. Checks that the instance stays up (same pid, /healthz 200 all along),
    /readyz turns 503 within `ready_within` s of the stop and 200 within `back_within` s of the
    start, that the outcome counters match what was sent exactly, and that nothing is lost or
    doubled. Returns (figures, failures)."""
    tag = harness.unique_suffix()
    svc = new_service(name, topics, f"{name}-{tag}", f"{name}-{tag}")
    instances.append(svc)
    svc.start()
    pid = svc.proc.pid
    plan = Plan(topics, events, 3, rand)
    sender = Sender(bootstrap, plan, rate=events / (down_s + 14.0))
    bot = decisions.ModerationBot(bootstrap, topics, 3, rand.randrange(1 << 31))
    mon = Monitor(svc)
    mon.start()
    m0 = svc.metrics()
    sender.start()
    bot.start()
    time.sleep(4.0)
    failures: list[str] = []
    with InfraLock():
        t_stop = time.monotonic()
        stop_s = deploy(script, "stop")
        time.sleep(down_s)
        alive_while_down = svc.proc.poll() is None
        t_start = time.monotonic()
        start_s = deploy(script, "start")
        t_started = time.monotonic()
    sender.finish()
    counts = plan.counts()
    bot.finish(counts["held"], counts["published"])
    for topic in (topics.submitted, topics.decided):
        wait_caught_up(bootstrap, svc.group_id, topic, 3, timeout=240,
                       alive=lambda: svc.proc.poll() is None or failures.append("the instance exited"))
    want, want_d = plan.expected_metrics(), bot.expected_metrics()
    m1 = svc.wait_metrics(lambda m: outcome_view(m) == want and decisions.metrics_view(m) == want_d, timeout=30)
    time.sleep(1.0)
    mon.stop()
    res = verify(plan, db_url, bootstrap, final_status=bot.final)
    dres = decisions.verify(bot, db_url, bootstrap, db_connect)
    res.update(dres)
    failures += decisions.failures(dres)
    if decisions.metrics_view(m1) != want_d:
        failures.append(f"decision metrics {decisions.metrics_view(m1)} != expected {want_d}")
    same_pid = svc.proc.poll() is None and svc.proc.pid == pid
    status, took = svc.stop_timed(15)

    down = mon.first(t_stop, 503)
    back = None
    for t, r, _ in mon.samples:
        if t >= t_start and r == 200:
            back = t - t_start
            break
    d = {k: metric(m1, f"comment_ingest_{k}_total") - metric(m0, f"comment_ingest_{k}_total")
         for k in ("pauses", "postgres_reconnects", "transaction_aborts", "replayed", "batches")}
    res.update({"down_s": down_s, "stop_took_s": round(stop_s, 1), "start_took_s": round(start_s, 1),
                "readyz_503_after_s": None if down is None else round(down, 1),
                "readyz_200_after_s": None if back is None else round(back, 1),
                "healthz_failures": mon.healthz_failures(), "same_pid": same_pid and alive_while_down,
                "pauses": d["pauses"], "pg_reconnects": d["postgres_reconnects"], "tx_aborts": d["transaction_aborts"],
                "replayed": d["replayed"], "batches": d["batches"], "exit_status": status,
                "metrics": outcome_view(m1), "metrics_expected": want, "decision_metrics": decisions.metrics_view(m1),
                "deploy_notes": list(DEPLOY_NOTES)})
    DEPLOY_NOTES.clear()
    failures += clean_failures(res)
    if not (same_pid and alive_while_down):
        failures.append(f"the instance did not stay up (exit {svc.proc.returncode})\n{svc.log_tail(40)}")
    if down is None or down > stop_s + ready_within:
        failures.append(f"/readyz did not turn 503 within {ready_within}s of the stop (first 503 after {down}s; "
                        f"the stop command took {stop_s:.1f}s)")
    if back is None or back > (t_started - t_start) + back_within:
        failures.append(f"/readyz not 200 again within {back_within}s after the start (after {back}s; "
                        f"the start command took {start_s:.1f}s)")
    if mon.healthz_failures():
        failures.append(f"/healthz failed {mon.healthz_failures()} times: the loop stalled")
    if outcome_view(m1) != want:
        failures.append(f"metrics {outcome_view(m1)} != expected {want}")
    if status != 0:
        failures.append(f"exit status {status} after SIGTERM (took {took:.1f}s)")
    if svc.sanitizer_findings():
        failures.append(f"sanitizer: {svc.sanitizer_findings()[:3]}")
    return res, failures
