"""Helpers for the tests of the secured listeners that `make up` starts (deploy/kafka.sh, deploy/postgres.sh):
their settings from up.sh's export lines, a CA that signed nothing of ours, a read_committed reader over a
secured listener, and waiting for a service that cannot connect to say why.

up.sh prints the settings under names of their own (KAFKA_SECURE_*, KAFKA_MTLS_*, DATABASE_TLS_*); the service
takes them under its own names (KAFKA_SECURITY_PROTOCOL, ...), which `service_env` maps to.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import harness

SASL_VARS = ("BOOTSTRAP_SERVERS", "SECURITY_PROTOCOL", "SASL_MECHANISM", "SASL_USERNAME", "SASL_PASSWORD_FILE",
             "SSL_CA_LOCATION")
MTLS_VARS = ("BOOTSTRAP_SERVERS", "SECURITY_PROTOCOL", "SSL_CA_LOCATION", "SSL_CERTIFICATE_LOCATION",
             "SSL_KEY_LOCATION", "SSL_KEY_PASSWORD_FILE")


def _prefixed(prefix: str, names) -> dict[str, str]:
    """{NAME: value} of the variables prefix+NAME; raises with what is missing."""
    missing = [prefix + n for n in names if not os.environ.get(prefix + n)]
    if missing:
        raise RuntimeError(f"{', '.join(missing)} not set: run the tests after `eval \"$(deploy/up.sh)\"` "
                           "(make integration does), whose Kafka has the secured listeners")
    return {n: os.environ[prefix + n] for n in names}


def sasl_settings() -> dict[str, str]:
    """The SASL_SSL listener: SCRAM-SHA-512, user comment_ingest, the local CA."""
    return _prefixed("KAFKA_SECURE_", SASL_VARS)


def mtls_settings() -> dict[str, str]:
    """The SSL listener that requires a client certificate."""
    return _prefixed("KAFKA_MTLS_", MTLS_VARS)


def database_tls_settings() -> dict[str, str]:
    """PostgreSQL role comment_ingest_tls: verify-full against the local CA, password in a file."""
    return _prefixed("DATABASE_TLS_", ("URL", "PASSWORD_FILE"))


def service_env(settings: dict[str, str], **overrides) -> dict[str, str]:
    """The service's variables (KAFKA_*) for a listener's settings; overrides replace or drop (None) some."""
    env = {f"KAFKA_{k}": v for k, v in settings.items()}
    for k, v in overrides.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env


def librdkafka_conf(settings: dict[str, str]) -> dict[str, str]:
    """The same settings for a confluent-kafka client in the tests."""
    conf = {"bootstrap.servers": settings["BOOTSTRAP_SERVERS"],
            "security.protocol": settings["SECURITY_PROTOCOL"],
            "ssl.ca.location": settings["SSL_CA_LOCATION"]}
    if "SASL_MECHANISM" in settings:
        conf["sasl.mechanism"] = settings["SASL_MECHANISM"]
        conf["sasl.username"] = settings["SASL_USERNAME"]
        conf["sasl.password"] = read_secret(settings["SASL_PASSWORD_FILE"])
    if "SSL_CERTIFICATE_LOCATION" in settings:
        conf["ssl.certificate.location"] = settings["SSL_CERTIFICATE_LOCATION"]
        conf["ssl.key.location"] = settings["SSL_KEY_LOCATION"]
        conf["ssl.key.password"] = read_secret(settings["SSL_KEY_PASSWORD_FILE"])
    return conf


def read_secret(path: str) -> str:
    return Path(path).read_text("utf-8").rstrip("\r\n")


def make_other_ca(directory: Path) -> Path:
    """A self-signed CA that signed none of the local certificates; returns its certificate."""
    crt = directory / "other-ca.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(directory / "other-ca.key"), "-subj", "/CN=a CA that signed nothing here",
                    "-days", "2", "-out", str(crt)], check=True, capture_output=True)
    return crt


def consume_committed(conf: dict[str, str], topics, expected: int, timeout: float = 30.0) -> list[harness.Record]:
    """Every message of topics, read with isolation.level=read_committed through the listener that conf
    describes, until `expected` are read and every partition is at its end (or the timeout)."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

    c = Consumer({**conf, "group.id": f"it-secure-reader-{harness.unique_suffix()}",
                  "isolation.level": "read_committed", "enable.auto.commit": False,
                  "enable.partition.eof": True})
    try:
        md = c.list_topics(timeout=15)
        tps = [TopicPartition(t, p, OFFSET_BEGINNING) for t in topics for p in sorted(md.topics[t].partitions)]
        c.assign(tps)
        parts = {(tp.topic, tp.partition) for tp in tps}
        at_end, found = set(), []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not (len(found) >= expected and at_end == parts):
            msg = c.poll(0.2)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    at_end.add((msg.topic(), msg.partition()))
                    continue
                raise RuntimeError(f"consumer error: {msg.error()}")
            at_end.discard((msg.topic(), msg.partition()))
            value = msg.value()
            try:
                event = json.loads(value) if value is not None else None
            except ValueError:
                event = None
            found.append(harness.Record(msg.topic(), msg.partition(), msg.offset(), msg.key(), value, event))
        return found
    finally:
        c.close()


def committed_offsets(bootstrap: str, group_id: str, topic: str) -> dict[int, int]:
    """{partition: committed offset} of a consumer group on topic (-1001 when none)."""
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group_id, "enable.auto.commit": False})
    try:
        md = c.list_topics(topic, timeout=10)
        tps = [TopicPartition(topic, p) for p in md.topics[topic].partitions]
        return {tp.partition: tp.offset for tp in c.committed(tps, timeout=15)}
    finally:
        c.close()


def readyz(svc) -> tuple[int, dict]:
    status, _, body = svc.get("/readyz")
    return status, json.loads(body)


def wait_refused(svc, component: str, causes, timeout: float = 30.0, hold: float = 3.0) -> dict:
    """Waits until /readyz answers 503 with `component` not ok and its detail naming one of `causes`; then,
    for `hold` seconds more, it must stay so while /healthz answers 200 within a second each time (the loop
    never hangs) and the process runs. Returns the last /readyz body."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        assert svc.running, f"{svc.name} exited with {svc.proc.returncode}\n{svc.log_tail()}"
        try:
            status, body = readyz(svc)
            last = (status, body)
            detail = body.get(component, {}).get("detail", "")
            if status == 503 and not body[component]["ok"] and any(c in detail for c in causes):
                break
        except OSError as e:
            last = e
        assert time.monotonic() < deadline, \
            f"/readyz never named {causes} for {component} within {timeout}s; last: {last!r}\n{svc.log_tail()}"
        time.sleep(0.3)
    end = time.monotonic() + hold
    while time.monotonic() < end:
        t0 = time.monotonic()
        status, _, _ = svc.get("/healthz")
        assert status == 200 and time.monotonic() - t0 < 1.0, "/healthz did not answer at once"
        status, body = readyz(svc)
        assert status == 503 and not body[component]["ok"], body
        assert svc.running, f"{svc.name} exited\n{svc.log_tail()}"
        time.sleep(0.3)
    return body


def logged(svc, predicate) -> list[dict]:
    """The service's JSON log lines for which predicate(line) is true."""
    return [line for line in svc.log_lines() if predicate(line)]


def all_output(svc) -> str:
    """Everything the process wrote, stdout and stderr."""
    return svc.stdout_path.read_text("utf-8", "replace") + svc.stderr_path.read_text("utf-8", "replace")
