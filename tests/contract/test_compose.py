"""Structure checks for docker-compose.yml, deploy/Dockerfile and .dockerignore.

No Docker engine runs in CI, so these tests read the files and check that they say what the
spec says: the official images of the pinned versions, the service configured only through
its documented variables, start order by health, topics that match the service's config,
and an image that runs as a non-root user with a health check.
"""

import re
import shlex
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "deploy" / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"

# The service's configuration variables, as documented (SPEC "Service configuration").
DOCUMENTED_CONFIG = {
    "KAFKA_BOOTSTRAP_SERVERS",
    "KAFKA_GROUP_ID",
    "KAFKA_TRANSACTIONAL_ID",
    "TOPIC_SUBMITTED",
    "TOPIC_PUBLISHED",
    "TOPIC_MODERATION",
    "TOPIC_REJECTED",
    "TOPIC_DECIDED",
    "TOPIC_MODERATED",
    "TOPIC_DECISION_REJECTED",
    "DATABASE_URL",
    "HTTP_ADDR",
    "HTTP_PORT",
    "BATCH_MAX_MESSAGES",
    "BATCH_MAX_WAIT_MS",
    "LOG_LEVEL",
}
TOPIC_DEFAULTS = {
    "TOPIC_SUBMITTED": "comment-submitted",
    "TOPIC_PUBLISHED": "comment-published",
    "TOPIC_MODERATION": "moderation-needed",
    "TOPIC_REJECTED": "comment-rejected",
    "TOPIC_DECIDED": "moderation-decided",
    "TOPIC_MODERATED": "comment-moderated",
    "TOPIC_DECISION_REJECTED": "moderation-decision-rejected",
}
SERVICES = {"kafka", "postgres", "kafka-init", "comment-ingest"}
KAFKA_IMAGE = "apache/kafka:3.9.1"
POSTGRES_IMAGE = "postgres:15"

_INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}")


def interpolate(value):
    """Resolve ${VAR:-default} / ${VAR-default} the way compose does with VAR unset."""
    return _INTERPOLATION.sub(lambda m: m.group(2) or "", str(value))


def env_of(service):
    env = service.get("environment", {}) or {}
    if isinstance(env, list):
        out = {}
        for item in env:
            name, _, value = item.partition("=")
            out[name] = value
        return out
    return {k: "" if v is None else str(v) for k, v in env.items()}


def command_text(service):
    cmd = service.get("command", "")
    return cmd if isinstance(cmd, str) else "\n".join(cmd)


@pytest.fixture(scope="module")
def compose():
    with open(COMPOSE, encoding="utf-8") as f:
        return yaml.safe_load(f)


@pytest.fixture(scope="module")
def services(compose):
    return compose["services"]


@pytest.fixture(scope="module")
def dockerfile():
    return DOCKERFILE.read_text(encoding="utf-8")


# ---------------------------------------------------------------- services and images

def test_services_present(services):
    assert SERVICES <= set(services)


def test_images_pinned(services):
    assert services["kafka"]["image"] == KAFKA_IMAGE
    assert services["kafka-init"]["image"] == KAFKA_IMAGE
    assert services["postgres"]["image"] == POSTGRES_IMAGE


def test_service_built_from_dockerfile(services):
    build = services["comment-ingest"]["build"]
    assert build["context"] == "."
    assert build["dockerfile"] == "deploy/Dockerfile"
    assert (REPO / build["context"] / build["dockerfile"]).is_file()


# ---------------------------------------------------------------- kafka

