"""The migrations in sql/: a new database gets all of them, and a start runs only those that
schema_migrations does not record yet.

Re-running a recorded migration is not free even though each one is idempotent: its
`ALTER TABLE comments ... IF NOT EXISTS` asks for an ACCESS EXCLUSIVE lock on comments before
it finds there is nothing to do. A start then waited behind any open transaction on comments
(a long read of the site's included), and everything that came after queued behind it; or a
second for autovacuum to be cancelled. Each test has a database of its own."""

import json
import time
from pathlib import Path

import psycopg
import pytest

import harness

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"
MIGRATIONS = sorted(p.name for p in SQL_DIR.glob("*.sql"))


@pytest.fixture
def fresh_url(database_url, topics, request):
    """A new, empty UTF8 database owned by the service's user; dropped after the test."""
    with harness.scratch_database(database_url, f"ci_mig_{request.node.name[5:25]}_{topics.suffix}".lower()) as url:
        yield url


def postgres_ready(svc, timeout: float) -> tuple[bool, dict]:
    """Polls /readyz until PostgreSQL is ready there (the store's setup is done), or the timeout."""
    deadline = time.monotonic() + timeout
    body: dict = {}
    while time.monotonic() < deadline:
        try:
            _, _, text = harness.http_get(svc.port, "/readyz", timeout=2)
            body = json.loads(text)
            if body["postgres"]["ok"]:
                return True, body
        except (OSError, ValueError):
            pass
        time.sleep(0.2)
    return False, body


def recorded(url: str) -> list[str]:
    with psycopg.connect(url, autocommit=True) as c:
        return sorted(r[0] for r in c.execute("SELECT name FROM schema_migrations"))


def start_until_postgres_ready(url: str, topics, name: str) -> None:
    """Starts a service on url, waits until PostgreSQL is ready on its /readyz (its setup is done), stops it."""
    svc = harness.Service(name, topics, db_url=url).spawn()
    try:
        ok, body = postgres_ready(svc, 30)
        assert ok, body
    finally:
        svc.stop()


def test_a_new_database_gets_every_migration(fresh_url, topics):
    start_until_postgres_ready(fresh_url, topics, "test_migrations_first")
    assert recorded(fresh_url) == MIGRATIONS
    with psycopg.connect(fresh_url, autocommit=True) as c:
        cols = {r[0] for r in c.execute("SELECT column_name FROM information_schema.columns "
                                        "WHERE table_name = 'comments'")}
        assert {"body_md5", "accepted_status", "status_decided_at"} <= cols, cols
        assert c.execute("SELECT to_regclass('comments_author_accepted_idx') IS NOT NULL").fetchone()[0]
        assert c.execute("SELECT to_regclass('moderation_decisions') IS NOT NULL").fetchone()[0]


def test_a_start_on_a_migrated_database_waits_for_no_lock(fresh_url, topics):
    start_until_postgres_ready(fresh_url, topics, "test_migrations_first")
    # A reader holds a transaction open on comments, as a slow query of the site would.
    reader = psycopg.connect(fresh_url)
    try:
        reader.execute("SELECT count(*) FROM comments")
        svc = harness.Service("test_migrations_lock", topics, db_url=fresh_url).spawn()
        try:
            ok, body = postgres_ready(svc, 15)
            assert ok, f"the start waited for the reader's transaction: {body}"
            with psycopg.connect(fresh_url, autocommit=True) as c:
                waiting = c.execute("SELECT count(*) FROM pg_locks l JOIN pg_class r ON r.oid = l.relation "
                                    "WHERE r.relname = 'comments' AND NOT l.granted").fetchone()[0]
            assert waiting == 0
        finally:
            svc.stop()
    finally:
        reader.rollback()
        reader.close()


def test_a_migration_not_recorded_runs_at_the_next_start(fresh_url, topics):
    start_until_postgres_ready(fresh_url, topics, "test_migrations_first")
    with psycopg.connect(fresh_url, autocommit=True) as c:
        c.execute("DROP INDEX comments_author_accepted_idx")
        c.execute("DELETE FROM schema_migrations WHERE name = '002_author_history.sql'")
    start_until_postgres_ready(fresh_url, topics, "test_migrations_missing")
    assert recorded(fresh_url) == MIGRATIONS
    with psycopg.connect(fresh_url, autocommit=True) as c:
        assert c.execute("SELECT to_regclass('comments_author_accepted_idx') IS NOT NULL").fetchone()[0]
