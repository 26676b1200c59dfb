"""The moderation rules of deploy/rules/default.json (the production rules) end to end, on the
real broker and database: what is published, what is held and with which reasons, what is
rejected, and the history rules (duplicate content, rate limit) that PostgreSQL answers.

Every case gets an author id of its own unless it is about its author. The content cases are
produced together (one fixture, one wait); the history scenarios are sequential.
First comments and the SIGHUP reload need other rules files: test_rules_first_comment.py and
test_rules_reload.py."""

import pytest

import harness

HOLD_CODES = {"contains_link", "contains_email", "contains_phone", "suspect_term", "shouting",
              "repeated_characters", "first_comment", "rate_limited"}


def length_ok(body):
    """Test data: no case may be rejected for its length (these bodies have one code point per
    character, so code points count as graphemes)."""
    assert 50 <= len(body.strip()) <= 500, f"test data: body of {len(body.strip())} code points: {body!r}"


# ---------------------------------------------------------------- content cases, produced together

class Case:
    def __init__(self, name, body, outcome, codes=(), term=None, submitted_at=None, display_name="Rules R"):
        self.name = name
        self.body = body
        self.outcome = outcome          # "published", "held" or "rejected:<code>"
        self.codes = set(codes)         # held: exactly these reason codes
        self.term = term                # held with suspect_term: the term its detail names
        self.submitted_at = submitted_at  # (seconds ago, offset); None: now
        self.display_name = display_name
        self.event = None
        self.produced = None
        self.records = []


CASES = [
    # published: clean text, and words that merely contain a listed term (whole-word matching)
    Case("clean", "A ceasefire in this cold is the least both sides owe the people of Kharkiv and Zaporizhzhia.",
         "published"),
    Case("scunthorpe_banned_phrase", "Upskill yourselves in the history of the region before calling this deal "
         "easy; casino bonuses and quick wins are not how peace works.", "published"),
    Case("scunthorpe_suspect_words", "Calling it idiotic is easy, but the stupidity of war is older than any "
         "propagandist, and Scunthorpe fans know traitorous weather too.", "published"),
    Case("eight_repeats_is_fine", "N" + "o" * 8 + ", not another round of talks without the Ukrainians at the "
         "table, please.", "published"),
    Case("eight_digits_is_not_a_phone", "Resolution 2202 of 2015 and case 1234-5678 at the court both matter here, "
         "but neither is enforced.", "published"),
    Case("acronyms_are_not_shouting", "NATO, the EU, the UN and the USA all say the same thing; the OSCE should "
         "monitor the line, says the UK.", "published"),
    Case("dotted_abbreviations", "The U.S. and e.g. the E.U. could guarantee it, i.e. with monitors on the ground "
         "and a plan B.", "published"),
    # held, with every reason that applies
    Case("link_email_shouting", "PLEASE READ THE FULL STATEMENT AT WWW.EXAMPLE.ORG AND SEND YOUR QUESTIONS TO "
         "PRESS@EXAMPLE.ORG BEFORE FRIDAY", "held", {"contains_link", "contains_email", "shouting"}),
    Case("phone_and_repeats", "Families can call the embassy hotline on +44 20 7946 0958, this is s" + "o" * 9 + " "
         "important, please share.", "held", {"contains_phone", "repeated_characters"}),
    Case("suspect_and_link", "Only idiots believe this, read https://example.com/facts first and then come back "
         "to argue.", "held", {"suspect_term", "contains_link"}, term="idiots"),
    Case("bare_domain", "The full interview is on kyivindependent.com for anyone who wants more context on the "
         "talks.", "held", {"contains_link"}),
    Case("email_and_its_domain", "Readers who disagree can write to letters@example.org and the editors will "
         "answer them.", "held", {"contains_email", "contains_link"}),
    Case("phone_only", "Families of the missing can call the Red Cross line (044) 235-1567-89 for help with "
         "their search.", "held", {"contains_phone"}),
    Case("shouting_only", "THIS IS EXACTLY WHAT EVERYONE HAS BEEN SAYING FOR MONTHS: PEACE TALKS NOW, NOT LATER.",
         "held", {"shouting"}),
    Case("shouting_cyrillic", "ПРЕКРАТИТЕ ОГОНЬ НЕМЕДЛЕННО, ЭТО ВСЁ, ЧТО СЕЙЧАС НУЖНО ЛЮДЯМ В ХАРЬКОВЕ.",
         "held", {"shouting"}),
    Case("repeats_only", "Peace at last?!!!!!!!!!! We have heard that promise before, many times over, haven't we.",
         "held", {"repeated_characters"}),
    Case("suspect_case_folded", "What PROPAGANDA this whole summit is, from the photo ops to the handshake in the "
         "snow.", "held", {"suspect_term"}, term="propaganda"),
    Case("suspect_phrase_across_lines", "Shut\n   UP about the framing, the article is fine and every quote in it "
         "is accurate.", "held", {"suspect_term"}, term="shut up"),
    # rejected: banned terms, case-folded, whole words, phrases across any non-word characters
    Case("banned_title_case", "Anyone who believes Putin wants peace should Kill Yourself, honestly, it is that "
         "obvious.", "rejected:banned_term"),
    Case("banned_spacing", "People who disagree with me can just go   kill\n yourself, I have nothing more to say.",
         "rejected:banned_term"),
    Case("banned_long_s", "Anyone who disagrees, kill yourſelf; the long s is still an s when the text is case "
         "folded.", "rejected:banned_term"),
    Case("banned_hyphenated", "Forget the summit: FREE-CRYPTO-GIVEAWAY for the first hundred readers who reply to "
         "this one.", "rejected:banned_term"),
    Case("banned_beats_hold", "Buy followers cheap at https://example.com/followers, call +44 20 7946 0958 "
         "today!!!!!!!!!!", "rejected:banned_term"),
    # the submission time window: 300 s into the future, 7 days into the past (any offset)
    Case("future_10_min", "Posted from a phone whose clock runs ten minutes fast, which happens more than people "
         "think.", "rejected:submitted_in_future", submitted_at=(-600, "Z")),
    Case("future_10_min_offset", "Posted from a laptop in Delhi whose clock is ten minutes fast, in local time with "
         "its offset.", "rejected:submitted_in_future", submitted_at=(-600, "+05:30")),
    Case("future_2_min", "Posted from a phone whose clock runs two minutes fast, which is within the allowed "
         "skew.", "published", submitted_at=(-120, "-08:00")),
    Case("old_8_days", "Written eight days ago in an offline draft and only sent now, long after the news moved "
         "on.", "rejected:submitted_too_old", submitted_at=(8 * 86400, "-08:00")),
    Case("old_6_days", "Written six days ago in an offline draft and sent now, still within the week that is "
         "allowed.", "published", submitted_at=(6 * 86400, "+05:30")),
]


