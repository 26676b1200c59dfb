"""A database that cannot store every comment is a dependency fault, not bad input. In a LATIN1
database PostgreSQL would refuse some comments for their characters alone, and row isolation would
then reject them for the database's state. So the service does not start on one: it stays not
ready, /readyz and the log name the encoding, and it decides nothing."""

import json
import time

import pytest

import harness

# "This is a comment that explains some ideas and is long enough: over fifty characters, a normal
# comment. No problem." in Chinese: LATIN1 has none of these characters.
CHINESE = ("\u8fd9\u662f\u4e00\u6761\u8bc4\u8bba\uff0c\u8bf4\u660e\u4e86\u4e00\u4e9b\u60f3\u6cd5\uff0c\u4e5f\u8db3"
           "\u591f\u957f\u4e86\uff1a\u5b83\u6709\u4e94\u5341\u591a\u4e2a\u5b57\u7b26\uff0c\u662f\u4e00\u4e2a\u6b63"
           "\u5e38\u7684\u8bc4\u8bba\u3002\u6ca1\u6709\u95ee\u9898\u3002\u8c22\u8c22\u5927\u5bb6\u7684\u9605\u8bfb"
           "\u548c\u8ba8\u8bba\u3002")


@pytest.fixture(scope="module")
def latin1_url(database_url, topics):
    with harness.scratch_database(database_url, f"ci_latin1_{topics.suffix}",
                                  "ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C'") as url:
        yield url


def test_not_ready_on_a_latin1_database(topics, latin1_url, producer, article_id):
    assert len(CHINESE) >= 50
    svc = harness.Service("test_database_encoding", topics, db_url=latin1_url).spawn()
    ev = harness.comment_event(harness.author_id("reader-zh"), "Li W", CHINESE, article_id)
    producer.produce(topics.submitted, [ev])
    deadline = time.monotonic() + 20
    status, body = None, None
    while time.monotonic() < deadline:
        try:
            status, _, text = harness.http_get(svc.port, "/readyz", timeout=2)
            body = json.loads(text)
            if "encoding" in body["postgres"]["detail"]:
                break
        except OSError:
            pass
        time.sleep(0.3)
    assert status == 503, body
    assert body["postgres"]["ok"] is False, body
    assert "the database encoding is LATIN1; comment-ingest needs UTF8" in body["postgres"]["detail"], body
    time.sleep(2)
    assert harness.http_get(svc.port, "/readyz")[0] == 503
    recs = harness.consume_all(svc.bootstrap, [topics.published, topics.moderation, topics.rejected],
                               expected_count=0, extra=1.0, timeout=10)
    assert recs == [], "nothing is decided while the database cannot store every comment"
    errors = [ln for ln in svc.log_lines() if ln.get("msg") == "postgres setup failed"]
    assert errors and "encoding is LATIN1" in errors[0]["error"], errors
    svc.stop()
