"""Writes the committed seed corpora of the fuzz targets: tests/fuzz/corpus/{decide,rules,decision}/.

Run from anywhere with the project's venv (test_corpus imports pytest):

    .venv/bin/python tests/fuzz/make_seeds.py

decide/ holds raw comment-submitted message values: the schema examples (valid and invalid),
every case of the contract corpus (tests/contract/corpus.py, its time placeholders filled in
with the fuzz target's fixed clock) and inputs from the unit tests and past fuzz findings.
rules/ holds rules files: deploy/rules/default.json and variants of it (each section alone,
bad versions, unknown keys, odd terms, malformed JSON). decision/ holds moderation-decided message
values: the schema examples and the unit tests' cases (tests/unit/test_decision.c). Both directories are rewritten whole;
a seed over MAX_BYTES is left out. The fuzz targets read them, never write them.
"""

import datetime
import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "contract"))

from corpus import CASES, ev, text  # noqa: E402
from test_corpus import message  # noqa: E402

OUT = REPO / "tests" / "fuzz" / "corpus"
MAX_BYTES = 8 * 1024
# The fuzz targets' fixed clock (NOW in fuzz_decide.c): every seed falls in its time window.
NOW = datetime.datetime(2026, 1, 31, 10, 20, 0, tzinfo=datetime.timezone.utc)


def write(directory: Path, name: str, value: bytes, skipped: list) -> None:
    if len(value) > MAX_BYTES:
        skipped.append(f"{directory.name}/{name} ({len(value)} bytes)")
        return
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name)
    path = directory / safe
    assert not path.exists(), f"two seeds are named {safe}"
    path.write_bytes(value)


def compact(obj) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def decide_seeds():
    """(name, bytes) of comment-submitted message values."""
    examples = REPO / "schemas" / "examples" / "comment-submitted"
    for kind in ("valid", "invalid"):
        for f in sorted((examples / kind).glob("*.json")):
            yield f"example-{kind}-{f.stem}.json", f.read_bytes()
    for case in CASES:
        yield f"corpus-{case.id}", message(case, NOW)

    # From the unit tests (tests/unit/test_comment.c, test_rules.c) and past findings.
    now = NOW.strftime("%Y-%m-%dT%H:%M:%SZ")
    valid = ev(submitted_at=now)
    yield "unit-empty", b""
    yield "unit-deep-nesting", b"[" * 2000 + b"]" * 2000
    yield "unit-deep-nesting-in-event", compact(valid).replace(b"{", b'{"x":' + b"[" * 1000 + b"]" * 1000 + b",", 1)
    yield "unit-escaped-lone-surrogate", compact(valid).replace(b'","submitted_at"', b'\\ud800","submitted_at"', 1)
    yield "unit-combining-mark-flood", compact(ev(submitted_at=now, body=text(50) + "a" + "\u0301" * 1000))
    yield "unit-body-too-long", compact(ev(submitted_at=now, body=text(600)))
    yield "unit-banned-term", compact(ev(submitted_at=now, body=text(50) + " Kill   YOURSELF!"))
    yield "unit-suspect-term", compact(ev(submitted_at=now, body=text(50) + " pure Propaganda, shut up."))
    yield "unit-scunthorpe", compact(ev(submitted_at=now, body=text(50) + " Scunthorpe idiotic liars.com"))
    yield "unit-every-hold", compact(ev(submitted_at=now, body="CALL 555-123-4567 OR VISIT WWW.EXAMPLE.COM OR MAIL "
                                                               "ME@EXAMPLE.FR NOW!!!!!!!!!! YOU IDIOT"))
    yield "unit-offset-time", compact(ev(submitted_at="2026-01-31T15:50:00.123456789+05:30"))
    # Found by fuzz_decide: an invalid escape before a multi-byte character (a poison message).
    yield "regress-invalid-escape-before-utf8", b'{"schema_version":1,"body":"\\\xc3\xa9"}'


