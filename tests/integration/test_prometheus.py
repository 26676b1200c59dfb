"""A real Prometheus server (Debian's prometheus 2.42, installed by deploy/bootstrap.sh) scrapes the
service every second with the alert rules of deploy/prometheus/alerts.yml loaded (issue 10).

Through Prometheus's HTTP API: the target is up; the lag series of every partition of this module's
input exist, with the topic and partition labels; after a backlog is produced, Prometheus sees the
lag go up and back to 0; every alert rule is loaded and healthy (evaluated without error against
the real series); and none of them fires for a healthy instance. Prometheus runs in its own temp
dir, on its own port, and is stopped at the end.
"""

import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
import uuid

import pytest

import harness

RULES = harness.REPO / "deploy" / "prometheus" / "alerts.yml"
LAG = "comment_ingest_consumer_lag_messages"


def api(port: int, path: str, **params):
    url = f"http://127.0.0.1:{port}/api/v1/{path}"
    if params:
        url += "?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url, timeout=5) as r:
        body = json.load(r)
    assert body["status"] == "success", body
    return body["data"]


@pytest.fixture(scope="module")
def service(topics, service_factory):
    # One message per Kafka transaction: a backlog lasts seconds, long enough for 1 s scrapes to see it.
    return service_factory(topics, extra_env={"BATCH_MAX_MESSAGES": "1"})


@pytest.fixture(scope="module")
def prometheus(service, tmp_path_factory):
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus is not installed: run `make bootstrap` (deploy/bootstrap.sh installs it)",
                    pytrace=False)
    d = tmp_path_factory.mktemp("prometheus")
    config = d / "prometheus.yml"
    config.write_text(f"""global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - {RULES}
scrape_configs:
  - job_name: comment-ingest
    static_configs:
      - targets: ["127.0.0.1:{service.port}"]
""")
    port = harness.free_port()
    log = open(d / "prometheus.log", "wb")
    proc = subprocess.Popen([binary, f"--config.file={config}", f"--storage.tsdb.path={d / 'data'}",
                             f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                pytest.fail(f"prometheus exited with {proc.returncode}:\n{(d / 'prometheus.log').read_text()[-3000:]}",
                            pytrace=False)
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("prometheus not ready within 30 s", pytrace=False)
            time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def wait_for(what, fn, timeout=30.0, every=0.5):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"{what} not within {timeout}s (last: {last!r})")


def lag_by_partition(port, topic) -> dict[int, float]:
    res = api(port, "query", query=f'{LAG}{{job="comment-ingest",topic="{topic}"}}')
    return {int(r["metric"]["partition"]): float(r["value"][1]) for r in res["result"]}


def test_target_up_and_lag_series(prometheus, service, topics, producer):
    def target_up():
        targets = api(prometheus, "targets")["activeTargets"]
        up = [t for t in targets if t["labels"]["job"] == "comment-ingest" and t["health"] == "up"]
        return up or None

    up = wait_for("the comment-ingest target up", target_up)
    assert up[0]["scrapeUrl"] == f"http://127.0.0.1:{service.port}/metrics"
    assert api(prometheus, "query", query='up{job="comment-ingest"}')["result"][0]["value"][1] == "1"

    lag = wait_for("a lag series per partition", lambda: (lambda x: x if set(x) == {0, 1, 2} else None)(
        lag_by_partition(prometheus, topics.submitted)))
    res = api(prometheus, "query", query=f'{LAG}{{topic="{topics.submitted}"}}')["result"]
    print("\nPrometheus: " + LAG + " = " + json.dumps(res))
    assert all(set(r["metric"]) == {"__name__", "instance", "job", "topic", "partition"} for r in res), res
    assert lag == {0: 0.0, 1: 0.0, 2: 0.0}

    # A backlog: Prometheus sees the lag rise on the partitions it went to, and fall back to 0. It
    # must last a few of the lag thread's 1 s rounds and Prometheus's 1 s scrapes: 3,000 comments
    # keep the ASan build busy for several seconds (400 once went by between two scrapes).
    tag = uuid.uuid4().hex[:8]
    n = 3000
    events = [harness.comment_event(harness.author_id(f"reader-prom-{i}"), "Prom Reader",
                                    f"Comment {i} of the Prometheus run {tag}, long enough to be published.",
                                    f"prom-{tag}-a{i % 30}") for i in range(n)]
    produced = producer.produce(topics.submitted, events)
    for e in events:
        service.expect("published")
    # The end of the backlog is the consumed counter reaching n, not a lag of 0: right after the
    # produce, Prometheus still holds the lag of 0 it scraped before the backlog. One message per
    # transaction under ASan runs at ~130 events/s on a slow CI machine, so 3,000 take ~25 s; the
    # timeout leaves room for that and does not bound anything the test checks.
    started = time.monotonic()
    wait_for("the consumed counter", lambda: float(api(prometheus, "query",
             query='comment_ingest_consumed_total{job="comment-ingest"}')["result"][0]["value"][1]) == n,
             timeout=180)
    print(f"Prometheus: consumed_total reached {n} {time.monotonic() - started:.1f} s after the produce")
    # Then the lag: the lag thread's next round and the next scrape see the committed end of every partition.
    wait_for("the lag back to 0", lambda: (lambda x: set(x) == {0, 1, 2} and not any(x.values()))(
        lag_by_partition(prometheus, topics.submitted)), timeout=30)
    peak = {int(r["metric"]["partition"]): float(r["value"][1]) for r in api(
        prometheus, "query", query=f'max_over_time({LAG}{{topic="{topics.submitted}"}}[2m])')["result"]}
    print(f"Prometheus: max_over_time({LAG}[2m]) per partition = {peak}")
    sent = {p: sum(1 for x in produced if x.partition == p) for p in range(3)}
    assert all(0 < peak[p] <= sent[p] for p in sent if sent[p]), f"peak lag {peak}, produced {sent}"


def test_every_alert_rule_loaded_and_quiet(prometheus, service):
    want = {"CommentIngestDown", "CommentIngestNotReady", "CommentIngestLagGrowing", "CommentIngestRejectionsJump",
            "CommentIngestTransactionAborts", "CommentIngestPostgresReconnects", "CommentIngestStalled"}

    def evaluated():
        """The rules once each has been evaluated (lastEvaluation is year 1 before the first time)."""
        rules = [r for g in api(prometheus, "rules")["groups"] for r in g["rules"]]
        done = {r["name"] for r in rules if not r.get("lastEvaluation", "0001").startswith("0001")}
        return rules if done >= want else None

    wait_for("every rule evaluated", evaluated)
    time.sleep(3)  # a few evaluations against the real series
    rules = evaluated()
    assert {r["name"] for r in rules} == want
    bad = [(r["name"], r.get("health"), r.get("lastError")) for r in rules if r.get("health") != "ok"]
    assert not bad, f"rules that do not evaluate against the real series: {bad}"
    firing = [r["name"] for r in rules if r.get("state") != "inactive"]
    assert not firing, f"alerts pending or firing for a healthy instance: {firing}"
