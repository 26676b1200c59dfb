"""The operators' HTTP port against hostile clients, while comments keep flowing.

Each attack runs in a thread against the real service (the ASan build) while the test produces a
comment and probes /healthz every 0.2 s. After each attack every comment produced during it must be
published once and stored, and every probe must have had its 200 promptly. The service runs with a
small connection limit and short timeouts, and with the soft RLIMIT_NOFILE of a default Linux
session (1024), so that a flood that the port did not bound would take the descriptors that Kafka
and PostgreSQL need.
"""

import os
import resource
import select
import socket
import threading
import time

import pytest

import harness

MAX_CONNECTIONS = 100
REQUEST_TIMEOUT_S = 2.5
IDLE_TIMEOUT_S = 1.0
WRITE_TIMEOUT_S = 2.0
SERVICE_NOFILE = 1024

PROBE_MAX_S = 2.0       # a well-behaved /healthz answers within this, attack or not (generous)
STEP_S = 0.2            # one comment and one probe per step during an attack
FLOOD_SIZE = 2000       # idle connections held open at once by the flood
FLOOD_REOPEN_PER_STEP = 200  # the flood reopens what the service closed, at most this many per 50 ms
FLOOD_MAX_OPENS = 20000      # and stops after so many connections in all
RSS_GROWTH_MAX = 32 << 20


