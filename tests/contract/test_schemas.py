"""Contract tests for the event schemas in schemas/.

Every schema must be a valid JSON Schema (draft 2020-12), carry $id/title and a
description on every property, and agree with its examples: each file under
schemas/examples/<event>/valid/ validates, each under .../invalid/ does not.

Validation enforces `format` (uuid, date-time) through a FormatChecker, and
evaluates `pattern` with ECMA-262 semantics for `$` (end of input only), as JSON
Schema specifies: Python's `re` would also let `$` match before a trailing
newline, which would let e.g. an article_id of "abc\\n" through.
"""

import datetime
import json
import re
import sys
import unicodedata
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator, FormatChecker

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from schema_validator import ContractValidator, ecma_pattern  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "schemas"
EXAMPLES = SCHEMAS / "examples"
DRAFT = "https://json-schema.org/draft/2020-12/schema"

EVENTS = ["comment-submitted", "comment-published", "moderation-needed", "comment-rejected",
          "moderation-decided", "comment-moderated", "moderation-decision-rejected"]
INPUT_EVENT = "comment-submitted"
INPUT_EVENTS = (INPUT_EVENT, "moderation-decided")
# The output properties that may be absent, each with why: comment-published carries `moderation`
# only when a moderator's approval published the comment (added to v1 compatibly: every event
# valid before is valid still).
OPTIONAL_OUTPUT_PROPERTIES = {"comment-published": {"moderation"}}
# minimum number of (valid, invalid) examples per event
MIN_EXAMPLES = {INPUT_EVENT: (4, 6), "moderation-decided": (4, 6)}
MIN_EXAMPLES_OUTPUT = (2, 3)


def schema_path(event):
    return SCHEMAS / f"{event}.v1.schema.json"


def load_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


# ---------------------------------------------------------------- validator

_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?"
    r"([Zz]|[+-]([0-9]{2}):([0-9]{2}))"
)


def _date_time(value):
    """RFC 3339 date-time; used when jsonschema's own checker (rfc3339-validator) is absent."""
    if not isinstance(value, str):
        return True
    m = _RFC3339.fullmatch(value)
    if not m:
        return False
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    if m.group(9) is not None and (int(m.group(9)) > 23 or int(m.group(10)) > 59):
        return False
    if second > 60:
        return False
    try:
        datetime.datetime(year, month, day, hour, minute, min(second, 59))
    except ValueError:
        return False
    return True


def make_format_checker():
    checker = FormatChecker()
    if "date-time" not in checker.checkers:
        checker.checks("date-time")(_date_time)
    assert "uuid" in checker.checkers, "jsonschema lost its built-in uuid format checker"
    return checker


FORMAT_CHECKER = make_format_checker()


def validator_for(event):
    return ContractValidator(load_json(schema_path(event)), format_checker=FORMAT_CHECKER)


# ---------------------------------------------------------------- examples

def example_files(kind):
    params = []
    for event in EVENTS:
        for path in sorted((EXAMPLES / event / kind).glob("*.json")):
            params.append(pytest.param(event, path, id=f"{event}/{kind}/{path.name}"))
    return params


# ---------------------------------------------------------------- the schemas themselves

@pytest.mark.parametrize("event", EVENTS)
def test_schema_is_valid_draft_2020_12(event):
    schema = load_json(schema_path(event))
    assert schema.get("$schema") == DRAFT
    Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("event", EVENTS)
def test_schema_has_id_title_description(event):
    schema = load_json(schema_path(event))
    assert schema["$id"].endswith("/" + schema_path(event).name)
    assert schema.get("title")
    assert schema.get("description")


def _properties(schema, where="#"):
    """Yield (json-pointer, subschema) for every entry of every `properties` object."""
    if isinstance(schema, dict):
        for name, sub in schema.get("properties", {}).items():
            yield f"{where}/properties/{name}", sub
        for key, value in schema.items():
            if key == "properties":
                for name, sub in value.items():
                    yield from _properties(sub, f"{where}/properties/{name}")
            elif isinstance(value, (dict, list)):
                yield from _properties(value, f"{where}/{key}")
    elif isinstance(schema, list):
        for i, item in enumerate(schema):
            yield from _properties(item, f"{where}/{i}")


@pytest.mark.parametrize("event", EVENTS)
def test_every_property_has_description(event):
    schema = load_json(schema_path(event))
    missing = [ptr for ptr, sub in _properties(schema) if not (isinstance(sub, dict) and sub.get("description"))]
    assert not missing, f"properties without description: {missing}"


def test_no_stray_schema_files():
    found = sorted(p.name for p in SCHEMAS.glob("*.schema.json"))
    assert found == sorted(schema_path(e).name for e in EVENTS)
    assert sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir()) == sorted(EVENTS)


def test_input_tolerates_unknown_fields_outputs_do_not():
    for event in INPUT_EVENTS:
        assert load_json(schema_path(event)).get("additionalProperties", True) is True, event
    for event in EVENTS:
        if event not in INPUT_EVENTS:
            assert load_json(schema_path(event))["additionalProperties"] is False, event


def test_output_schemas_require_every_property():
    for event in EVENTS:
        if event in INPUT_EVENTS:
            continue
        schema = load_json(schema_path(event))
        optional = OPTIONAL_OUTPUT_PROPERTIES.get(event, set())
        assert optional <= set(schema["properties"]), event
        assert sorted(schema["required"]) == sorted(set(schema["properties"]) - optional), event


