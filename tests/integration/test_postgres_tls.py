"""PostgreSQL over TLS: the service connects as role comment_ingest_tls, which pg_hba.conf admits only over
TLS with its password (deploy/postgres.sh), with sslmode=verify-full against the local CA and the password
from DATABASE_PASSWORD_FILE; it stores the rows and publishes as usual. A CA that did not sign the server's
certificate, no TLS at all, or a wrong password each leave it running and not ready, saying why."""

import urllib.parse

import pytest

import harness
import secured


@pytest.fixture(scope="module")
def tls():
    try:
        return secured.database_tls_settings()
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory):
    return secured.make_other_ca(tmp_path_factory.mktemp("other-ca"))


def with_query(url: str, **params) -> str:
    """url with its query parameters replaced by params (None drops one)."""
    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query))
    for k, v in params.items():
        if v is None:
            query.pop(k, None)
        else:
            query[k] = v
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query, safe="/")))


def superuser_db(database_url: str):
    """The cluster as user postgres (trusted on 127.0.0.1), to look at other roles' connections."""
    parts = urllib.parse.urlsplit(database_url)
    return harness.Db(urllib.parse.urlunsplit(parts._replace(netloc=f"postgres@{parts.hostname}:{parts.port}",
                                                             path="/postgres", query="")))


def test_verify_full_with_the_tls_role_stores_rows(service_factory, topics, producer, seed, db, validators, tls,
                                                   database_url, capsys):
    assert "sslmode=verify-full" in tls["URL"] and "sslrootcert=" in tls["URL"]
    password = secured.read_secret(tls["PASSWORD_FILE"])
    svc = service_factory(topics, extra_env={"DATABASE_URL": tls["URL"], "DATABASE_PASSWORD_FILE": tls["PASSWORD_FILE"]})

    article_id = f"{seed['article']['id']}:pgtls-{topics.suffix}"
    events = [harness.seed_event(seed, c, article_id) for c in seed["comments"]]
    events.append(harness.seed_event(seed, seed["examples"]["with_link"], article_id))
    events.append(harness.seed_event(seed, seed["examples"]["too_short"], article_id))
    producer.produce(topics.submitted, events)
    for o in ["published"] * 5 + ["held", "rejected:body_too_short"]:
        svc.expect(o)
    recs = harness.check_outputs_and_metrics(svc, validators, db)
    rows = db.rows([e["comment_id"] for e in events])
    assert len(rows) == 6, f"{len(rows)} rows, want the 5 published and the held one"

    # The service's own connection: role comment_ingest_tls, over TLS.
    ready = secured.logged(svc, lambda x: x.get("msg") == "postgres ready")
    assert ready and ready[0]["tls"].startswith("TLSv1."), ready
    su = superuser_db(database_url)
    try:
        conns = su.conn.execute(
            "SELECT s.ssl, s.version FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) "
            "WHERE a.usename = 'comment_ingest_tls' AND a.application_name = ''").fetchall()
    finally:
        su.close()
    assert conns and all(c["ssl"] for c in conns), conns
    # The URL is logged without the password; the password shows nowhere.
    starting = secured.logged(svc, lambda x: x.get("msg") == "starting")[0]
    assert starting["database"].startswith("postgresql://comment_ingest_tls@127.0.0.1:"), starting
    svc.stop()
    assert password not in secured.all_output(svc)
    with capsys.disabled():
        print(f"\n  PostgreSQL verify-full as comment_ingest_tls: {len(events)} events in, {len(rows)} rows, "
              f"{len(recs)} events out")


@pytest.mark.parametrize("case", ["a CA that did not sign the server", "no TLS", "a wrong password"])
def test_a_refused_database_is_reported_not_fatal(topics, kafka_bootstrap, service_binary, tls, other_ca, tmp_path,
                                                  case):
    env = {"DATABASE_URL": tls["URL"], "DATABASE_PASSWORD_FILE": tls["PASSWORD_FILE"]}
    if case == "a CA that did not sign the server":
        env["DATABASE_URL"] = with_query(tls["URL"], sslrootcert=str(other_ca))
        causes = ["certificate verify failed"]
    elif case == "no TLS":
        env["DATABASE_URL"] = with_query(tls["URL"], sslmode="disable", sslrootcert=None)
        causes = ['pg_hba.conf rejects connection for host "127.0.0.1", user "comment_ingest_tls"']
    else:
        wrong = tmp_path / "wrong.password"
        wrong.write_text("Not-The-Password-42\n")
        env["DATABASE_PASSWORD_FILE"] = str(wrong)
        causes = ['password authentication failed for user "comment_ingest_tls"']
    svc = harness.Service(f"pg-refused-{case.split()[-1]}", topics, bootstrap=kafka_bootstrap, binary=service_binary,
                          extra_env=env)
    svc.spawn()
    try:
        body = secured.wait_refused(svc, "postgres", causes)
        assert body["kafka"]["ok"], body
        failed = secured.logged(svc, lambda x: x.get("msg") == "postgres connection failed"
                                and any(c in x.get("error", "") for c in causes))
        assert failed, f"no 'postgres connection failed' line naming {causes}\n{svc.log_tail()}"
    finally:
        if svc.running:
            svc.stop()
        else:
            svc.kill()
    out = secured.all_output(svc)
    assert "Not-The-Password-42" not in out
    assert secured.read_secret(tls["PASSWORD_FILE"]) not in out
