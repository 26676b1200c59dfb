"""first_comment (off in the production rules): this module's service runs a rules file, written
to a tmp dir, that is deploy/rules/default.json with first_comment.hold = true. An author's first
comment is held first_comment, with any other reason that applies; their next one is published."""

import json

import pytest

import harness


@pytest.fixture(scope="module")
def rules_file(tmp_path_factory):
    rules = json.loads(harness.DEFAULT_RULES_FILE.read_text("utf-8"))
    assert rules["first_comment"] == {"hold": False}, "the production rules changed: revisit this module"
    rules["first_comment"]["hold"] = True
    path = tmp_path_factory.mktemp("rules") / "first-comment.json"
    path.write_text(json.dumps(rules, indent=2), "utf-8")
    return path


BODY = "First time commenting here after years of reading: the humanitarian pause matters, even if short."
AGAIN = "Second comment from me: the talks in Abu Dhabi are where we will see whether any of this is real."


def test_service_runs_the_module_rules(service, rules_file):
    [start] = [line for line in service.log_lines() if line.get("msg") == "starting"]
    assert start.get("rules") == str(rules_file), start


def test_first_comment_is_held_and_the_second_published(service, producer, db, article_id):
    author = harness.author_id("reader-new-n")
    first = harness.comment_event(author, "New N", BODY, article_id)
    [p1] = producer.produce(service.topics.submitted, [first])
    service.expect("held")
    out = harness.assert_held(service, db, first, harness.wait_for(service, [first])[first["comment_id"]], {"first_comment"})
    assert out["source"]["offset"] == p1.offset

    second = harness.comment_event(author, "New N", AGAIN, article_id, submitted_at=harness.submitted_at(1, "+05:30"))
    [p2] = producer.produce(service.topics.submitted, [second])
    service.expect("published")
    harness.assert_published(service, db, second, harness.wait_for(service, [second])[second["comment_id"]], p2)


def test_first_and_second_comment_in_one_batch(service, producer, db, article_id):
    """Both produced back to back: the earlier one (by offset) is the first comment."""
    author = harness.author_id("reader-quick-n")
    first = harness.comment_event(author, "Quick N", BODY, article_id)
    second = harness.comment_event(author, "Quick N", AGAIN, article_id)
    p1, p2 = producer.produce(service.topics.submitted, [first, second])
    assert (p1.partition, p1.offset + 1) == (p2.partition, p2.offset)
    service.expect("held")
    service.expect("published")
    recs = harness.wait_for(service, [first, second])
    harness.assert_held(service, db, first, recs[first["comment_id"]], {"first_comment"})
    harness.assert_published(service, db, second, recs[second["comment_id"]], p2)


def test_first_comment_with_a_link_has_both_reasons(service, producer, db, article_id):
    author = harness.author_id("reader-link-n")
    ev = harness.comment_event(author, "Link N", "New here. The full transcript is at https://example.com/transcript "
                               "if anyone wants to check the quotes.", article_id)
    producer.produce(service.topics.submitted, [ev])
    service.expect("held")
    harness.assert_held(service, db, ev, harness.wait_for(service, [ev])[ev["comment_id"]], {"first_comment", "contains_link"})


def test_a_rejected_first_comment_does_not_count(service, producer, db, article_id):
    """Nothing is stored for a rejected comment, so the author's next comment is still the first."""
    author = harness.author_id("reader-again-n")
    rejected = harness.comment_event(author, "Again N", "My clock is wrong: this comment claims to come from an hour "
                                     "in the future, so it is rejected.", article_id,
                                     submitted_at=harness.submitted_at(-3600))
    producer.produce(service.topics.submitted, [rejected])
    service.expect("rejected:submitted_in_future")
    [rec] = harness.wait_for(service, [rejected])[rejected["comment_id"]]
    assert rec.topic == service.topics.rejected and rec.event["reason"]["code"] == "submitted_in_future"

    first = harness.comment_event(author, "Again N", BODY, article_id)
    producer.produce(service.topics.submitted, [first])
    service.expect("held")
    harness.assert_held(service, db, first, harness.wait_for(service, [first])[first["comment_id"]], {"first_comment"})


def test_all_outputs_validate_and_metrics_add_up(service, validators, db):
    harness.check_outputs_and_metrics(service, validators, db)
