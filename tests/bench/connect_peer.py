"""connect_peer.py - the tool people would pick instead, for `make bench`: Kafka Connect + Debezium JDBC sink.

Apache Kafka Connect 3.9.1 in standalone mode (the broker's own jars) with Debezium's JDBC sink
connector (deploy/connect.sh fetches the plugin), on the same broker and PostgreSQL as the service,
fed the same comments from the same generator: loadgen -C writes each event a second time in
JsonConverter's form ({"schema":...,"payload":<the event>}) to the peer's topic.

What it does with them, as a user would set it up (issue 12 has the facts behind each choice):
  - upsert by comment_id into its own table (created by the connector: schema.evolution=basic);
  - Flatten$Value for author (author_id, author_display_name), ReplaceField$Value drops
    schema_version, TimestampConverter$Value parses submitted_at into a timestamp;
  - errors.tolerance=all: a malformed event is skipped (it has no dead-letter queue here);
  - batch.size and consumer.override.max.poll.records 2000, tasks.max 1 (2 did not help on 2 cores).
It is at-least-once, validates nothing and produces no output events.

Timed from the connector's registration (the worker is already up) to the expected number of rows
in its table: every well-formed event's comment_id once (duplicate ids are upserts).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

REPO = Path(__file__).resolve().parents[2]
JAVA_HEAP = "-Xmx1g"


class PeerError(RuntimeError):
    pass


def fetch_plugin() -> Path:
    """The plugin.path with Debezium's JDBC sink (fetched once into .run/connect/plugins)."""
    p = subprocess.run([str(REPO / "deploy" / "connect.sh"), "fetch"], stdout=subprocess.PIPE, text=True)
    if p.returncode != 0:
        raise PeerError("deploy/connect.sh fetch failed")
    return Path(p.stdout.strip().splitlines()[-1])


def jdbc_of(dburl: str) -> tuple[str, str, str]:
    """(jdbc url, user, password) of a postgresql:// URL."""
    u = urlparse(dburl)
    host = u.hostname or "127.0.0.1"
    port = u.port or 5432
    return f"jdbc:postgresql://{host}:{port}{u.path}", u.username or "", u.password or ""


