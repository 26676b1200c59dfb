"""SIGHUP reloads RULES_FILE. This module's service runs a copy of deploy/rules/default.json in a
tmp dir; the tests rewrite it and send SIGHUP: a new banned term applies to the next comment
(Unicode case-folded: "Großbonus" matches "GROSSBONUS"), a removed suspect term no longer holds,
a bad file is logged as an error and the rules in force stay, and a good file is taken again."""

import json
import signal

import pytest

import harness

TERM = "Großbonus"


def production_rules():
    return json.loads(harness.DEFAULT_RULES_FILE.read_text("utf-8"))


@pytest.fixture(scope="module")
def rules_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("rules") / "rules.json"
    path.write_text(json.dumps(production_rules(), indent=2), "utf-8")
    return path


def body_with(word):
    return f"The bookmakers now advertise a {word} on the outcome of the peace talks, which is a new low."


def comment(article_id, body, name="Reload R"):
    return harness.comment_event(harness.author_id("reader-reload"), name, body, article_id)


def send_one(service, producer, ev, outcome):
    [p] = producer.produce(service.topics.submitted, [ev])
    service.expect(outcome)
    return p, harness.wait_for(service, [ev])[ev["comment_id"]]


def reload(service, path, text):
    """Writes `text` to the rules file, sends SIGHUP; returns the log line count before it."""
    path.write_text(text, "utf-8")
    after = len(service.log_lines())
    service.send_signal(signal.SIGHUP)
    return after


def is_reloaded(line):
    return line.get("msg") == "rules reloaded"


def is_reload_error(line):
    return line.get("level") == "error" and "rules not reloaded" in str(line.get("msg"))


@pytest.fixture(scope="module")
def state():
    return {}


def test_before_the_reload_the_term_is_allowed(service, producer, db, article_id, rules_file, state):
    [start] = [line for line in service.log_lines() if line.get("msg") == "starting"]
    assert start.get("rules") == str(rules_file), start
    ev = comment(article_id, body_with(TERM))
    p, recs = send_one(service, producer, ev, "published")
    harness.assert_published(service, db, ev, recs, p)
    state["published"] = ev
    ev = comment(article_id, "Calling every report from the front propaganda is lazy, even when some of it "
                 "really is.")
    _, recs = send_one(service, producer, ev, "held")
    harness.assert_held(service, db, ev, recs, {"suspect_term"}, term="propaganda")


def test_sighup_reloads_the_rules(service, producer, db, article_id, rules_file):
    rules = production_rules()
    rules["banned_terms"].append(TERM)
    rules["suspect_terms"].remove("propaganda")
    after = reload(service, rules_file, json.dumps(rules, ensure_ascii=False, indent=2))
    line = service.wait_log(is_reloaded, after)
    assert line is not None, f"no 'rules reloaded' log line after SIGHUP\n{service.log_tail(20)}"
    assert line.get("level") == "info" and line.get("file") == str(rules_file), line

    for word in (TERM, "GROSSBONUS"):
        ev = comment(article_id, body_with(word))
        p, recs = send_one(service, producer, ev, "rejected:banned_term")
        harness.assert_rejected(service, db, ev, recs, "banned_term", p)
    ev = comment(article_id, "Calling every report from the front propaganda is lazy, even when some of it "
                 "really is.")
    p, recs = send_one(service, producer, ev, "published")
    harness.assert_published(service, db, ev, recs, p)
    assert service.running and service.get("/readyz")[0] == 200


def test_a_stored_comment_is_not_decided_again(service, producer, db, state):
    """The comment with the term, published before the reload, sent again with its comment_id:
    a duplicate (nothing produced), not a banned_term rejection."""
    first = state["published"]
    before = service.metrics()
    producer.produce(service.topics.submitted, [first])
    service.expect("duplicate")
    m = service.wait_metrics(lambda m: m["comment_ingest_consumed_total"] >= before["comment_ingest_consumed_total"] + 1)
    assert m["comment_ingest_duplicate_total"] == before["comment_ingest_duplicate_total"] + 1
    assert harness.metric_sum(m, "comment_ingest_rejected_total") == \
        harness.metric_sum(before, "comment_ingest_rejected_total")


INVALID = {
    "truncated_json": lambda: json.dumps(production_rules())[:-20],
    "unknown_section": lambda: json.dumps(dict(production_rules(), banned_term=["typo"])),
    "unknown_setting": lambda: json.dumps(dict(production_rules(), links={"hold": True, "hodl": False})),
    "wrong_type": lambda: json.dumps(dict(production_rules(), rate_limit={"max_comments": "five",
                                                                          "window_seconds": 60})),
    "term_without_letters": lambda: json.dumps(dict(production_rules(), banned_terms=["--"])),
    "not_an_object": lambda: "[]",
    "version_2": lambda: json.dumps(dict(production_rules(), version=2)),
}


@pytest.mark.parametrize("name", list(INVALID))
def test_a_bad_rules_file_keeps_the_previous_rules(service, producer, db, article_id, rules_file, name):
    after = reload(service, rules_file, INVALID[name]())
    line = service.wait_log(is_reload_error, after)
    assert line is not None, f"{name}: no error log line after SIGHUP\n{service.log_tail(20)}"
    assert str(rules_file) in str(line.get("error")), line
    assert service.wait_log(is_reloaded, after, timeout=0) is None, f"{name}: a bad file was reloaded"
    assert service.running, f"{name}: the service stopped\n{service.log_tail(20)}"

    # the reloaded rules (term banned, "propaganda" no longer suspect) are still in force
    banned = comment(article_id, body_with(TERM.upper()))
    was_suspect = comment(article_id, f"Some call it propaganda, I call it reporting ({name}); read it before "
                          f"you judge it.")
    produced = producer.produce(service.topics.submitted, [banned, was_suspect])
    service.expect("rejected:banned_term")
    service.expect("published")
    recs = harness.wait_for(service, [banned, was_suspect])
    harness.assert_rejected(service, db, banned, recs[banned["comment_id"]], "banned_term", produced[0])
    harness.assert_published(service, db, was_suspect, recs[was_suspect["comment_id"]], produced[1])


def test_a_missing_rules_file_keeps_the_previous_rules(service, producer, db, article_id, rules_file):
    rules_file.unlink()
    after = len(service.log_lines())
    service.send_signal(signal.SIGHUP)
    line = service.wait_log(is_reload_error, after)
    assert line is not None, f"no error log line after SIGHUP\n{service.log_tail(20)}"
    ev = comment(article_id, body_with(TERM))
    p, recs = send_one(service, producer, ev, "rejected:banned_term")
    harness.assert_rejected(service, db, ev, recs, "banned_term", p)


def test_a_good_file_after_bad_ones_is_taken(service, producer, db, article_id, rules_file):
    after = reload(service, rules_file, json.dumps(production_rules()))
    assert service.wait_log(is_reloaded, after) is not None, service.log_tail(20)
    ev = comment(article_id, body_with(TERM))
    p, recs = send_one(service, producer, ev, "published")
    harness.assert_published(service, db, ev, recs, p)


def test_all_outputs_validate_and_metrics_add_up(service, validators, db):
    harness.check_outputs_and_metrics(service, validators, db)