def rules_seeds():
    """(name, bytes) of rules files."""
    default = (REPO / "deploy" / "rules" / "default.json").read_bytes()
    yield "default.json", default
    base = json.loads(default)
    for section, value in base.items():
        if section != "version":
            yield f"only-{section}.json", compact({"version": 1, section: value})
    yield "smallest.json", b'{"version": 1}'
    # bad versions
    for name, v in (("0", 0), ("2", 2), ("string", "1"), ("real", 1.0), ("null", None), ("negative", -1)):
        yield f"bad-version-{name}.json", compact({"version": v})
    yield "no-version.json", compact({"links": {"hold": True}})
    # unknown sections and settings, wrong types, bounds
    yield "unknown-section.json", compact({"version": 1, "link": {"hold": True}})
    yield "unknown-setting.json", compact({"version": 1, "links": {"hold": True, "hodl": False}})
    yield "section-not-object.json", compact({"version": 1, "links": True})
    yield "hold-not-bool.json", compact({"version": 1, "emails": {"hold": 1}})
    yield "int-bounds.json", compact({"version": 1, "phones": {"min_digits": 100000000},
                                      "repeated_characters": {"max_run": 0},
                                      "rate_limit": {"max_comments": 0, "window_seconds": 100000000},
                                      "duplicate_content": {"window_seconds": 0},
                                      "submitted_at": {"max_future_seconds": 100000000, "max_age_seconds": 0}})
    yield "int-too-big.json", compact({"version": 1, "repeated_characters": {"max_run": 100000001}})
    yield "int-negative.json", compact({"version": 1, "phones": {"min_digits": -1}})
    yield "int-real.json", compact({"version": 1, "phones": {"min_digits": 9.5}})
    yield "ratio-bounds.json", compact({"version": 1, "shouting": {"uppercase_ratio": 0, "min_letters": 0}})
    yield "ratio-too-big.json", compact({"version": 1, "shouting": {"uppercase_ratio": 1.5}})
    yield "ratio-exponent.json", b'{"version": 1, "shouting": {"uppercase_ratio": 1e-308}}'
    yield "everything-off.json", compact({"version": 1, "links": {"hold": False}, "emails": {"hold": False},
                                          "phones": {"hold": False}, "shouting": {"hold": False},
                                          "repeated_characters": {"hold": False}, "first_comment": {"hold": True}})
    # terms
    yield "terms-empty-lists.json", compact({"version": 1, "banned_terms": [], "suspect_terms": []})
    yield "terms-not-array.json", compact({"version": 1, "banned_terms": "casino"})
    yield "terms-not-strings.json", compact({"version": 1, "suspect_terms": ["idiot", 3]})
    yield "terms-no-words.json", compact({"version": 1, "banned_terms": ["ok", "!!!"]})
    yield "terms-spaces.json", compact({"version": 1, "suspect_terms": ["   "]})
    yield "terms-odd.json", compact({"version": 1, "banned_terms": [
        "Kill   YOURSELF", "\u212aill yourself", "stra\u00dfe", "\u0130stanbul", "caf\u00e9", "cafe\u0301",
        "\u4e2d\u6587 \u8bcd", "\U0001F600 smile", "a-b_c", "x\u200dy", "\u03a3\u039f\u03a3",
        "\u0645\u0631\u062d\u0628\u0627", "\u1100\u1161", "e\u0301\u0323", "ﬁne"], "suspect_terms": [
        "shut up", "shut up", "SHUT UP", "Shut\tup", "one two three four five six seven eight nine ten",
        "a" * 100, "\u00e9" * 40, "i\u0307", "\u01c5", "\u0345x"]})
    yield "terms-many-words.json", compact({"version": 1, "suspect_terms": [" ".join(["w"] * 200)]})
    # not JSON, or not an object
    yield "empty.json", b""
    yield "truncated.json", default[: len(default) // 2]
    yield "trailing.json", b'{"version": 1} trailing'
    yield "duplicate-keys.json", b'{"version": 1, "version": 1}'
    yield "array.json", b"[1, 2]"
    yield "nul-after.json", b'{"version": 1}\x00'
    # Found by fuzz_rules: an invalid escape before a multi-byte character.
    yield "regress-invalid-escape-before-utf8.json", b'{"version": 1, "banned_terms": ["\\\xc3\xa9"]}'
    yield "regress-long-unicode-section.json", compact({"version": 1, "\u00e9" * 200: {}})
    # Found by fuzz_rules: a term whose marks are not in canonical order (U+0345 folds to a letter).
    yield "regress-mark-order-term.json", compact({"version": 1, "suspect_terms": ["\u0345\u0301x", "\u03b1\u0345\u0301"]})


def decision_seeds():
    """(name, bytes) of moderation-decided message values (fuzz_decision's clock: 2026-01-31T11:00:00Z)."""
    examples = REPO / "schemas" / "examples" / "moderation-decided"
    for kind in ("valid", "invalid"):
        for f in sorted((examples / kind).glob("*.json")):
            yield f"example-{kind}-{f.stem}.json", f.read_bytes()
    base = json.loads((examples / "valid" / "approve-held-comment.json").read_bytes())

    def changed(**kw):
        d = dict(base, **kw)
        return compact({k: v for k, v in d.items() if v is not ...})
    yield "unit-reject-offset-time", changed(decision="reject", decided_at="2026-01-31T16:12:30.5+05:30")
    yield "unit-five-minutes-ahead", changed(decided_at="2026-01-31T11:05:00Z")
    yield "unit-too-far-ahead", changed(decided_at="2026-01-31T11:05:01Z")
    yield "unit-note-500", changed(note="n" * 500)
    yield "unit-note-crlf", changed(note="  Checked.\r\nFine.  ")
    yield "unit-note-empty", changed(note=" \t ")
    yield "unit-no-moderator", changed(moderator=...)
    yield "unit-moderator-families", changed(moderator={"id": "\U0001F468\u200d\U0001F469\u200d\U0001F467" * 30})
    yield "unit-truncated", b'{"decision": '
    yield "unit-array", b'["approve"]'


def main() -> int:
    skipped = []
    for name, seeds in (("decide", decide_seeds()), ("rules", rules_seeds()), ("decision", decision_seeds())):
        directory = OUT / name
        directory.mkdir(parents=True, exist_ok=True)
        for old in directory.iterdir():
            old.unlink()
        for seed_name, value in seeds:
            write(directory, seed_name, value, skipped)
        print(f"{directory.relative_to(REPO)}: {len(list(directory.iterdir()))} seeds")
    for s in skipped:
        print(f"left out (over {MAX_BYTES} bytes): {s}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