@pytest.fixture(scope="module")
def sent(service, producer, article_id):
    """Produces every content case (each from its own author), waits for all outcomes."""
    for c in CASES:
        length_ok(c.body)
        at = None
        if c.submitted_at is not None:
            ago, offset = c.submitted_at
            at = harness.submitted_at(ago, offset)
        c.event = harness.comment_event(harness.author_id("reader-rules"), c.display_name, c.body, article_id,
                                        submitted_at=at)
    produced = producer.produce(service.topics.submitted, [c.event for c in CASES])
    for c, p in zip(CASES, produced):
        c.produced = p
        service.expect(c.outcome)
    recs = harness.wait_for(service, [c.event for c in CASES], extra=2.0)
    for c in CASES:
        c.records = recs.get(c.event["comment_id"], [])
    return {c.name: c for c in CASES}


def test_service_runs_the_production_rules(service):
    [start] = [line for line in service.log_lines() if line.get("msg") == "starting"]
    assert start.get("rules") == str(harness.DEFAULT_RULES_FILE), start


@pytest.mark.parametrize("name", [c.name for c in CASES if c.outcome == "published"])
def test_published(service, db, sent, name):
    c = sent[name]
    out = harness.assert_published(service, db, c.event, c.records, c.produced)
    assert out["submitted_at"] == harness.canonical_time(c.event["submitted_at"])


@pytest.mark.parametrize("name", [c.name for c in CASES if c.outcome == "held"])
def test_held_with_every_reason_that_applies(service, db, sent, name):
    c = sent[name]
    assert c.codes <= HOLD_CODES
    harness.assert_held(service, db, c.event, c.records, c.codes, c.term)