@pytest.fixture(scope="module")
def service(service_factory, topics):
    """The module's service, started under a soft RLIMIT_NOFILE of 1024 (it inherits it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(SERVICE_NOFILE, hard), hard))
    try:
        return service_factory(topics, extra_env={
            "HTTP_MAX_CONNECTIONS": str(MAX_CONNECTIONS),
            "HTTP_REQUEST_TIMEOUT_MS": str(int(REQUEST_TIMEOUT_S * 1000)),
            "HTTP_IDLE_TIMEOUT_MS": str(int(IDLE_TIMEOUT_S * 1000)),
            "HTTP_WRITE_TIMEOUT_MS": str(int(WRITE_TIMEOUT_S * 1000)),
            # ASan keeps freed memory in a quarantine (256 MiB by default) instead of reusing it, so the
            # flood's churn of connections would show in RSS; a small one lets RSS show what is held.
            "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:quarantine_size_mb=4",
        })
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.fixture
def many_fds():
    """Raises this process's soft RLIMIT_NOFILE for the attackers' sockets (the service keeps its own)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = FLOOD_SIZE + 500
    if hard != resource.RLIM_INFINITY and hard < want:
        pytest.skip(f"RLIMIT_NOFILE hard limit {hard} < {want}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


# ---------------------------------------------------------------- the service as seen from outside

def open_fds(svc) -> int:
    return len(os.listdir(f"/proc/{svc.proc.pid}/fd"))


def rss_bytes(svc) -> int:
    with open(f"/proc/{svc.proc.pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def http_metrics(svc) -> dict:
    """The HTTP port's metrics; "connections" leaves out the connection of this very request."""
    m = svc.metrics()
    out = {"connections": m["comment_ingest_http_connections"] - 1,
           "evicted": m["comment_ingest_http_evicted_total"],
           "refused": m["comment_ingest_http_refused_total"]}
    for kind in ("request", "idle", "write"):
        out[kind] = m[f'comment_ingest_http_timeouts_total{{timeout="{kind}"}}']
    return out


def connect(port, rcvbuf=None, blocking=True) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    if blocking:
        s.settimeout(5)
        s.connect(("127.0.0.1", port))
    else:
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
    return s


def status_of(data: bytes):
    if data.startswith(b"HTTP/1.1 ") and len(data) >= 12:
        return int(data[9:12])
    return None


# ---------------------------------------------------------------- an attack while comments flow

class Attack(threading.Thread):
    """Runs fn(stop) in a thread; fn returns its findings, kept in .result (an exception is re-raised)."""

    def __init__(self, fn):
        super().__init__(daemon=True)
        self.fn = fn
        self.stop = threading.Event()
        self.result = None
        self.error = None

    def run(self):
        try:
            self.result = self.fn(self.stop)
        except BaseException as e:  # noqa: BLE001 - re-raised in the test
            self.error = e

    def finish(self, timeout=30):
        self.stop.set()
        self.join(timeout)
        assert not self.is_alive(), "the attack did not stop"
        if self.error:
            raise self.error
        return self.result


def under_attack(svc, producer, seed, article_id, db, fn, seconds):
    """Runs the attack fn for about `seconds` while producing one comment and probing /healthz every
    STEP_S, and sampling the service's descriptors, RSS and HTTP metrics. Then checks that every comment
    was published once and stored, and that every probe got its 200 within PROBE_MAX_S.
    Returns (the attack's findings, samples: list of (fds, rss, http metrics))."""
    events, probes, samples = [], [], []
    attack = Attack(fn)
    attack.start()
    t_end = time.monotonic() + seconds
    i = 0
    try:
        while time.monotonic() < t_end and attack.is_alive():
            ev = harness.seed_event(seed, seed["comments"][i % len(seed["comments"])], article_id)
            i += 1
            producer.produce(svc.topics.submitted, [ev])
            svc.expect("published")
            events.append(ev)
            t0 = time.monotonic()
            try:
                status = svc.get("/healthz")[0]
            except OSError as e:
                status = repr(e)
            probes.append((status, time.monotonic() - t0))
            samples.append((open_fds(svc), rss_bytes(svc), http_metrics(svc)))
            time.sleep(max(0.0, STEP_S - (time.monotonic() - t0)))
    finally:
        result = attack.finish()

    assert svc.running, f"the service died\n{svc.log_tail()}"
    bad = [p for p in probes if p[0] != 200 or p[1] > PROBE_MAX_S]
    assert not bad, f"/healthz probes during the attack (status, seconds) not 200 within {PROBE_MAX_S}s: {bad}"
    out = harness.wait_for(svc, events, timeout=60)
    missing = [e["comment_id"] for e in events if len(out.get(e["comment_id"], [])) != 1]
    assert not missing, f"{len(missing)} of {len(events)} comments produced during the attack not published once"
    assert all(out[e["comment_id"]][0].topic == svc.topics.published for e in events)
    assert db.count([e["comment_id"] for e in events]) == len(events)
    return result, samples


def wait_connections(svc, n, timeout=10.0):
    """Waits until the service has n open HTTP connections; returns the last HTTP metrics."""
    deadline = time.monotonic() + timeout
    m = http_metrics(svc)
    while m["connections"] != n and time.monotonic() < deadline:
        time.sleep(0.1)
        m = http_metrics(svc)
    return m


# ---------------------------------------------------------------- the attacks

def test_idle_flood_stays_at_the_limit(service, producer, seed, article_id, db, many_fds):
    """Thousands of idle connections, reopened as the service closes them: the service never holds
    more than HTTP_MAX_CONNECTIONS of them (descriptors and the gauge), its RSS stays bounded, and the
    probes get in because the oldest idle connection makes room."""
    wait_connections(service, 0)
    base_fds, base_rss = open_fds(service), rss_bytes(service)
    before = http_metrics(service)

    def flood(stop):
        socks, opened, closed_by_server = {}, 0, 0
        poller = select.poll()
        while not stop.is_set() and opened < FLOOD_MAX_OPENS:
            for _ in range(min(FLOOD_SIZE - len(socks), FLOOD_REOPEN_PER_STEP, FLOOD_MAX_OPENS - opened)):
                s = connect(service.port, blocking=False)
                socks[s.fileno()] = s
                poller.register(s, select.POLLIN)
                opened += 1
            for fd, _ in poller.poll(50):
                s = socks.pop(fd)
                poller.unregister(fd)
                try:
                    s.recv(4096)
                except OSError:
                    pass
                s.close()
                closed_by_server += 1
        for s in socks.values():
            s.close()
        return opened, closed_by_server

    (opened, closed_by_server), samples = under_attack(service, producer, seed, article_id, db, flood, 4.0)
    assert opened >= FLOOD_SIZE and closed_by_server > 0, (opened, closed_by_server)
    max_fds = max(s[0] for s in samples)
    max_conns = max(s[2]["connections"] for s in samples)
    max_rss = max(s[1] for s in samples)
    assert max_fds <= base_fds + MAX_CONNECTIONS + 16, \
        f"the service held {max_fds} descriptors (before the flood {base_fds}, limit {MAX_CONNECTIONS})"
    assert max_conns + 1 <= MAX_CONNECTIONS, f"{max_conns} open HTTP connections and the probe's > {MAX_CONNECTIONS}"
    assert max_conns >= MAX_CONNECTIONS * 0.8, f"the flood never filled the limit ({max_conns})"
    after = wait_connections(service, 0)
    assert after["connections"] == 0
    assert after["evicted"] - before["evicted"] > 0
    assert max_rss - base_rss <= RSS_GROWTH_MAX, \
        f"RSS grew by {(max_rss - base_rss) >> 20} MiB during the flood (at most {RSS_GROWTH_MAX >> 20})"
    assert open_fds(service) <= base_fds + 16


def test_slowloris_cut_by_the_request_timeout(service, producer, seed, article_id, db):
    """A byte every 0.25 s never lets the idle timeout fire: the request timeout answers 408 and
    closes each connection HTTP_REQUEST_TIMEOUT_MS after it opened."""
    n = 40
    before = http_metrics(service)

    def slowloris(stop):
        socks = []
        for _ in range(n):
            s = connect(service.port)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            socks.append([s, time.monotonic(), None, b""])
        deadline = time.monotonic() + REQUEST_TIMEOUT_S + 4
        while any(c[2] is None for c in socks) and time.monotonic() < deadline:
            for c in socks:
                if c[2] is not None:
                    continue
                r, _, _ = select.select([c[0]], [], [], 0)
                if r:
                    try:
                        c[3] = c[0].recv(4096)
                    except OSError:
                        pass
                    c[2] = time.monotonic() - c[1]
                    continue
                try:
                    c[0].send(b"a")
                except OSError:
                    c[2] = time.monotonic() - c[1]
            time.sleep(0.25)
        for c in socks:
            c[0].close()
        return [(c[2], status_of(c[3])) for c in socks]

    closed, _ = under_attack(service, producer, seed, article_id, db, slowloris, REQUEST_TIMEOUT_S + 2)
    assert all(t is not None for t, _ in closed), f"connections still open: {closed}"
    assert all(status == 408 for _, status in closed), closed
    times = sorted(t for t, _ in closed)
    assert times[0] >= REQUEST_TIMEOUT_S - 0.3, f"closed before the request timeout: {times}"
    assert times[-1] <= REQUEST_TIMEOUT_S + 2.0, f"closed long after the request timeout: {times}"
    after = http_metrics(service)
    assert after["request"] - before["request"] == n
    assert after["idle"] - before["idle"] == 0


def test_idle_after_half_a_request_cut_by_the_idle_timeout(service, producer, seed, article_id, db):
    """Half a request, then silence: 408 and close HTTP_IDLE_TIMEOUT_MS after the last byte."""
    n = 40
    before = http_metrics(service)

    def half(stop):
        socks = []
        for _ in range(n):
            s = connect(service.port)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            socks.append([s, time.monotonic()])
        out = []
        for s, t0 in socks:
            s.settimeout(IDLE_TIMEOUT_S + 4)
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            out.append((time.monotonic() - t0, status_of(data)))
            s.close()
        return out

    closed, _ = under_attack(service, producer, seed, article_id, db, half, IDLE_TIMEOUT_S + 1.5)
    assert all(status == 408 for _, status in closed), closed
    times = sorted(t for t, _ in closed)
    assert times[0] >= IDLE_TIMEOUT_S - 0.3, f"closed before the idle timeout: {times}"
    assert times[-1] <= IDLE_TIMEOUT_S + 1.5, f"closed long after the idle timeout: {times}"
    after = http_metrics(service)
    assert after["idle"] - before["idle"] == n
    assert after["request"] - before["request"] == 0


def send_huge(port, head: bytes, size: int):
    """Sends head and then `size` more bytes of the same request; returns (status or None, bytes the
    service let in before it answered or reset)."""
    s = connect(port)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
    sent = 0
    data = b""
    try:
        s.sendall(head)
        chunk = b"a" * 16384
        while sent < size:
            r, _, _ = select.select([s], [], [], 0)
            if r:
                break
            sent += s.send(chunk)
        s.settimeout(5)
        data = s.recv(4096)
    except OSError:
        pass
    finally:
        s.close()
    return status_of(data), sent


def test_huge_request_line_and_header(service, producer, seed, article_id, db):
    """A 1 MiB request line is a 414 and a 1 MiB header a 431 (or a reset, if the answer is lost
    behind the unread rest); the service stops reading at the limit, and an 8 KiB header is a 431."""
    def huge(stop):
        out = []
        for _ in range(10):
            out.append(("line",) + send_huge(service.port, b"GET /", 1 << 20))
            out.append(("header",) + send_huge(service.port, b"GET /healthz HTTP/1.1\r\nX-Big: ", 1 << 20))
        return out

    results, samples = under_attack(service, producer, seed, article_id, db, huge, 3.0)
    assert len(results) == 20
    for kind, status, sent in results:
        assert status in ({"line": 414, "header": 431}[kind], None), (kind, status, sent)
        assert sent < 1 << 20, f"{kind}: the service read all of 1 MiB ({sent} bytes let in)"
    assert any(status for _, status, _ in results), "no 414 or 431 ever reached a client"
    assert wait_connections(service, 0)["connections"] == 0
    # just past the limit, whole and in one write: the limit holds to the byte (it let ~10 KiB through)
    s = connect(service.port)
    s.sendall(b"GET /healthz HTTP/1.1\r\nX-Big: " + b"a" * 8192 + b"\r\n\r\n")
    assert status_of(s.recv(4096)) == 431
    s.close()


def test_pipelined_garbage_answered_once(service, producer, seed, article_id, db):
    """Garbage pipelined 1000 times is answered one 400 and closed; a valid request followed by garbage
    gets its one 200. Nothing after the first request is parsed."""
    def garbage(stop):
        out = []
        for i in range(30):
            payload = b"garbage\r\n\r\n" * 1000 if i % 2 == 0 else \
                b"GET /healthz HTTP/1.1\r\n\r\n" + b"\x00\x01GET /healthz HTTP/1.1\r\n\r\n" * 300
            s = connect(service.port)
            try:
                s.sendall(payload)
            except OSError:
                pass
            data = b""
            try:
                while True:
                    b = s.recv(65536)
                    if not b:
                        break
                    data += b
            except OSError:
                pass
            s.close()
            out.append((i % 2, data))
        return out

    results, _ = under_attack(service, producer, seed, article_id, db, garbage, 3.0)
    for valid_first, data in results:
        if data:
            assert data.count(b"HTTP/1.1 ") == 1, data[:300]
            assert status_of(data) == (200 if valid_first else 400), data[:300]
    assert sum(1 for v, d in results if d and v) >= 10, "valid requests before garbage were not answered"


def test_client_that_never_reads(service, producer, seed, article_id, db):
    """Clients with a tiny receive window that never read /metrics: the service's connections are
    all closed within HTTP_WRITE_TIMEOUT_MS (the write is cut, or the kernel took it), while the
    clients still hold their sockets."""
    n = 50

    def never_read(stop):
        socks = []
        for _ in range(n):
            s = connect(service.port, rcvbuf=1024)
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            socks.append(s)
        t0 = time.monotonic()
        m = wait_connections(service, 0, timeout=WRITE_TIMEOUT_S + 3)
        held_for = time.monotonic() - t0
        for s in socks:
            s.close()
        return m["connections"], held_for

    (left, held_for), _ = under_attack(service, producer, seed, article_id, db, never_read, WRITE_TIMEOUT_S + 1)
    assert left == 0, f"{left} connections still open {held_for:.1f}s after their request"


def test_all_outputs_validate_and_metrics_add_up(service, validators, db):
    harness.check_outputs_and_metrics(service, validators, db)