class ConnectWorker:
    """One standalone Connect worker, its files under workdir; stop() ends it."""

    def __init__(self, bootstrap: str, workdir: Path, port: int, plugin_path: Path):
        self.workdir = workdir
        self.port = port
        workdir.mkdir(parents=True, exist_ok=True)
        libs = REPO / ".run" / "kafka" / "libs"
        if not any(libs.glob("connect-runtime-*.jar")):
            raise PeerError(f"no connect-runtime jar in {libs}: start Kafka with deploy/kafka.sh first")
        props = workdir / "worker.properties"
        props.write_text("\n".join([
            f"bootstrap.servers={bootstrap}",
            "key.converter=org.apache.kafka.connect.storage.StringConverter",
            "value.converter=org.apache.kafka.connect.json.JsonConverter",
            "value.converter.schemas.enable=true",
            f"offset.storage.file.filename={workdir / 'offsets'}",
            f"plugin.path={plugin_path}",
            f"listeners=http://127.0.0.1:{port}",
            # lets the connector raise its consumer's max.poll.records with batch.size
            "connector.client.config.override.policy=All",
            "plugin.discovery=service_load",
        ]) + "\n")
        log4j = workdir / "log4j.properties"
        log4j.write_text("\n".join([
            "log4j.rootLogger=INFO, file",
            "log4j.appender.file=org.apache.log4j.FileAppender",
            f"log4j.appender.file.File={workdir / 'connect.log'}",
            "log4j.appender.file.layout=org.apache.log4j.PatternLayout",
            "log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n",
        ]) + "\n")
        self.out = open(workdir / "stdout.log", "w")
        self.proc = subprocess.Popen(
            ["java", "-Xms512m", JAVA_HEAP, f"-Dlog4j.configuration=file:{log4j}", "-cp", f"{libs}/*",
             "org.apache.kafka.connect.cli.ConnectStandalone", str(props)],
            stdout=self.out, stderr=subprocess.STDOUT, cwd=workdir)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def request(self, method: str, path: str, body: dict | None = None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url(path), data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            text = r.read().decode()
            return json.loads(text) if text else None

    def wait_up(self, timeout: float = 120) -> float:
        """Seconds until the REST API answers with the JDBC sink among its plugins."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise PeerError(f"the Connect worker exited ({self.proc.returncode}); see {self.workdir}")
            try:
                plugins = self.request("GET", "/connector-plugins")
                if any(p["class"].endswith("JdbcSinkConnector") for p in plugins):
                    return time.monotonic() - t0
                raise PeerError(f"the JDBC sink is not among the worker's plugins: {plugins}")
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.25)
        raise PeerError(f"the Connect worker did not answer in {timeout}s; see {self.workdir}")

    def cpu_seconds(self) -> float:
        """CPU time used by the worker so far (user + system), from /proc."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return 0.0

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()


def connector_config(topic: str, table: str, dburl: str) -> dict:
    jdbc, user, password = jdbc_of(dburl)
    return {
        "connector.class": "io.debezium.connector.jdbc.JdbcSinkConnector",
        "tasks.max": "1",
        "topics": topic,
        "connection.url": jdbc,
        "connection.username": user,
        "connection.password": password,
        "insert.mode": "upsert",
        "primary.key.mode": "record_value",
        "primary.key.fields": "comment_id",
        "schema.evolution": "basic",
        "collection.name.format": table,
        "batch.size": "2000",
        "consumer.override.max.poll.records": "2000",
        "errors.tolerance": "all",
        "transforms": "flatten,drop,ts",
        "transforms.flatten.type": "org.apache.kafka.connect.transforms.Flatten$Value",
        "transforms.flatten.delimiter": "_",
        "transforms.drop.type": "org.apache.kafka.connect.transforms.ReplaceField$Value",
        "transforms.drop.exclude": "schema_version",
        "transforms.ts.type": "org.apache.kafka.connect.transforms.TimestampConverter$Value",
        "transforms.ts.field": "submitted_at",
        "transforms.ts.target.type": "Timestamp",
        "transforms.ts.format": "yyyy-MM-dd'T'HH:mm:ss.SSSX",
    }


def run_peer(db, bootstrap: str, dburl: str, topic: str, table: str, expected_rows: int, workdir: Path,
             port: int, say, cpu_snapshot, cpu_used, timeout: float = 900) -> dict:
    """Registers the connector on a running worker and times it to expected_rows rows in table.

    cpu_snapshot and cpu_used are run_bench's: where the machine's CPU went meanwhile.
    """
    plugin_path = fetch_plugin()
    worker = ConnectWorker(bootstrap, workdir, port, plugin_path)
    try:
        up = worker.wait_up()
        say(f"Kafka Connect peer: worker up in {up:.1f}s; registering the JDBC sink on {topic}")
        cpu0 = worker.cpu_seconds()
        machine0 = cpu_snapshot(None)
        t0 = time.monotonic()
        worker.request("POST", "/connectors", {"name": table, "config": connector_config(topic, table, dburl)})
        rows, last_report, t_end = 0, t0, None
        while time.monotonic() - t0 < timeout:
            time.sleep(0.05)
            try:
                rows = db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            except Exception:  # noqa: BLE001 - the connector has not created its table yet (autocommit)
                rows = 0
            if rows >= expected_rows:
                t_end = time.monotonic()
                break
            if worker.proc.poll() is not None:
                raise PeerError(f"the Connect worker exited ({worker.proc.returncode}); see {workdir}")
            if time.monotonic() - last_report >= 2:
                last_report = time.monotonic()
                say(f"Kafka Connect peer: {rows:,} of {expected_rows:,} rows")
        if t_end is None:
            status = worker.request("GET", f"/connectors/{table}/status")
            raise PeerError(f"the peer stored {rows:,} of {expected_rows:,} rows in {timeout}s; status {status}")
        secs = t_end - t0
        cpu = worker.cpu_seconds() - cpu0
        used = cpu_used(machine0, cpu_snapshot(None))
        return {"rows": rows, "seconds": round(secs, 3), "rows_per_second": round(rows / secs),
                "worker_cpu_seconds": round(cpu, 1), "cpu_seconds": used, "worker_startup_s": round(up, 1),
                "table": table,
                "config": {k: v for k, v in connector_config(topic, table, dburl).items() if "password" not in k}}
    finally:
        try:
            worker.request("DELETE", f"/connectors/{table}")
        except Exception:  # noqa: BLE001 - stopping the worker ends it anyway
            pass
        worker.stop()