@pytest.mark.parametrize("name", [c.name for c in CASES if c.outcome.startswith("rejected:")])
def test_rejected(service, db, sent, name):
    c = sent[name]
    harness.assert_rejected(service, db, c.event, c.records, c.outcome.split(":", 1)[1], c.produced)


# ---------------------------------------------------------------- history: duplicate content

def test_duplicate_content_is_rejected(service, producer, db, article_id):
    """Same author + article + normalized body, another comment_id: rejected duplicate_content.
    Another article, or another author, with the same body: published. The same comment_id again
    is a duplicate (nothing is produced), not duplicate content."""
    author = harness.author_id("reader-copy-c")
    body = "Caf\u00e9 diplomacy in Abu Dhabi will not end this war, but it is a start and worth the effort."
    first = harness.comment_event(author, "Copy C", body, article_id)
    [p1] = producer.produce(service.topics.submitted, [first])
    service.expect("published")
    harness.assert_published(service, db, first, harness.wait_for(service, [first])[first["comment_id"]], p1)

    again = harness.comment_event(author, "Copy C", body, article_id, submitted_at=harness.submitted_at(5, "+05:30"))
    # the same text after normalization: NFD, surrounding white space
    normalized = harness.comment_event(author, "Copy C", "  \n" + body.replace("\u00e9", "e\u0301") + " \t\n",
                                       article_id)
    other_article = harness.comment_event(author, "Copy C", body, article_id + "-other")
    other_author = harness.comment_event(harness.author_id("reader-copy-d"), "Copy D", body, article_id)
    evs = [again, normalized, other_article, other_author]
    produced = producer.produce(service.topics.submitted, evs)
    for o in ["rejected:duplicate_content", "rejected:duplicate_content", "published", "published"]:
        service.expect(o)
    recs = harness.wait_for(service, evs)
    harness.assert_rejected(service, db, again, recs[again["comment_id"]], "duplicate_content", produced[0])
    harness.assert_rejected(service, db, normalized, recs[normalized["comment_id"]], "duplicate_content", produced[1])
    harness.assert_published(service, db, other_article, recs[other_article["comment_id"]], produced[2])
    harness.assert_published(service, db, other_author, recs[other_author["comment_id"]], produced[3])

    before = service.metrics()["comment_ingest_duplicate_total"]
    producer.produce(service.topics.submitted, [first])
    service.expect("duplicate")
    m = service.wait_metrics(lambda m: m["comment_ingest_duplicate_total"] >= before + 1)
    assert m["comment_ingest_duplicate_total"] == before + 1, "the same comment_id again must be a duplicate"
    assert [r.topic for r in harness.wait_for(service, [first])[first["comment_id"]]] == [service.topics.published], \
        "a duplicate comment_id must produce nothing"


def test_duplicate_content_in_one_batch(service, producer, db, article_id):
    """Two comment_ids with the same author, article and body, sent back to back: the first is
    published, the second rejected duplicate_content."""
    author = harness.author_id("reader-twice-t")
    body = "Sent twice from two tabs: the talks in Moscow are a significant move, whatever comes of them."
    a = harness.comment_event(author, "Twice T", body, article_id)
    b = harness.comment_event(author, "Twice T", body, article_id)
    pa, pb = producer.produce(service.topics.submitted, [a, b])
    assert (pa.partition, pa.offset + 1) == (pb.partition, pb.offset)
    service.expect("published")
    service.expect("rejected:duplicate_content")
    recs = harness.wait_for(service, [a, b])
    harness.assert_published(service, db, a, recs[a["comment_id"]], pa)
    harness.assert_rejected(service, db, b, recs[b["comment_id"]], "duplicate_content", pb)


