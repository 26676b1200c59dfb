"""The happy paths end to end: the article's five reader comments are stored and published,
a comment with a link is held for moderation, bodies are normalized and counted as a reader
counts them. One service instance on fresh topics for the whole module."""

import datetime
import unicodedata
import uuid
from pathlib import Path

import pytest

import harness

ARTICLE_TXT = harness.REPO.parent / "shared" / "seed" / "article.txt"
FAMILY = "\U0001F468\u200D\U0001F469\u200D\U0001F467"  # one grapheme, five code points
THUMBS = "\U0001F44D\U0001F3FD"                           # one grapheme, two code points


def outputs(service):
    t = service.topics
    return [t.published, t.moderation, t.rejected]


def wait_for(service, events, count=None, timeout=30.0):
    """The output events (any of the three topics) whose comment_id is one of events'."""
    ids = [e["comment_id"] for e in events]
    return harness.consume_all(service.bootstrap, outputs(service), expected_count=count or len(ids),
                               timeout=timeout, match=harness.by_comment_ids(ids))


def assert_stored_event(service, rec, ev, produced, status, db_row):
    """rec (an output record) and db_row describe the input ev stored with the given status."""
    out = rec.event
    kind = "published" if status == "published" else "moderation"
    assert rec.topic == service.topics.output(kind), f"{ev['comment_id']} went to {rec.topic}"
    assert rec.key_text == ev["article_id"]
    assert out["schema_version"] == 1
    assert out["event_type"] == harness.EVENT_TYPE_OF_KIND[kind]
    assert harness.is_uuid_v5(out["event_id"]), out["event_id"]
    assert out["comment_id"] == ev["comment_id"]
    assert out["article_id"] == ev["article_id"]
    assert out["parent_id"] == ev.get("parent_id")
    assert out["author"] == {"id": ev["author"]["id"], "display_name": ev["author"]["display_name"]}
    assert out["status"] == status
    assert out["submitted_at"] == harness.canonical_time(ev["submitted_at"])
    accepted = harness.parse_canonical(out["accepted_at"])
    now = datetime.datetime.now(datetime.timezone.utc)
    assert abs((now - accepted).total_seconds()) < 600, f"accepted_at {out['accepted_at']} is not about now"
    assert out["source"] == {"topic": service.topics.submitted, "partition": produced.partition,
                             "offset": produced.offset}

    assert db_row is not None, f"no row for {ev['comment_id']}"
    assert db_row["status"] == status
    assert db_row["article_id"] == ev["article_id"]
    assert db_row["author_id"] == ev["author"]["id"]
    assert db_row["author_display_name"] == ev["author"]["display_name"]
    assert db_row["parent_id"] == ev.get("parent_id")
    assert db_row["body"] == out["body"]
    assert db_row["reasons"] == out["reasons"]
    assert db_row["submitted_at"] == harness.parse_canonical(out["submitted_at"])
    assert db_row["accepted_at"] == accepted
    assert (db_row["source_topic"], db_row["source_partition"], db_row["source_offset"]) == \
        (service.topics.submitted, produced.partition, produced.offset)


def test_seed_file_matches_the_article(seed):
    """deploy/demo/seed-comments.json holds the article's five comments verbatim."""
    if not ARTICLE_TXT.exists():
        pytest.skip(f"{ARTICLE_TXT} is not in this checkout")
    lines = ARTICLE_TXT.read_text("utf-8").split("\n")
    assert [c["author"]["display_name"] for c in seed["comments"]] == \
        ["Priya S", "Aman W", "Sarah B", "Vikram M", "Karthik V"]
    for c in seed["comments"]:
        i = lines.index(c["author"]["display_name"])
        assert lines[i + 1] == c["body"]


def test_seed_comments_are_published(service, producer, db, seed, article_id):
    events = [harness.seed_event(seed, c, article_id) for c in seed["comments"]]
    assert {e["submitted_at"][-6:] for e in events} >= {"+05:30"} and \
        {e["submitted_at"][-1] for e in events} >= {"Z"}, "the seed keeps its mix of time zone offsets"
    produced = producer.produce(service.topics.submitted, events)
    service.expect("published", len(events))

    recs = wait_for(service, events)
    got = sorted((r.event["author"]["display_name"], r.topic) for r in recs)
    assert len(recs) == len(events), f"want one event per comment, got {got}"
    by_id = {r.event["comment_id"]: r for r in recs}
    rows = db.rows(by_id)
    assert len(rows) == len(events)
    for ev, p in zip(events, produced):
        rec = by_id[ev["comment_id"]]
        assert_stored_event(service, rec, ev, p, "published", rows.get(ev["comment_id"]))
        assert rec.event["body"] == ev["body"], "a clean body is stored verbatim"
        assert rec.event["reasons"] == []
    assert len({r.event["event_id"] for r in recs}) == len(recs)


