"""Kafka with TLS and SASL: the whole pipeline through the broker's SASL_SSL listener (SCRAM-SHA-512 and the
local CA) and its mutual-TLS listener, PLAIN and SCRAM-SHA-256 on the same SASL_SSL listener, and what an
operator sees when the password, the CA or the protocol is wrong: a log line naming the cause, /readyz 503
saying it, /healthz answering, and a clean stop. The listeners and their user come from `make up`
(deploy/kafka.sh, deploy/tls.sh); the inputs are produced and the outputs checked through the plaintext
listener as well as through the secured one."""

import json
import os
import subprocess

import pytest

import harness
import secured


@pytest.fixture(scope="module")
def sasl():
    try:
        return secured.sasl_settings()
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture(scope="module")
def mtls():
    try:
        return secured.mtls_settings()
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory):
    return secured.make_other_ca(tmp_path_factory.mktemp("other-ca"))


def mixed_events(seed, article_id, rounds=3):
    """rounds x the five seed comments (published), three with a link (held), one too short and one not
    JSON (rejected): (events to produce as JSON, raw values, the outcomes they must have)."""
    events = [harness.seed_event(seed, c, article_id) for _ in range(rounds) for c in seed["comments"]]
    outcomes = ["published"] * len(events)
    for _ in range(3):
        events.append(harness.seed_event(seed, seed["examples"]["with_link"], article_id))
        outcomes.append("held")
    events.append(harness.seed_event(seed, seed["examples"]["too_short"], article_id))
    outcomes.append("rejected:body_too_short")
    outcomes.append("rejected:malformed_json")
    return events, [b"{not json"], outcomes


def run_pipeline(service_factory, topic_factory, producer, seed, db, validators, env, secure_conf, rounds=3):
    """A service on fresh topics that reaches Kafka only through the listener `env` describes; checks the
    outputs, rows and metrics of a mixed batch, and the offsets the transactions committed.
    Returns (service, events in, rows, events out)."""
    topics = topic_factory()
    # Service.bootstrap (plaintext) is what the harness checks with; the process gets env's, which wins.
    svc = service_factory(topics, extra_env=env)
    article_id = f"{seed['article']['id']}:sec-{topics.suffix}"
    events, raws, outcomes = mixed_events(seed, article_id, rounds)
    producer.produce(topics.submitted, events)
    for raw in raws:
        producer.produce_raw(topics.submitted, raw, key=b"raw-key")
    for o in outcomes:
        svc.expect(o)

    # Outputs (read_committed, plaintext listener), schemas, rows and the metrics, against the ledger.
    recs = harness.check_outputs_and_metrics(svc, validators, db)
    stored = [e for e, o in zip(events, outcomes) if o in ("published", "held")]
    rows = db.rows([e["comment_id"] for e in stored])
    assert len(rows) == len(stored), f"{len(rows)} rows for {len(stored)} stored comments"

    # The same outputs through the secured listener, read_committed too.
    outputs = [topics.published, topics.moderation, topics.rejected]
    again = secured.consume_committed(secure_conf, outputs, expected=len(recs))
    assert sorted((r.topic, r.partition, r.offset) for r in again) == \
        sorted((r.topic, r.partition, r.offset) for r in recs)

    # Offsets moved only inside the transactions: the group's committed offsets are the input's end.
    ends = harness.watermarks(svc.bootstrap, [topics.submitted])
    committed = secured.committed_offsets(svc.bootstrap, svc.group_id, topics.submitted)
    # (A partition that got nothing has nothing committed: -1001, librdkafka's OFFSET_INVALID.)
    want = {p: ends[(topics.submitted, p)] or -1001 for p in committed}
    assert committed == want, (committed, ends)
    assert sum(ends.values()) == len(events) + len(raws)

    settings = secured.logged(svc, lambda x: x.get("msg") == "kafka client settings")
    assert settings and settings[0]["bootstrap"] == env["KAFKA_BOOTSTRAP_SERVERS"], settings
    return svc, len(events) + len(raws), len(rows), len(recs)


def test_pipeline_through_sasl_ssl_scram_sha_512(service_factory, topic_factory, producer, seed, db, validators,
                                                   sasl, capsys):
    env = secured.service_env(sasl)
    svc, n_in, n_rows, n_out = run_pipeline(service_factory, topic_factory, producer, seed, db, validators, env,
                                            secured.librdkafka_conf(sasl))
    line = secured.logged(svc, lambda x: x.get("msg") == "kafka client settings")[0]
    assert "security.protocol=sasl_ssl sasl.mechanism=SCRAM-SHA-512 sasl.username=comment_ingest" in line["settings"]
    with capsys.disabled():
        print(f"\n  SASL_SSL SCRAM-SHA-512: {n_in} events in, {n_rows} rows, {n_out} events out")