@pytest.mark.parametrize("same_batch", [False, True], ids=["later", "same_batch"])
def test_a_duplicate_comment_id_is_not_decided_by_the_rules(service, producer, db, article_id, same_batch):
    """A comment_id that is stored (or stored by this batch) from other coordinates is a duplicate,
    whatever its copy says: here the copy is edited to a banned term. Nothing is produced for it."""
    ev = harness.comment_event(harness.author_id("reader-edit-e"), "Edit E",
                               "My first version was polite: the talks deserve a chance, whatever the outcome.",
                               article_id)
    edited = dict(ev, body="My second version is not: anyone who believes in these talks should kill yourself.")
    before = service.metrics()["comment_ingest_duplicate_total"]
    if same_batch:
        p1, _ = producer.produce(service.topics.submitted, [ev, edited])
    else:
        [p1] = producer.produce(service.topics.submitted, [ev])
        harness.wait_for(service, [ev])
        producer.produce(service.topics.submitted, [edited])
    service.expect("published")
    service.expect("duplicate")
    m = service.wait_metrics(lambda m: m["comment_ingest_duplicate_total"] >= before + 1)
    assert m["comment_ingest_duplicate_total"] == before + 1, "the second copy must be a duplicate"
    recs = harness.wait_for(service, [ev], extra=1.0)[ev["comment_id"]]
    out = harness.assert_published(service, db, ev, recs, p1)
    assert out["body"] == ev["body"]


# ---------------------------------------------------------------- history: rate limit

def rate_bodies(n, tag):
    return [f"Comment {i + 1} of a long evening ({tag}): the talks, the cold, the prisoners, the map, the "
            f"guarantees." for i in range(n)]


def test_sixth_comment_within_a_minute_is_held(service, producer, db, article_id):
    """rate_limit: max_comments 5, window 60 s. Five comments of one author are published, the
    sixth (sent after they are stored) is held rate_limited; another author is not affected."""
    author = harness.author_id("reader-busy-b")
    five = [harness.comment_event(author, "Busy B", body, article_id) for body in rate_bodies(5, "a")]
    produced = producer.produce(service.topics.submitted, five)
    service.expect("published", 5)
    recs = harness.wait_for(service, five)
    for ev, p in zip(five, produced):
        harness.assert_published(service, db, ev, recs[ev["comment_id"]], p)

    sixth = harness.comment_event(author, "Busy B", rate_bodies(6, "a")[5], article_id)
    bystander = harness.comment_event(harness.author_id("reader-calm-c"), "Calm C", rate_bodies(6, "a")[5],
                                      article_id)
    p6, pb = producer.produce(service.topics.submitted, [sixth, bystander])
    service.expect("held")
    service.expect("published")
    recs = harness.wait_for(service, [sixth, bystander])
    out = harness.assert_held(service, db, sixth, recs[sixth["comment_id"]], {"rate_limited"})
    assert out["source"]["offset"] == p6.offset
    harness.assert_published(service, db, bystander, recs[bystander["comment_id"]], pb)


def test_burst_of_seven_in_one_go(service, producer, db, article_id):
    """Seven comments of one author produced back to back (one batch, most likely): the first five
    are published, the sixth and seventh held rate_limited, in offset order."""
    author = harness.author_id("reader-burst-b")
    seven = [harness.comment_event(author, "Burst B", body, article_id) for body in rate_bodies(7, "b")]
    produced = producer.produce(service.topics.submitted, seven)
    assert len({p.partition for p in produced}) == 1
    service.expect("published", 5)
    service.expect("held", 2)
    recs = harness.wait_for(service, seven)
    for i, (ev, p) in enumerate(zip(seven, produced)):
        if i < 5:
            harness.assert_published(service, db, ev, recs[ev["comment_id"]], p)
        else:
            harness.assert_held(service, db, ev, recs[ev["comment_id"]], {"rate_limited"})


# ---------------------------------------------------------------- the module as a whole

def test_all_outputs_validate_and_metrics_add_up(service, sent, validators, db):
    """Every event of this module validates against schemas/ (the new reason codes included),
    and consumed = published + held + rejected + duplicate, each exactly as sent."""
    recs = harness.check_outputs_and_metrics(service, validators, db)
    # the content cases alone (`sent`) bring these; the history tests add more
    codes = {r.event["reason"]["code"] for r in recs if r.topic == service.topics.rejected}
    assert {"banned_term", "submitted_in_future", "submitted_too_old"} <= codes
    held = {x["code"] for r in recs if r.topic == service.topics.moderation for x in r.event["reasons"]}
    assert HOLD_CODES - {"first_comment", "rate_limited"} <= held