def test_reply_with_unknown_fields_is_published(service, producer, db, seed, article_id):
    """parent_id is carried through; unknown input fields are tolerated and not echoed."""
    priya, aman = seed["comments"][0], seed["comments"][1]
    parent = harness.comment_event(harness.author_id(priya["author"]["id"]), priya["author"]["display_name"],
                                   "Replying to myself first: the ceasefire window is only one week long, which is very short.",
                                   article_id, submitted_at=harness.submitted_at(600))
    five_min_ago = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) - datetime.timedelta(minutes=5)
    reply_at = harness.format_time(five_min_ago, "-08:00", fraction=".123456")    # e.g. ...T19:55:00.123456-08:00
    reply = harness.comment_event(harness.author_id(aman["author"]["id"]), aman["author"]["display_name"],
                                  "A week is short, yes, but a week without strikes on Kyiv in this cold matters a lot.",
                                  article_id, submitted_at=reply_at,
                                  parent_id=parent["comment_id"],
                                  client={"app": "web", "version": "3.2.1"}, x_trace_id="abc-123")
    produced = producer.produce(service.topics.submitted, [parent, reply])
    service.expect("published", 2)
    recs = wait_for(service, [parent, reply])
    assert len(recs) == 2
    by_id = {r.event["comment_id"]: r for r in recs}
    rows = db.rows(by_id)
    for ev, p in zip([parent, reply], produced):
        assert_stored_event(service, by_id[ev["comment_id"]], ev, p, "published", rows.get(ev["comment_id"]))
    out = by_id[reply["comment_id"]].event
    assert out["parent_id"] == parent["comment_id"]
    assert out["submitted_at"] == five_min_ago.strftime("%Y-%m-%dT%H:%M:%S") + ".123456Z", reply_at
    assert "client" not in out and "x_trace_id" not in out


def test_bodies_are_normalized_and_counted_as_a_reader_counts(service, producer, db, article_id):
    """NFC, trimmed; 50 and 500 characters (grapheme clusters) are both accepted.
    (No character repeats more than 8 times in a row, which the rules would hold.)"""
    decomposed = ("  \n\tRe\u0301sume\u0301 of the de\u0301tente talks: caf\u00e9 diplomacy in the cold, "
                  "but no real progress yet.\n\n  ")
    fifty_emoji = "Agreed " + (FAMILY + THUMBS) * 21 + FAMILY    # 7 + 43 = 50 graphemes, 159 code points
    five_hundred = "e\u0301a\u0301" * 250                        # 1000 code points, 500 graphemes
    cases = [decomposed, fifty_emoji, five_hundred]
    events = [harness.comment_event(harness.author_id("reader-norm"), "Norm N", body, article_id) for body in cases]
    produced = producer.produce(service.topics.submitted, events)
    service.expect("published", len(events))
    recs = wait_for(service, events)
    assert sorted(r.topic for r in recs) == [service.topics.published] * len(events), \
        [(r.topic, (r.event.get("reason") or {}).get("code")) for r in recs]
    by_id = {r.event["comment_id"]: r for r in recs}
    rows = db.rows(by_id)
    for ev, p in zip(events, produced):
        rec = by_id[ev["comment_id"]]
        assert_stored_event(service, rec, ev, p, "published", rows.get(ev["comment_id"]))
        assert rec.event["body"] == unicodedata.normalize("NFC", ev["body"]).strip(" \t\n")
    assert by_id[events[2]["comment_id"]].event["body"] == "\u00e9\u00e1" * 250


@pytest.mark.parametrize("body", [
    "Full transcript of the Cabinet meeting remarks is here: https://example.com/transcript - worth reading.",
    "The TASS interview with Peskov is on WWW.Example.org/peskov if anyone wants the original wording.",
    "Background reading, with maps of the front line: http://example.com/maps?region=zaporizhzhia&day=30",
], ids=["https", "www", "http"])
def test_comment_with_a_link_is_held(service, producer, db, article_id, body):
    ev = harness.comment_event(harness.author_id("reader-link-l"), "Link L", body, article_id)
    [p] = producer.produce(service.topics.submitted, [ev])
    service.expect("held")
    recs = wait_for(service, [ev])
    assert [r.topic for r in recs] == [service.topics.moderation], \
        [(r.topic, r.event.get("event_type")) for r in recs]
    rec = recs[0]
    rows = db.rows([ev["comment_id"]])
    assert_stored_event(service, rec, ev, p, "pending", rows.get(ev["comment_id"]))
    reasons = rec.event["reasons"]
    assert len(reasons) >= 1
    assert "contains_link" in [r["code"] for r in reasons], reasons
    assert all(isinstance(r.get("detail"), str) and r["detail"] for r in reasons)
    assert rec.event["body"] == body


def test_all_outputs_validate_and_metrics_add_up(service, validators, db):
    """Every event of this module: schema-valid, UUIDv5 ids unique; metrics match what was sent."""
    harness.check_outputs_and_metrics(service, validators, db)