def test_pipeline_through_mutual_tls(service_factory, topic_factory, producer, seed, db, validators, mtls, capsys):
    """The SSL listener requires a client certificate; the key is encrypted, its password in a file."""
    env = secured.service_env(mtls)
    svc, n_in, n_rows, n_out = run_pipeline(service_factory, topic_factory, producer, seed, db, validators, env,
                                            secured.librdkafka_conf(mtls), rounds=1)
    line = secured.logged(svc, lambda x: x.get("msg") == "kafka client settings")[0]
    assert "security.protocol=ssl" in line["settings"] and "(key password set)" in line["settings"]
    with capsys.disabled():
        print(f"\n  SSL with client certificate: {n_in} events in, {n_rows} rows, {n_out} events out")


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256"])
def test_other_mechanisms_on_the_sasl_ssl_listener(service_factory, topic_factory, producer, seed, db, validators,
                                                    sasl, mechanism):
    env = secured.service_env(sasl, KAFKA_SASL_MECHANISM=mechanism)
    svc, n_in, n_rows, n_out = run_pipeline(service_factory, topic_factory, producer, seed, db, validators, env,
                                            secured.librdkafka_conf(sasl), rounds=1)
    line = secured.logged(svc, lambda x: x.get("msg") == "kafka client settings")[0]
    assert f"sasl.mechanism={mechanism}" in line["settings"]
    assert (n_in, n_rows, n_out) == (10, 8, 10)


# ---------------------------------------------------------------- refused connections

def refused_case(name, sasl, mtls, other_ca, tmp_path):
    """The service's variables for one way of getting it wrong, librdkafka's error codes that may report it
    (a failed TLS handshake comes as _SSL or as _TRANSPORT, by when it fails) and what /readyz and the log
    must name."""
    if name == "wrong password":
        pw = tmp_path / "wrong.password"
        pw.write_text("not-the-password\n")
        return (secured.service_env(sasl, KAFKA_SASL_PASSWORD_FILE=str(pw)), ("_AUTHENTICATION",),
                ["Authentication failed during authentication due to invalid credentials"])
    if name == "unknown CA":
        return (secured.service_env(sasl, KAFKA_SSL_CA_LOCATION=str(other_ca)), ("_SSL", "_TRANSPORT"),
                ["certificate verify failed"])
    if name == "plaintext client on the SASL_SSL port":
        return ({"KAFKA_BOOTSTRAP_SERVERS": sasl["BOOTSTRAP_SERVERS"]}, ("_TRANSPORT",),
                ["Disconnected while requesting ApiVersion", "incorrect security.protocol"])
    if name == "no client certificate on the mutual-TLS port":
        return (secured.service_env(mtls, KAFKA_SSL_CERTIFICATE_LOCATION=None, KAFKA_SSL_KEY_LOCATION=None,
                                    KAFKA_SSL_KEY_PASSWORD_FILE=None), ("_SSL", "_TRANSPORT"),
                ["bad certificate", "certificate required"])
    raise AssertionError(name)


@pytest.mark.parametrize("case", ["wrong password", "unknown CA", "plaintext client on the SASL_SSL port",
                                  "no client certificate on the mutual-TLS port"])
def test_a_refused_connection_is_reported_not_fatal(topics, kafka_bootstrap, service_binary, sasl, mtls, other_ca,
                                                    tmp_path, case):
    env, error_names, causes = refused_case(case, sasl, mtls, other_ca, tmp_path)
    svc = harness.Service(f"kafka-refused-{case.split()[0]}", topics, bootstrap=kafka_bootstrap,
                          binary=service_binary, extra_env=env)
    svc.spawn()
    try:
        body = secured.wait_refused(svc, "kafka", causes)
        assert body["status"] == "not_ready" and body["postgres"]["ok"], body
        # The log names the cause, with librdkafka's error code.
        errors = secured.logged(svc, lambda x: x.get("msg") == "kafka error" and x.get("error") in error_names
                                and any(c in x.get("reason", "") for c in causes))
        assert errors, f"no 'kafka error' line with {error_names} naming {causes}\n{svc.log_tail()}"
        assert secured.logged(svc, lambda x: x.get("msg") == "partitions assigned") == []
    finally:
        if svc.running:
            svc.stop()
        else:
            svc.kill()


# ---------------------------------------------------------------- secrets

