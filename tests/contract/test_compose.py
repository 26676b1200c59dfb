"""Structure checks for docker-compose.yml, deploy/Dockerfile and .dockerignore.

No Docker engine runs here and the official Kafka and PostgreSQL images cannot be pulled, so
these tests read the files and check what a user's `docker compose up` depends on. Where a
component can judge its own settings, it does:

- comment-ingest: the variables it reads come from `comment-ingest --help` (config.c's table),
  and the environment the container gets (the Dockerfile's ENV, then compose's) must pass
  `comment-ingest --check-config`, the same checks as a start (ranges, cross-field rules, the
  rules file);
- kafka: the apache/kafka image turns KAFKA_* variables into server.properties entries
  (kafka.docker.KafkaDockerWrapper); each must be a broker setting that Kafka 3.9.1 lists
  (kafka.server.KafkaConfig), and the result must pass Kafka's own validation when the storage
  is formatted (kafka-storage format, as the image does at start) - with the jars of the same
  version that `make up` runs;
- the listeners, bootstrap addresses, healthchecks and dependency conditions must agree with
  each other.

The build (`make build`) and the Kafka jars (`make bootstrap`) must exist; `make contract`
makes both. test_a_broken_compose_file_fails shows each check failing on a broken copy.
"""

import copy
import html.parser
import os
import re
import shlex
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "deploy" / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
README = REPO / "README.md"
KAFKA_POM = REPO / "deploy" / "kafka" / "pom.xml"
KAFKA_LIBS = REPO / ".run" / "kafka" / "libs"
SERVICE_BIN = Path(os.environ.get("COMMENT_INGEST_RELEASE_BIN") or REPO / "build" / "comment-ingest")

SERVICES = {"kafka", "postgres", "kafka-init", "comment-ingest"}
KAFKA_IMAGE = "apache/kafka:3.9.1"
POSTGRES_IMAGE = "postgres:15"

# apache/kafka: the KAFKA_* variables its launcher keeps for the JVM and logging instead of
# server.properties (kafka.docker.Constants in kafka_2.13-3.9.1.jar), and the KRaft cluster id.
KAFKA_IMAGE_LAUNCHER_VARS = {
    "KAFKA_VERSION", "KAFKA_HEAP_OPTS", "KAFKA_LOG4J_OPTS", "KAFKA_OPTS", "KAFKA_JMX_OPTS",
    "KAFKA_JVM_PERFORMANCE_OPTS", "KAFKA_GC_LOG_OPTS", "KAFKA_LOG4J_ROOT_LOGLEVEL",
    "KAFKA_LOG4J_LOGGERS", "KAFKA_TOOLS_LOG4J_LOGLEVEL", "KAFKA_JMX_HOSTNAME", "CLUSTER_ID",
}
# postgres: the variables its docker-entrypoint.sh reads (the image's documentation).
POSTGRES_IMAGE_VARS = {
    "POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB", "POSTGRES_INITDB_ARGS",
    "POSTGRES_INITDB_WALDIR", "POSTGRES_HOST_AUTH_METHOD", "PGDATA",
    "POSTGRES_USER_FILE", "POSTGRES_PASSWORD_FILE", "POSTGRES_DB_FILE", "POSTGRES_INITDB_ARGS_FILE",
}
# The port the postgres image listens on (it sets no PGPORT).
POSTGRES_PORT = "5432"

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


def healthcheck_text(service):
    test = (service.get("healthcheck") or {}).get("test", "")
    return test if isinstance(test, str) else " ".join(test)


def option(words, name):
    """The value after `name` in a command's words (None if absent)."""
    return words[words.index(name) + 1] if name in words else None


def host_port(address):
    host, _, port = address.rpartition(":")
    return host, port


# ---------------------------------------------------------------- what the components say

def service_settings():
    """{variable: default} of what comment-ingest reads, from its own --help (config.c's table)."""
    if not SERVICE_BIN.is_file():
        pytest.fail(f"{SERVICE_BIN} is missing; run `make build`", pytrace=False)
    out = subprocess.run([str(SERVICE_BIN), "--help"], capture_output=True, text=True, check=True).stdout
    table = out.split("Environment variables", 1)[1]
    rows = dict(re.findall(r"(?m)^  ([A-Z][A-Z0-9_]*)\s.*\(default: (.*)\)$", table))
    assert len(rows) >= 10, f"no settings table in --help:\n{out}"
    return rows


