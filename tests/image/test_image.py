"""make image-test: the service's container image, run for real with Podman.

The image (IMAGE, default comment-ingest:local) is built from deploy/Dockerfile by
`deploy/image.sh build` before these checks run. One container of it runs on the host network
against `make up`'s Kafka and PostgreSQL (KAFKA_BOOTSTRAP_SERVERS, DATABASE_URL), on a fresh
set of the four topics, with its own consumer group, transactional id and HTTP port, so it is
independent of earlier runs and of other tests running beside it. The checks run in file
order: the last one stops the container.

Podman's settings come from deploy/podman/containers.conf (CONTAINERS_CONF): runc, and
ulimits this sandbox allows. There is no systemd here, so the HEALTHCHECK runs only when asked
(`podman healthcheck run`); podman logs an error about the missing systemd timer, harmlessly.
"""

import json
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "integration"))

import harness  # noqa: E402

IMAGE = os.environ.get("IMAGE") or "comment-ingest:local"
CONTAINERS_CONF = os.environ.get("CONTAINERS_CONF") or str(REPO / "deploy" / "podman" / "containers.conf")
# podman stop's (and docker stop's) default grace period, and the service's promise: SIGTERM
# ends it within 10 s in every state. After the grace period podman sends SIGKILL (status 137).
STOP_GRACE_SECONDS = 10
LABEL = "comment-ingest.image-test"


def podman(*args, check=True, timeout=120.0) -> subprocess.CompletedProcess:
    env = dict(os.environ, CONTAINERS_CONF=CONTAINERS_CONF)
    r = subprocess.run(["podman", *args], env=env, stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} exited {r.returncode}\n"
                             f"stdout: {r.stdout[-2000:]}\nstderr: {r.stderr[-2000:]}")
    return r


def makefile_version() -> str:
    m = re.search(r"(?m)^VERSION\s*:=\s*(\S+)", (REPO / "Makefile").read_text("utf-8"))
    assert m, "no VERSION in the Makefile"
    return m.group(1)


def inspect(name: str) -> dict:
    return json.loads(podman("inspect", name).stdout)[0]


def logs(name: str) -> tuple[str, str]:
    r = podman("logs", name, check=False)
    return r.stdout, r.stderr


def wait_until(what: str, predicate, timeout: float, interval: float = 0.5, describe=lambda: ""):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s. {describe()}")
        time.sleep(interval)


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def image():
    if podman("image", "exists", IMAGE, check=False).returncode != 0:
        pytest.fail(f"no image {IMAGE}; build it with `make image` (deploy/image.sh build)", pytrace=False)
    return inspect(IMAGE)


@pytest.fixture(scope="module")
def kafka_bootstrap():
    bootstrap = harness.bootstrap_servers()
    try:
        harness.check_kafka(bootstrap)
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)
    return bootstrap


@pytest.fixture(scope="module")
def db():
    try:
        d = harness.Db(harness.database_url())
    except Exception as e:  # noqa: BLE001
        pytest.fail(f"PostgreSQL at {harness.database_url()} does not answer ({e}); run `make up`", pytrace=False)
    yield d
    d.close()


class Container:
    def __init__(self, name, topics, port, group_id):
        self.name = name
        self.topics = topics
        self.port = port
        self.group_id = group_id

    def describe(self) -> str:
        out, err = logs(self.name)
        state = inspect(self.name)["State"]
        return (f"container {self.name}: {state['Status']}, exit code {state['ExitCode']}\n"
                f"last log lines:\n{out[-3000:]}\n{err[-1500:]}")


@pytest.fixture(scope="module")
def container(image, kafka_bootstrap, db):
    """The image running on the host network, on fresh topics, with its own group and port."""
    suffix = f"img-{uuid.uuid4().hex[:10]}"
    topics = harness.create_topics(kafka_bootstrap, suffix)
    name = f"comment-ingest-image-test-{suffix}"
    port = harness.free_port()
    group_id = f"image-test-{suffix}"
    env = {
        **topics.env(),
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "DATABASE_URL": harness.database_url(),
        "KAFKA_GROUP_ID": group_id,
        "KAFKA_TRANSACTIONAL_ID": group_id,
        "HTTP_PORT": str(port),
        "LOG_LEVEL": "info",
    }
    args = ["run", "--detach", "--name", name, "--label", LABEL, "--network", "host"]
    for k, v in env.items():
        args += ["--env", f"{k}={v}"]
    podman(*args, IMAGE)
    c = Container(name, topics, port, group_id)
    try:
        yield c
    finally:
        out, err = logs(name)
        harness.LOG_DIR.mkdir(parents=True, exist_ok=True)
        (harness.LOG_DIR / f"{name}.log").write_text(out + err, "utf-8")
        podman("rm", "--force", "--time", "0", name, check=False)
        if not os.environ.get("IT_KEEP_TOPICS"):
            harness.delete_topics(kafka_bootstrap, topics)