def test_no_secret_in_logs_readyz_metrics_or_help(service_factory, topics, sasl, service_binary, tmp_path):
    """With librdkafka's debug output on and every secret from a file, no byte of a secret shows in the
    service's output, /readyz, /metrics or --help; a secret-looking property of KAFKA_CONFIG_FILE neither."""
    password = secured.read_secret(sasl["SASL_PASSWORD_FILE"])
    extra = tmp_path / "kafka.properties"
    extra.write_text("# more librdkafka settings\n"
                     "debug=security,broker,conf\n"
                     "ssl.keystore.password=Keystore-Pw-Never-Logged\n"
                     "linger.ms=10\n")
    env = secured.service_env(sasl, KAFKA_CONFIG_FILE=str(extra))
    svc = service_factory(topics, extra_env=env)
    secrets = [password, "Keystore-Pw-Never-Logged"]
    pages = [svc.get(p)[2] for p in ("/readyz", "/metrics", "/healthz")]
    debug = secured.logged(svc, lambda x: x.get("msg") == "librdkafka" and x.get("facility") in ("CONF", "SASL",
                                                                                                "SASLMECHS"))
    assert debug, "librdkafka's debug lines were expected in the log"
    svc.stop()
    out = secured.all_output(svc)
    for s in secrets:
        assert s not in out, "a secret is in the service's output"
        for page in pages:
            assert s not in page
    # --help lists the variables and their defaults, never what the environment holds.
    help_env = dict(os.environ, KAFKA_SASL_PASSWORD=password, DATABASE_PASSWORD=password,
                    KAFKA_SSL_KEY_PASSWORD=password)
    p = subprocess.run([str(service_binary), "--help"], env=help_env, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0
    for name in ("KAFKA_SECURITY_PROTOCOL", "KAFKA_SASL_MECHANISM", "KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD",
                 "KAFKA_SASL_PASSWORD_FILE", "KAFKA_SSL_CA_LOCATION", "KAFKA_SSL_CERTIFICATE_LOCATION",
                 "KAFKA_SSL_KEY_LOCATION", "KAFKA_SSL_KEY_PASSWORD", "KAFKA_CONFIG_FILE", "DATABASE_PASSWORD",
                 "DATABASE_PASSWORD_FILE"):
        assert name in p.stdout, f"--help does not name {name}"
    assert password not in p.stdout + p.stderr


# ---------------------------------------------------------------- configuration errors

def run_config_error(service_binary, env):
    """The service with env on top of the test's environment: must exit 2 at once with one message."""
    full = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_SASL", "KAFKA_SSL", "KAFKA_SECURITY",
                                                                      "KAFKA_CONFIG"))}
    full.update({"HTTP_PORT": str(harness.free_port()), "HTTP_ADDR": "127.0.0.1"}, **env)
    p = subprocess.run([str(service_binary)], env=full, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stderr.strip()


def test_configuration_errors_exit_2_with_one_message(service_binary, sasl, mtls, tmp_path):
    password = secured.read_secret(sasl["SASL_PASSWORD_FILE"])
    owned = tmp_path / "owned.properties"
    owned.write_text("linger.ms=10\nenable.auto.commit=true\n")
    unknown = tmp_path / "unknown.properties"
    unknown.write_text("no.such.property=1\n")
    wrong_key_pw = tmp_path / "wrong-key.password"
    wrong_key_pw.write_text("not-the-key-password\n")
    cases = [
        ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512"},
         "KAFKA_SECURITY_PROTOCOL=SASL_SSL needs KAFKA_SASL_USERNAME"),
        ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_MECHANISM": "SCRAM-SHA-1", "KAFKA_SASL_USERNAME": "u",
          "KAFKA_SASL_PASSWORD": password}, "KAFKA_SASL_MECHANISM must be one of"),
        ({**secured.service_env(sasl), "KAFKA_SASL_PASSWORD": password},
         "KAFKA_SASL_PASSWORD and KAFKA_SASL_PASSWORD_FILE are both set"),
        ({"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CA_LOCATION": str(tmp_path / "missing-ca.crt")},
         "KAFKA_SSL_CA_LOCATION: cannot read"),
        ({"KAFKA_CONFIG_FILE": str(owned)},
         "KAFKA_CONFIG_FILE line 2: enable.auto.commit is the service's own"),
        ({"KAFKA_CONFIG_FILE": str(unknown)},
         "KAFKA_CONFIG_FILE line 1: No such configuration property: \"no.such.property\""),
        # librdkafka reads the key when the client is made: a wrong key password is a configuration error too.
        (secured.service_env(mtls, KAFKA_SSL_KEY_PASSWORD_FILE=str(wrong_key_pw)), "ssl.key.location"),
    ]
    for env, want in cases:
        rc, err = run_config_error(service_binary, env)
        assert rc == 2, f"{env}: exit {rc}, stderr {err!r}"
        assert err.startswith("comment-ingest: invalid configuration: ") and want in err, (want, err)
        assert len(err.splitlines()) == 1, err
        assert password not in err