def test_kafka_single_node_kraft(services):
    env = env_of(services["kafka"])
    assert env["KAFKA_NODE_ID"] == "1"
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env.get("CLUSTER_ID"), "the apache/kafka image requires CLUSTER_ID in KRaft mode"
    listeners = dict(l.split("://", 1) for l in env["KAFKA_LISTENERS"].split(","))
    assert listeners["PLAINTEXT"].endswith(":9092")
    assert listeners["CONTROLLER"].endswith(":9093")
    assert env["KAFKA_ADVERTISED_LISTENERS"] == "PLAINTEXT://kafka:9092"
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] == "CONTROLLER"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@kafka:9093"
    protocols = dict(p.split(":") for p in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    assert protocols == {"CONTROLLER": "PLAINTEXT", "PLAINTEXT": "PLAINTEXT"}


def test_kafka_one_node_replication(services):
    env = env_of(services["kafka"])
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1"
    assert env["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == "1"
    assert env["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"] == "1"
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


def test_kafka_healthcheck(services):
    test = services["kafka"]["healthcheck"]["test"]
    text = test if isinstance(test, str) else " ".join(test)
    assert "/opt/kafka/bin/kafka-broker-api-versions.sh" in text
    assert "--bootstrap-server" in text


# ---------------------------------------------------------------- postgres

def test_postgres(services):
    env = env_of(services["postgres"])
    assert env["POSTGRES_USER"] == "comment_ingest"
    assert env["POSTGRES_DB"] == "comment_ingest"
    assert interpolate(env["POSTGRES_PASSWORD"]), "a password is needed by the image"
    test = services["postgres"]["healthcheck"]["test"]
    assert "pg_isready" in (test if isinstance(test, str) else " ".join(test))


# ---------------------------------------------------------------- comment-ingest

def test_service_env_is_documented(services):
    names = set(env_of(services["comment-ingest"]))
    assert names <= DOCUMENTED_CONFIG, f"undocumented: {sorted(names - DOCUMENTED_CONFIG)}"
    for required in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL", *TOPIC_DEFAULTS):
        assert required in names


def test_service_points_at_compose_dependencies(services):
    env = env_of(services["comment-ingest"])
    kafka_env = env_of(services["kafka"])
    assert env["KAFKA_BOOTSTRAP_SERVERS"] in kafka_env["KAFKA_ADVERTISED_LISTENERS"]
    assert env["KAFKA_BOOTSTRAP_SERVERS"].split(":")[0] == "kafka"


def test_database_url_uses_compose_password(services):
    env = env_of(services["comment-ingest"])
    pg = env_of(services["postgres"])
    m = re.fullmatch(r"postgresql://([^:@/]+):([^@]+)@([^:/]+):(\d+)/(.+)", env["DATABASE_URL"])
    assert m, env["DATABASE_URL"]
    user, password, host, port, db = m.groups()
    assert (user, host, port, db) == (pg["POSTGRES_USER"], "postgres", "5432", pg["POSTGRES_DB"])
    # same compose expression on both sides, so both resolve to the same password
    assert password == pg["POSTGRES_PASSWORD"]
    assert interpolate(password)


def test_service_config_values(services):
    env = env_of(services["comment-ingest"])
    assert env.get("HTTP_PORT", "8080") == "8080"
    assert interpolate(env.get("LOG_LEVEL", "info")) in {"debug", "info", "warn", "error"}
    if "BATCH_MAX_MESSAGES" in env:
        assert env["BATCH_MAX_MESSAGES"].isdigit() and 1 <= int(env["BATCH_MAX_MESSAGES"]) <= 100000
    if "BATCH_MAX_WAIT_MS" in env:
        assert env["BATCH_MAX_WAIT_MS"].isdigit() and 0 <= int(env["BATCH_MAX_WAIT_MS"]) <= 60000


def test_service_depends_on(services):
    deps = services["comment-ingest"]["depends_on"]
    assert deps["postgres"]["condition"] == "service_healthy"
    assert deps["kafka-init"]["condition"] == "service_completed_successfully"
    assert services["kafka-init"]["depends_on"]["kafka"]["condition"] == "service_healthy"


def test_service_ports_and_restart(services):
    svc = services["comment-ingest"]
    assert "8080:8080" in [str(p) for p in svc["ports"]]
    assert svc["restart"] == "unless-stopped"


# ---------------------------------------------------------------- kafka-init topics

def created_topics(services):
    """(topic, partitions, replication-factor) for each kafka-topics.sh --create in kafka-init."""
    topics = []
    for line in command_text(services["kafka-init"]).splitlines():
        words = shlex.split(line)
        if not words or not words[0].endswith("kafka-topics.sh") or "--create" not in words:
            continue
        opts = {words[i]: words[i + 1] for i in range(len(words) - 1) if words[i].startswith("--")}
        assert "--if-not-exists" in words, line
        assert opts["--bootstrap-server"] == "kafka:9092", line
        topics.append((opts["--topic"], int(opts["--partitions"]), int(opts["--replication-factor"])))
    return topics


def test_kafka_init_creates_the_service_topics(services):
    topics = created_topics(services)
    env = env_of(services["comment-ingest"])
    configured = {env.get(name, default) for name, default in TOPIC_DEFAULTS.items()}
    assert {t for t, _, _ in topics} == configured
    assert len(topics) == len(TOPIC_DEFAULTS)
    assert all(p == 3 and rf == 1 for _, p, rf in topics), topics


def test_kafka_init_uses_kafka_tools(services):
    init = services["kafka-init"]
    assert "/opt/kafka/bin/kafka-topics.sh" in command_text(init)
    assert init.get("restart", "no") == "no"


# ---------------------------------------------------------------- Dockerfile

def stages(dockerfile):
    """List of (base image, stage text) per FROM."""
    parts = re.split(r"(?m)^FROM\s+", dockerfile)[1:]
    return [(p.split()[0], p) for p in parts]


def test_dockerfile_multistage_bookworm(dockerfile):
    st = stages(dockerfile)
    assert len(st) >= 2
    assert all(base == "debian:bookworm-slim" for base, _ in st)
    assert "make build" in st[0][1]


def test_dockerfile_runtime_has_no_build_tools(dockerfile):
    runtime = stages(dockerfile)[-1][1]
    assert not re.search(r"\b[a-z0-9.+-]+-dev\b", runtime), "runtime stage installs -dev packages"
    assert not re.search(r"\b(gcc|make)\b", runtime.split("COPY --from")[0])
    for lib in ("librdkafka1", "libpq5", "libjansson4", "libuv1", "libhttp-parser2.9", "libutf8proc2", "libssl3", "curl"):
        assert re.search(rf"(?<![\w.-]){re.escape(lib)}(?![\w.-])", runtime), lib
    assert re.search(r"COPY --from=\S+ \S*build/comment-ingest ", runtime)


def test_dockerfile_non_root_user(dockerfile):
    users = re.findall(r"(?m)^USER\s+(\S+)", stages(dockerfile)[-1][1])
    assert users, "no USER in the runtime stage"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}


def test_dockerfile_healthcheck_expose_entrypoint(dockerfile):
    runtime = stages(dockerfile)[-1][1]
    hc = re.search(r"(?ms)^HEALTHCHECK\b(.*?)(?<!\\)$", runtime)
    assert hc, "no HEALTHCHECK"
    assert "curl -fsS" in hc.group(1) and "/healthz" in hc.group(1)
    assert re.search(r"(?m)^EXPOSE\s+8080\b", runtime)
    assert re.search(r'(?m)^ENTRYPOINT\s+\[".*comment-ingest"\]', runtime)


def test_dockerignore_excludes_local_state():
    entries = {line.strip().rstrip("/") for line in DOCKERIGNORE.read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    assert {".git", ".run", ".venv", "build"} <= entries
    # the build needs these
    assert not entries & {"services", "sql", "Makefile", "deploy"}