# ---------------------------------------------------------------- the image alone

def test_version_and_help(image):
    version = podman("run", "--rm", "--no-healthcheck", "--network", "none", IMAGE, "--version")
    assert version.stdout == f"comment-ingest {makefile_version()}\n"

    helped = podman("run", "--rm", "--no-healthcheck", "--network", "none", IMAGE, "--help")
    lines = helped.stdout.splitlines()
    assert lines[0] == f"comment-ingest {makefile_version()}"
    assert any(line.startswith("Usage: comment-ingest [--help] [--version]") for line in lines), lines[:8]
    listed = {m.group(1) for m in re.finditer(r"(?m)^  ([A-Z][A-Z0-9_]+) ", helped.stdout)}
    assert {"KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL", "HTTP_PORT", "RULES_FILE"} <= listed, helped.stdout

    # The entrypoint is the service itself: an argument it does not know is its usage error.
    wrong = podman("run", "--rm", "--no-healthcheck", "--network", "none", IMAGE, "--no-such-flag", check=False)
    assert wrong.returncode == 2, wrong
    assert "unknown argument --no-such-flag" in wrong.stderr


def test_image_config(image):
    """What `docker run` takes from the image: a HEALTHCHECK (kept by --format docker), the stop
    signal and the rules file the service loads."""
    hc = image.get("Healthcheck") or image["Config"].get("Healthcheck")
    assert hc and hc["Test"][0] == "CMD-SHELL" and "/healthz" in hc["Test"][1], \
        f"the image has no HEALTHCHECK on /healthz: {hc} (built without --format docker?)"
    assert image["Config"].get("StopSignal") in ("SIGTERM", "15")
    env = dict(e.split("=", 1) for e in image["Config"]["Env"])
    rules = podman("run", "--rm", "--no-healthcheck", "--network", "none", "--entrypoint", "cat", IMAGE,
                   env["RULES_FILE"])
    assert json.loads(rules.stdout) == json.loads((REPO / "deploy" / "rules" / "default.json").read_text("utf-8"))
    # The image's own settings and that rules file pass the service's start-up checks, as the
    # user the service runs as (the rules file must be readable by it).
    checked = podman("run", "--rm", "--no-healthcheck", "--network", "none", IMAGE, "--check-config", check=False)
    assert checked.returncode == 0, checked.stderr
    assert f"rules: {env['RULES_FILE']}" in checked.stdout


def test_build_context_is_small(image):
    """.dockerignore keeps local state out of the build context: what `COPY . .` put in the
    build stage has none of .git, .run, .venv, results or a host build/, and is small."""
    tag = f"{IMAGE}-build-stage"
    # Every layer is cached from the build just made, so this only tags the build stage.
    podman("build", "--format", "docker", "--isolation", "chroot", "--network", "host", "--pull=never",
           "--target", "build", "-f", str(REPO / "deploy" / "Dockerfile"), "-t", tag, str(REPO), timeout=600)
    try:
        r = podman("run", "--rm", "--no-healthcheck", "--network", "none", "--entrypoint", "sh", tag, "-c",
                   "cd /src && ls -A && echo -- && ls -A build && echo -- && du -sk --exclude=./build .")
    finally:
        # untag, not rmi: removing the image would also remove the build stage's cached layers
        podman("untag", tag, check=False)
    top, build, size = r.stdout.split("--\n")
    top, build = set(top.split()), set(build.split())
    assert not top & {".git", ".run", ".venv", "results", ".pytest_cache"}, f"local state in the context: {sorted(top)}"
    # The Dockerfile's `make build` makes build/comment-ingest and build/gen/; anything else came
    # from the host's build/ (which would also let make skip the compile and ship a host binary).
    assert build == {"comment-ingest", "gen"}, f"build/ in the image holds {sorted(build)}"
    kib = int(size.split()[0])
    assert kib < 5 * 1024, f"the build context is {kib} KiB; what is in it: {sorted(top)}"