def test_published_and_moderation_needed_share_their_fields():
    pub = load_json(schema_path("comment-published"))["properties"]
    mod = load_json(schema_path("moderation-needed"))["properties"]
    assert list(pub) == list(mod) + ["moderation"]
    differ = {k for k in mod if pub[k] != mod[k]}
    assert differ == {"event_type", "status", "reasons"}
    assert pub["reasons"]["maxItems"] == 0 and mod["reasons"]["minItems"] >= 1
    assert pub["status"]["const"] == "published" and mod["status"]["const"] == "pending"


def test_decision_outputs_use_the_input_rules():
    inp = load_json(schema_path("moderation-decided"))["properties"]
    sub = load_json(schema_path(INPUT_EVENT))["properties"]
    assert inp["article_id"]["pattern"] == sub["article_id"]["pattern"]
    assert inp["moderator"]["properties"]["id"]["pattern"] == sub["author"]["properties"]["id"]["pattern"]
    lower = inp["decision_id"]["pattern"].replace("a-fA-F", "a-f")
    moderated = load_json(schema_path("comment-moderated"))["properties"]
    rejected = load_json(schema_path("moderation-decision-rejected"))["properties"]
    approval = load_json(schema_path("comment-published"))["properties"]["moderation"]["properties"]
    for ids in (moderated, rejected, approval):
        assert ids["decision_id"]["pattern"] == lower
    assert moderated["article_id"]["pattern"] == rejected["article_id"]["pattern"] == inp["article_id"]["pattern"]
    # the moderator and the note never leave the service
    for schema in (moderated, rejected, approval):
        assert not {"moderator", "note"} & set(schema)


def test_output_ids_use_the_input_rules():
    inp = load_json(schema_path(INPUT_EVENT))["properties"]
    for event in ("comment-published", "moderation-needed"):
        out = load_json(schema_path(event))["properties"]
        assert out["article_id"]["pattern"] == inp["article_id"]["pattern"]
        # outputs carry the canonical (lower-case) form of the ids the input accepts in either case
        assert out["comment_id"]["pattern"] == inp["comment_id"]["pattern"].replace("a-fA-F", "a-f")
        assert out["parent_id"]["pattern"] == out["comment_id"]["pattern"]
        for field in ("id", "display_name"):
            assert out["author"]["properties"][field]["pattern"] == inp["author"]["properties"][field]["pattern"]


@pytest.mark.parametrize("event", EVENTS)
def test_enough_examples(event):
    want_valid, want_invalid = MIN_EXAMPLES.get(event, MIN_EXAMPLES_OUTPUT)
    assert len(list((EXAMPLES / event / "valid").glob("*.json"))) >= want_valid
    assert len(list((EXAMPLES / event / "invalid").glob("*.json"))) >= want_invalid


# ---------------------------------------------------------------- the validator is strict enough

@pytest.mark.parametrize(
    "fmt,value",
    [("date-time", "2026-02-30T10:00:00Z"), ("date-time", "2026-01-31T10:00:00"), ("uuid", "a3f1c2d45b6e4f708a91b2c3d4e5f601x")],
)
def test_format_assertion_is_on(fmt, value):
    assert not ContractValidator({"format": fmt}, format_checker=FORMAT_CHECKER).is_valid(value)


def test_pattern_dollar_is_end_of_input():
    v = ContractValidator({"type": "string", "pattern": "^[a-z]+$"})
    assert v.is_valid("abc")
    assert not v.is_valid("abc\n")
    assert ecma_pattern(r"^a[$]\$$") == r"^a[$]\$\Z"


# ---------------------------------------------------------------- examples against schemas

@pytest.mark.parametrize("event,path", example_files("valid"))
def test_valid_example(event, path):
    errors = sorted(validator_for(event).iter_errors(load_json(path)), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


@pytest.mark.parametrize("event,path", example_files("invalid"))
def test_invalid_example(event, path):
    assert not validator_for(event).is_valid(load_json(path)), f"{path.name} should be invalid"


# ---------------------------------------------------------------- the grapheme rule the schema cannot state

def simple_grapheme_count(text):
    """Grapheme count of text made only of characters that never join a cluster
    (other than CR LF). Fails on anything that could extend a cluster, so the
    count is exact for the texts it accepts."""
    count, prev = 0, ""
    for ch in text:
        cp = ord(ch)
        assert unicodedata.category(ch) not in ("Mn", "Mc", "Me", "Cf"), f"U+{cp:04X} extends a cluster"
        assert not (0x1F3FB <= cp <= 0x1F3FF or 0x1F1E6 <= cp <= 0x1F1FF or 0x1100 <= cp <= 0x11FF or 0xAC00 <= cp <= 0xD7A3)
        if not (prev == "\r" and ch == "\n"):
            count += 1
        prev = ch
    return count


@pytest.mark.parametrize("path", sorted((EXAMPLES / INPUT_EVENT / "valid").glob("*.json")), ids=lambda p: p.name)
def test_valid_input_bodies_meet_the_grapheme_rule(path):
    body = load_json(path)["body"]
    normalized = unicodedata.normalize("NFC", body).strip()
    assert 50 <= simple_grapheme_count(normalized) <= 500


@pytest.mark.parametrize(
    "event", ["comment-published", "moderation-needed"]
)
def test_output_bodies_are_normalized(event):
    for path in sorted((EXAMPLES / event / "valid").glob("*.json")):
        body = load_json(path)["body"]
        assert body == unicodedata.normalize("NFC", body).strip(), path.name
        assert 50 <= simple_grapheme_count(body) <= 500, path.name