def topic_settings(settings):
    """{TOPIC_* variable: its default}: every topic the service consumes or produces."""
    topics = {name: default for name, default in settings.items() if name.startswith("TOPIC_")}
    assert "TOPIC_SUBMITTED" in topics, sorted(settings)
    return topics


def service_check_config(env):
    """comment-ingest --check-config with exactly this environment."""
    return subprocess.run([str(SERVICE_BIN), "--check-config"], env=env, capture_output=True, text=True)


class _BrokerConfigIds(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.names = set()

    def handle_starttag(self, tag, attrs):
        anchor = dict(attrs).get("id") or ""
        if tag == "a" and anchor.startswith("brokerconfigs_"):
            self.names.add(anchor[len("brokerconfigs_"):])


def kafka_java(*args):
    if not list(KAFKA_LIBS.glob("kafka_2.13-*.jar")):
        pytest.fail(f"no Kafka jars in {KAFKA_LIBS}; run `make bootstrap`", pytrace=False)
    return subprocess.run(["java", "-cp", f"{KAFKA_LIBS}/*", *args], capture_output=True, text=True, timeout=120)


def broker_settings():
    """Every broker setting Kafka knows: the documentation that kafka.server.KafkaConfig prints."""
    r = kafka_java("kafka.server.KafkaConfig")
    assert r.returncode == 0, r.stderr
    parser = _BrokerConfigIds()
    parser.feed(r.stdout)
    assert {"listeners", "advertised.listeners", "node.id"} <= parser.names, "no broker settings listed"
    return parser.names


def kafka_image_property(name):
    """The server.properties key the apache/kafka image makes of a KAFKA_* variable (None: not one);
    kafka.docker.KafkaDockerWrapper.getServerConfigsFromEnv: drop KAFKA_, lower case, then
    '_' -> '.', '...' -> '-', '..' -> '_'."""
    if not name.startswith("KAFKA_") or name in KAFKA_IMAGE_LAUNCHER_VARS:
        return None
    return name.replace("KAFKA_", "").lower().replace("_", ".").replace("...", "-").replace("..", "_")


def kafka_server_properties(kafka_env):
    return {kafka_image_property(k): interpolate(v) for k, v in kafka_env.items() if kafka_image_property(k)}


def kafka_format_storage(props, cluster_id):
    """kafka-storage format with these broker settings, as the image runs it at start; log.dirs
    (a path inside the container) becomes a temporary directory."""
    with tempfile.TemporaryDirectory() as tmp:
        props = dict(props)
        props["log.dirs"] = f"{tmp}/data"
        path = Path(tmp) / "server.properties"
        path.write_text("".join(f"{k}={v}\n" for k, v in props.items()), "utf-8")
        return kafka_java("kafka.tools.StorageTool", "format", "--cluster-id", cluster_id, "-c", str(path))


def listeners(value):
    """{name: (host, port)} of a listeners value such as PLAINTEXT://:9092,CONTROLLER://:9093."""
    out = {}
    for item in value.split(","):
        name, _, address = item.strip().partition("://")
        out[name] = host_port(address)
    return out


# ---------------------------------------------------------------- the Dockerfile

def stages(dockerfile):
    """List of (base image, stage text) per FROM."""
    parts = re.split(r"(?m)^FROM\s+", dockerfile)[1:]
    return [(p.split()[0], p) for p in parts]


def instructions(stage_text, keyword):
    """The arguments of each `keyword` instruction of a stage, continuation lines joined."""
    joined = re.sub(r"\\\n", " ", stage_text)
    return [m.group(1).strip() for m in re.finditer(rf"(?m)^{keyword}\s+(.*)$", joined)]


def dockerfile_env(dockerfile):
    """The runtime stage's ENV, as the container starts with it."""
    env = {}
    for args in instructions(stages(dockerfile)[-1][1], "ENV"):
        for word in shlex.split(args):
            name, _, value = word.partition("=")
            env[name] = value
    return env


def dockerfile_copies(dockerfile):
    """{path in the image: file in the repository} for the runtime stage's COPY from the context."""
    out = {}
    for args in instructions(stages(dockerfile)[-1][1], "COPY"):
        words = args.split()
        if not any(w.startswith("--from") for w in words):
            out[words[-1]] = REPO / words[-2]
    return out


def dockerfile_healthcheck(dockerfile):
    hcs = instructions(stages(dockerfile)[-1][1], "HEALTHCHECK")
    return hcs[-1] if hcs else None


def container_env(service, dockerfile):
    """The environment comment-ingest's container gets: the image's ENV, then compose's."""
    env = dockerfile_env(dockerfile)
    env.update({k: interpolate(v) for k, v in env_of(service).items()})
    return env


# ---------------------------------------------------------------- fixtures

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


@pytest.fixture(scope="module")
def settings():
    return service_settings()


@pytest.fixture(scope="module")
def broker_configs():
    return broker_settings()


# ---------------------------------------------------------------- services and images

def test_services_present(services):
    assert SERVICES <= set(services)


def test_images_pinned(services):
    assert services["kafka"]["image"] == KAFKA_IMAGE
    assert services["kafka-init"]["image"] == KAFKA_IMAGE
    assert services["postgres"]["image"] == POSTGRES_IMAGE


def test_kafka_image_matches_the_local_kafka():
    """The broker checks below use `make up`'s jars: they judge the image only at the same version."""
    pom = re.search(r"<kafka.version>([^<]+)</kafka.version>", KAFKA_POM.read_text("utf-8")).group(1)
    assert KAFKA_IMAGE.endswith(f":{pom}")


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
    bound = listeners(env["KAFKA_LISTENERS"])
    assert bound["PLAINTEXT"][1] == "9092" and bound["CONTROLLER"][1] == "9093"
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


def test_kafka_env_is_broker_settings(services, broker_configs):
    """Every variable of the kafka service is one the image understands: a launcher variable, or
    one it turns into a broker setting that Kafka knows (a typo would be dropped silently)."""
    for name in env_of(services["kafka"]):
        if name in KAFKA_IMAGE_LAUNCHER_VARS:
            continue
        prop = kafka_image_property(name)
        assert prop is not None, f"{name}: the apache/kafka image ignores it"
        assert prop in broker_configs, f"{name} becomes {prop}, which is no Kafka broker setting"


def test_kafka_accepts_its_settings(services):
    """The server.properties the image writes from the environment passes Kafka's own validation
    (listener names, protocols, controller quorum, roles) when the storage is formatted."""
    env = env_of(services["kafka"])
    r = kafka_format_storage(kafka_server_properties(env), interpolate(env["CLUSTER_ID"]))
    errors = [line for line in (r.stdout + r.stderr).splitlines() if "log4j:WARN" not in line]
    assert r.returncode == 0, "\n".join(errors[:5])


def test_kafka_listeners_agree(services):
    """Advertised listeners are reachable on the compose network (the service's name and
    hostname) on the port their listener binds; the controller is not advertised; the quorum
    voter is this node on the controller's port."""
    svc = services["kafka"]
    env = env_of(svc)
    bound = listeners(env["KAFKA_LISTENERS"])
    advertised = listeners(env["KAFKA_ADVERTISED_LISTENERS"])
    controllers = set(env["KAFKA_CONTROLLER_LISTENER_NAMES"].split(","))
    protocols = dict(p.split(":") for p in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    assert set(bound) <= set(protocols), f"listeners without a protocol: {set(bound) - set(protocols)}"
    assert controllers <= set(bound) and not controllers & set(advertised)
    assert env["KAFKA_INTER_BROKER_LISTENER_NAME"] in advertised
    for name, (host, port) in advertised.items():
        assert name in bound, f"advertised listener {name} is not a listener"
        assert port == bound[name][1], f"{name} is advertised on port {port} but binds {bound[name][1]}"
        assert host == "kafka" and svc.get("hostname", host) == host, \
            f"{name} is advertised as {host}, not the service's name and hostname"
    (controller,) = controllers
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{env['KAFKA_NODE_ID']}@kafka:{bound[controller][1]}"


def client_listener(services):
    """The address clients on the compose network use: the advertised inter-broker listener."""
    env = env_of(services["kafka"])
    host, port = listeners(env["KAFKA_ADVERTISED_LISTENERS"])[env["KAFKA_INTER_BROKER_LISTENER_NAME"]]
    return f"{host}:{port}"


def test_kafka_clients_use_the_advertised_listener(services):
    expected = client_listener(services)
    assert env_of(services["comment-ingest"])["KAFKA_BOOTSTRAP_SERVERS"] == expected
    for line in command_text(services["kafka-init"]).splitlines():
        words = shlex.split(line)
        if words and words[0].endswith("kafka-topics.sh"):
            assert option(words, "--bootstrap-server") == expected, line


# ---------------------------------------------------------------- postgres

def test_postgres(services):
    env = env_of(services["postgres"])
    assert env["POSTGRES_USER"] == "comment_ingest"
    assert env["POSTGRES_DB"] == "comment_ingest"
    assert interpolate(env["POSTGRES_PASSWORD"]), "a password is needed by the image"


def test_postgres_env_is_image_settings(services):
    unknown = set(env_of(services["postgres"])) - POSTGRES_IMAGE_VARS
    assert not unknown, f"the postgres image does not read {sorted(unknown)}"


def test_database_url_uses_compose_password(services):
    env = env_of(services["comment-ingest"])
    pg = env_of(services["postgres"])
    m = re.fullmatch(r"postgresql://([^:@/]+):([^@]+)@([^:/]+):(\d+)/(.+)", env["DATABASE_URL"])
    assert m, env["DATABASE_URL"]
    user, password, host, port, db = m.groups()
    assert (user, host, port, db) == (pg["POSTGRES_USER"], "postgres", POSTGRES_PORT, pg["POSTGRES_DB"])
    # same compose expression on both sides, so both resolve to the same password
    assert password == pg["POSTGRES_PASSWORD"]
    assert interpolate(password)


# ---------------------------------------------------------------- comment-ingest

def test_service_env_is_its_settings(services, dockerfile, settings):
    """Every variable the container gets (Dockerfile ENV and compose) is one the binary reads."""
    compose_names = set(env_of(services["comment-ingest"]))
    image_names = set(dockerfile_env(dockerfile))
    known = set(settings)
    assert compose_names <= known, f"comment-ingest does not read {sorted(compose_names - known)}"
    assert image_names <= known, f"comment-ingest does not read {sorted(image_names - known)}"
    for required in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL", *topic_settings(settings)):
        assert required in compose_names


def test_settings_are_documented(settings):
    """README's configuration table lists exactly what the binary reads. A secret's row names its
    file form too: "| `NAME`, or `NAME_FILE` |"."""
    rows = re.findall(r"(?m)^\| `([A-Z][A-Z0-9_]*)`(?:, or `([A-Z][A-Z0-9_]*)`)? \|", README.read_text("utf-8"))
    documented = {name for name, _ in rows}
    assert all(f == "" or f == name + "_FILE" for name, f in rows), [r for r in rows if r[1]]
    assert set(settings) - documented == set(), "not in README's configuration table"
    assert documented - set(settings) == set(), "in README's configuration table, not read by the service"


def test_service_env_passes_the_service_check(services, dockerfile):
    """The container's environment passes `comment-ingest --check-config`: every value in its
    range, the cross-field rules, and RULES_FILE as the image ships it."""
    env = container_env(services["comment-ingest"], dockerfile)
    if env.get("RULES_FILE"):
        copies = dockerfile_copies(dockerfile)
        assert env["RULES_FILE"] in copies, f"RULES_FILE={env['RULES_FILE']} is no file the image has"
        env["RULES_FILE"] = str(copies[env["RULES_FILE"]])
    r = service_check_config(env)
    assert r.returncode == 0, r.stderr.strip()


def test_service_http_port(services, dockerfile):
    """The published port is the one the service listens on, on every interface, and the one its
    HEALTHCHECK asks."""
    svc = services["comment-ingest"]
    env = container_env(svc, dockerfile)
    port = env.get("HTTP_PORT", "8080")
    assert env.get("HTTP_ADDR", "0.0.0.0") == "0.0.0.0", "a published port needs HTTP_ADDR=0.0.0.0"
    assert [str(p).rsplit(":", 1)[-1] for p in svc["ports"]] == [port]
    exposed = {w.split("/")[0] for args in instructions(stages(dockerfile)[-1][1], "EXPOSE") for w in args.split()}
    assert port in exposed, f"the image exposes {sorted(exposed)}"
    hc = dockerfile_healthcheck(dockerfile) or ""
    assert "${HTTP_PORT" in hc or f":{port}/healthz" in hc, hc


def test_service_ports_and_restart(services):
    svc = services["comment-ingest"]
    assert "8080:8080" in [str(p) for p in svc["ports"]]
    assert svc["restart"] == "unless-stopped"


# ---------------------------------------------------------------- healthchecks

def one_shot(service):
    return str(service.get("restart", "no")) == "no"


def test_long_running_services_have_healthchecks(services, dockerfile):
    """Each long-running service has a healthcheck (the built one may take the image's)."""
    for name, svc in services.items():
        if one_shot(svc):
            continue
        hc = svc.get("healthcheck") or {}
        assert not hc.get("disable"), f"{name}: healthcheck disabled"
        if "build" in svc and not hc:
            assert dockerfile_healthcheck(dockerfile), f"{name}: no healthcheck in compose or the image"
        else:
            assert hc.get("test"), f"{name}: no healthcheck"


def test_kafka_healthcheck(services):
    """The broker's own tool, on a client listener inside the container."""
    text = healthcheck_text(services["kafka"])
    assert "/opt/kafka/bin/kafka-broker-api-versions.sh" in text
    host, port = host_port(option(shlex.split(text.split("CMD-SHELL", 1)[-1]), "--bootstrap-server"))
    env = env_of(services["kafka"])
    controllers = set(env["KAFKA_CONTROLLER_LISTENER_NAMES"].split(","))
    ports = {p: h for n, (h, p) in listeners(env["KAFKA_LISTENERS"]).items() if n not in controllers}
    assert host in ("localhost", "127.0.0.1") and port in ports, f"{host}:{port} is no client listener"
    assert ports[port] in ("", "0.0.0.0", "localhost", "127.0.0.1"), "that listener is not on loopback"


def test_postgres_healthcheck(services):
    """pg_isready over TCP (during initialisation the image runs a socket-only server) as the
    service's user, on its database and port."""
    words = shlex.split(healthcheck_text(services["postgres"]).split("CMD-SHELL", 1)[-1])
    assert words[0] == "pg_isready"
    env = env_of(services["postgres"])
    assert option(words, "-h") in ("127.0.0.1", "localhost")
    assert option(words, "-p") in (None, POSTGRES_PORT)
    assert option(words, "-U") == env["POSTGRES_USER"]
    assert option(words, "-d") == env["POSTGRES_DB"]


# ---------------------------------------------------------------- start order

def depends_on(service):
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):  # the short form waits for nothing but the start
        return {d: "service_started" for d in deps}
    return {d: (c or {}).get("condition", "service_started") for d, c in deps.items()}


def test_service_depends_on(services):
    assert depends_on(services["comment-ingest"]) == {
        "postgres": "service_healthy",
        "kafka": "service_healthy",
        "kafka-init": "service_completed_successfully",
    }
    assert depends_on(services["kafka-init"]) == {"kafka": "service_healthy"}


def test_dependency_conditions_can_be_met(services, dockerfile):
    """A service_healthy dependency has a healthcheck, a service_completed_successfully one ends
    (restart: "no"), and every dependency is a service of the file."""
    for name, svc in services.items():
        for dep, condition in depends_on(svc).items():
            assert dep in services, f"{name} depends on {dep}, which is no service"
            if condition == "service_healthy":
                target = services[dep]
                assert (target.get("healthcheck") or {}).get("test") or \
                    ("build" in target and dockerfile_healthcheck(dockerfile)), f"{dep} has no healthcheck"
            elif condition == "service_completed_successfully":
                assert one_shot(services[dep]), f"{dep} restarts, so it never completes"


def test_no_dependency_cycle(services):
    state = {}

    def visit(name, path):
        if state.get(name) == "done":
            return
        assert state.get(name) != "visiting", f"dependency cycle: {' -> '.join(path + [name])}"
        state[name] = "visiting"
        for dep in depends_on(services.get(name, {})):
            visit(dep, path + [name])
        state[name] = "done"

    for name in services:
        visit(name, [])


# ---------------------------------------------------------------- kafka-init topics

def created_topics(services):
    """(topic, partitions, replication-factor) for each kafka-topics.sh --create in kafka-init."""
    topics = []
    for line in command_text(services["kafka-init"]).splitlines():
        words = shlex.split(line)
        if not words or not words[0].endswith("kafka-topics.sh") or "--create" not in words:
            continue
        assert "--if-not-exists" in words, line
        topics.append((option(words, "--topic"), int(option(words, "--partitions")),
                       int(option(words, "--replication-factor"))))
    return topics


def test_kafka_init_creates_the_service_topics(services, settings):
    """kafka-init creates every topic the service uses (its TOPIC_* settings, as compose sets
    them), once each; the broker creates none implicitly."""
    topics = created_topics(services)
    env = env_of(services["comment-ingest"])
    configured = {env.get(name, default) for name, default in topic_settings(settings).items()}
    assert sorted(t for t, _, _ in topics) == sorted(configured)
    assert len(topics) >= 4
    assert all(p == 3 and rf == 1 for _, p, rf in topics), topics


def test_kafka_init_uses_kafka_tools(services):
    init = services["kafka-init"]
    assert "/opt/kafka/bin/kafka-topics.sh" in command_text(init)
    assert one_shot(init)


# ---------------------------------------------------------------- Dockerfile

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
    hc = dockerfile_healthcheck(dockerfile)
    assert hc, "no HEALTHCHECK"
    assert "curl -fsS" in hc and "/healthz" in hc
    assert re.search(r"(?m)^EXPOSE\s+8080\b", runtime)
    assert re.search(r'(?m)^ENTRYPOINT\s+\[".*comment-ingest"\]', runtime)


def test_dockerignore_excludes_local_state():
    entries = {line.strip().rstrip("/") for line in DOCKERIGNORE.read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    assert {".git", ".run", ".venv", "build", "results"} <= entries
    # the build needs these
    assert not entries & {"services", "sql", "Makefile", "deploy"}


# ---------------------------------------------------------------- each check can fail

def _set(service, key, value):
    def mutate(services):
        services[service]["environment"][key] = value
    return mutate


def _drop(service, *path):
    def mutate(services):
        node = services[service]
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]
    return mutate


def _edit(service, key, old, new):
    def mutate(services):
        svc = services[service]
        value = svc[key]
        if isinstance(value, dict):  # healthcheck: edit its test
            value["test"] = [w.replace(old, new) for w in value["test"]]
        else:
            svc[key] = [w.replace(old, new) for w in value] if isinstance(value, list) else value.replace(old, new)
    return mutate


def _depend(service, dep, condition):
    def mutate(services):
        services[service].setdefault("depends_on", {})[dep] = {"condition": condition}
    return mutate


# (what is broken, how, the check that must catch it)
BROKEN = [
    ("service: a variable it does not read", _set("comment-ingest", "KAFKA_GROUP", "x"),
     "test_service_env_is_its_settings"),
    ("service: an output topic kafka-init does not create", _set("comment-ingest", "TOPIC_REJECTED", "rejected"),
     "test_kafka_init_creates_the_service_topics"),
    ("kafka-init: a topic created twice", _edit("kafka-init", "command", "--topic comment-rejected", "--topic comment-published"),
     "test_kafka_init_creates_the_service_topics"),
    ("service: batch size out of range", _set("comment-ingest", "BATCH_MAX_MESSAGES", "0"),
     "test_service_env_passes_the_service_check"),
    ("service: idle timeout above the request timeout", _set("comment-ingest", "HTTP_IDLE_TIMEOUT_MS", "9000"),
     "test_service_env_passes_the_service_check"),
    ("service: output topic = input topic", _set("comment-ingest", "TOPIC_PUBLISHED", "comment-submitted"),
     "test_service_env_passes_the_service_check"),
    ("service: unknown log level", _set("comment-ingest", "LOG_LEVEL", "${LOG_LEVEL:-verbose}"),
     "test_service_env_passes_the_service_check"),
    ("service: rules file the image lacks", _set("comment-ingest", "RULES_FILE", "/etc/rules.json"),
     "test_service_env_passes_the_service_check"),
    ("service: listens on loopback only", _set("comment-ingest", "HTTP_ADDR", "127.0.0.1"),
     "test_service_http_port"),
    ("service: port other than the published one", _set("comment-ingest", "HTTP_PORT", "9090"),
     "test_service_http_port"),
    ("service: bootstrap on the controller port", _set("comment-ingest", "KAFKA_BOOTSTRAP_SERVERS", "kafka:9093"),
     "test_kafka_clients_use_the_advertised_listener"),
    ("kafka-init: bootstrap on localhost", _edit("kafka-init", "command", "kafka:9092", "localhost:9092"),
     "test_kafka_clients_use_the_advertised_listener"),
    ("kafka: a misspelt setting", _set("kafka", "KAFKA_NUM_PARTITION", "3"),
     "test_kafka_env_is_broker_settings"),
    ("kafka: a variable the image ignores", _set("kafka", "KAFKA", "1"),
     "test_kafka_env_is_broker_settings"),
    ("kafka: inter-broker listener not defined", _set("kafka", "KAFKA_INTER_BROKER_LISTENER_NAME", "INTERNAL"),
     "test_kafka_accepts_its_settings"),
    ("kafka: controller listener without a protocol",
     _set("kafka", "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", "PLAINTEXT:PLAINTEXT"),
     "test_kafka_accepts_its_settings"),
    ("kafka: advertised as localhost", _set("kafka", "KAFKA_ADVERTISED_LISTENERS", "PLAINTEXT://localhost:9092"),
     "test_kafka_listeners_agree"),
    ("kafka: listener moved, advertised port not", _set("kafka", "KAFKA_LISTENERS", "PLAINTEXT://:9094,CONTROLLER://:9093"),
     "test_kafka_listeners_agree"),
    ("kafka: hostname other than the advertised host", lambda s: s["kafka"].update(hostname="broker"),
     "test_kafka_listeners_agree"),
    ("kafka: quorum voter on the client port", _set("kafka", "KAFKA_CONTROLLER_QUORUM_VOTERS", "1@kafka:9092"),
     "test_kafka_listeners_agree"),
    ("kafka: healthcheck on the controller port", _edit("kafka", "healthcheck", "localhost:9092", "localhost:9093"),
     "test_kafka_healthcheck"),
    ("postgres: a variable the image ignores", _set("postgres", "POSTGRES_DATABASE", "x"),
     "test_postgres_env_is_image_settings"),
    ("postgres: healthcheck as another user", _edit("postgres", "healthcheck", "-U comment_ingest", "-U postgres"),
     "test_postgres_healthcheck"),
    ("postgres: healthcheck on another port", _edit("postgres", "healthcheck", "-p 5432", "-p 55432"),
     "test_postgres_healthcheck"),
    ("postgres: database other than the service's", _set("postgres", "POSTGRES_DB", "comments"),
     "test_database_url_uses_compose_password"),
    ("postgres: no healthcheck", _drop("postgres", "healthcheck"),
     "test_long_running_services_have_healthchecks"),
    ("postgres: no healthcheck, yet waited for healthy", _drop("postgres", "healthcheck"),
     "test_dependency_conditions_can_be_met"),
    ("service: healthcheck disabled", lambda s: s["comment-ingest"].update(healthcheck={"disable": True}),
     "test_long_running_services_have_healthchecks"),
    ("service: starts when kafka has started, not when healthy", _depend("comment-ingest", "kafka", "service_started"),
     "test_service_depends_on"),
    ("service: no wait for kafka-init", _drop("comment-ingest", "depends_on", "kafka-init"),
     "test_service_depends_on"),
    ("kafka-init: starts before kafka is healthy", _depend("kafka-init", "kafka", "service_started"),
     "test_service_depends_on"),
    ("kafka-init: restarts, so never completes", lambda s: s["kafka-init"].update(restart="on-failure"),
     "test_dependency_conditions_can_be_met"),
    ("a dependency that is no service", _depend("kafka", "zookeeper", "service_started"),
     "test_dependency_conditions_can_be_met"),
    ("a dependency cycle", _depend("kafka", "comment-ingest", "service_started"),
     "test_no_dependency_cycle"),
]


@pytest.mark.parametrize("what,mutate,check", BROKEN, ids=[b[0] for b in BROKEN])
def test_a_broken_compose_file_fails(what, mutate, check, services, dockerfile, settings, broker_configs):
    fixtures = {"services": services, "dockerfile": dockerfile, "settings": settings,
                "broker_configs": broker_configs}
    fn = globals()[check]
    args = [name for name in fn.__code__.co_varnames[:fn.__code__.co_argcount]]
    fn(*[fixtures[a] for a in args])  # the real file passes
    broken = copy.deepcopy(services)
    mutate(broken)
    with pytest.raises(AssertionError):
        fn(*[broken if a == "services" else fixtures[a] for a in args])