# ---------------------------------------------------------------- the image running

def test_runs_as_non_root(image, container):
    user = image["Config"].get("User") or ""
    assert user and user.split(":")[0] not in ("", "0", "root"), f"image user {user!r}"
    pid = wait_until("the container's process", lambda: inspect(container.name)["State"]["Pid"], 10,
                     describe=container.describe)
    status = Path(f"/proc/{pid}/status").read_text()
    uids = re.search(r"(?m)^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", status).groups()
    gids = re.search(r"(?m)^Gid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", status).groups()
    assert "0" not in uids and "0" not in gids, f"the service runs as uid {uids}, gid {gids}"
    exe = os.readlink(f"/proc/{pid}/exe")
    assert exe.endswith("/usr/local/bin/comment-ingest"), exe


def test_healthz_and_healthcheck_turn_healthy(container):
    assert inspect(container.name)["State"]["Health"]["Status"] in ("starting", "healthy")
    wait_until("/healthz answering 200", lambda: _get(container.port, "/healthz")[0] == 200, 30,
               describe=container.describe)
    # The image's HEALTHCHECK command, run inside the container as podman's timer would.
    wait_until("podman healthcheck run succeeding",
               lambda: podman("healthcheck", "run", container.name, check=False).returncode == 0, 30,
               describe=container.describe)
    assert inspect(container.name)["State"]["Health"]["Status"] == "healthy"
    wait_until("/readyz answering 200", lambda: _get(container.port, "/readyz")[0] == 200, 60,
               describe=container.describe)


def _get(port, path):
    try:
        status, _, body = harness.http_get(port, path, timeout=2.0)
        return status, body
    except OSError as e:
        return None, str(e)


def test_seed_comments_published_from_the_container(container, kafka_bootstrap, db):
    seed = harness.load_seed()
    assert len(seed["comments"]) == 5
    article_id = f"{seed['article']['id']}:{container.group_id}"
    events = [harness.seed_event(seed, c, article_id) for c in seed["comments"]]
    ids = [e["comment_id"] for e in events]
    harness.Producer(kafka_bootstrap).produce(container.topics.submitted, events)

    published = harness.consume_all(kafka_bootstrap, container.topics.published, expected_count=5,
                                     timeout=60, match=harness.by_comment_ids(ids))
    got = sorted(r.event["author"]["display_name"] for r in published)
    assert len(published) == 5, f"comment-published events: {got}\n{container.describe()}"
    assert sorted(r.event["comment_id"] for r in published) == sorted(ids)
    assert all(r.event["event_type"] == "comment-published" and r.event["article_id"] == article_id
               for r in published)
    others = harness.consume_all(kafka_bootstrap, [container.topics.moderation, container.topics.rejected],
                                 expected_count=0, timeout=10, extra=0)
    assert others == [], f"held or rejected: {[(r.topic, r.event) for r in others]}"

    rows = db.rows(ids)
    assert len(rows) == 5, f"rows: {sorted(rows)}"
    assert {r["status"] for r in rows.values()} == {"published"}
    assert {r["article_id"] for r in rows.values()} == {article_id}
    assert {r["source_topic"] for r in rows.values()} == {container.topics.submitted}

    # The service's own count, read from the container's port.
    m = harness.metrics(container.port)
    assert harness.metric_sum(m, "comment_ingest_published_total") == 5
    assert harness.metric_sum(m, "comment_ingest_consumed_total") == 5


def test_podman_stop_ends_it_with_status_0(container):
    assert inspect(container.name)["State"]["Running"]
    t0 = time.monotonic()
    podman("stop", "--time", str(STOP_GRACE_SECONDS), container.name, timeout=STOP_GRACE_SECONDS + 30)
    elapsed = time.monotonic() - t0
    state = inspect(container.name)["State"]
    assert state["ExitCode"] == 0, f"exit code {state['ExitCode']} after {elapsed:.1f} s\n{container.describe()}"
    assert elapsed < STOP_GRACE_SECONDS, f"podman stop took {elapsed:.1f} s\n{container.describe()}"

    out, _ = logs(container.name)
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]  # one JSON object per line
    msgs = [line.get("msg") for line in lines]
    assert "stopping" in msgs and lines[-1]["msg"] == "stopped" and lines[-1]["status"] == "0", msgs[-5:]
