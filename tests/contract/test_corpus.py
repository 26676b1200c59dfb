"""The C validator and the comment-submitted schema agree: a table-driven corpus (corpus.py).

Every case's raw message value goes through the service's own code, tests/tools/decide
(comment_decode + rules_triage with the built-in default rules; one base64 line in, one JSON
verdict out), and, when it is JSON, through the schema with format assertion (the validator of
test_schemas.py). Then, per case:

- the C verdict is the one in the table (outcome, rejection reason, hold reasons);
- where the schema can state the rule (c_only is None): schema-valid <=> not rejected;
- everywhere the schema applies: schema-invalid => rejected (the schema is never stricter
  than the service; it may be more lenient where it cannot state a rule, and c_only says why).
"""

import base64
import datetime
import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from corpus import CASES, Case
from test_schemas import validator_for

REPO = Path(__file__).resolve().parents[2]
DECIDE = REPO / "build" / "asan" / "tools" / "decide"
MIN_CASES = 120

# The rejection codes the input schema can express, and the ones it cannot.
SCHEMA_CODES = {
    "not_an_object", "missing_field", "invalid_type", "invalid_uuid", "invalid_field",
    "invalid_submitted_at", "unsupported_schema_version", "invalid_text", "body_too_short",
}
C_ONLY_CODES = {"malformed_json", "body_too_long", "submitted_in_future", "submitted_too_old"}
HOLD_CODES = {"contains_link", "contains_email", "contains_phone", "shouting", "repeated_characters"}

_PLACEHOLDER = re.compile(rb"@NOW(?P<delta>[+-][0-9]+[smhd])?(?:\|(?P<fmt>[^@]+))?@")
_UNITS = {b"s": 1, b"m": 60, b"h": 3600, b"d": 86400}


def _render_time(now, m):
    t = now
    if m.group("delta"):
        d = m.group("delta")
        t += datetime.timedelta(seconds=int(d[:-1]) * _UNITS[d[-1:]])
    fmt = (m.group("fmt") or b"Z").decode()
    if fmt == "Z":
        return t.strftime("%Y-%m-%dT%H:%M:%SZ")
    if fmt == "micro":
        return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if fmt == "nano":
        return t.strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"
    if fmt == "lower":
        return t.strftime("%Y-%m-%dt%H:%M:%Sz")
    if fmt == "leap":
        return t.strftime("%Y-%m-%dT%H:%M:60Z")
    sign, hh, mm = re.fullmatch(r"([+-])([0-9]{2}):([0-9]{2})", fmt).groups()
    offset = datetime.timedelta(hours=int(hh), minutes=int(mm)) * (1 if sign == "+" else -1)
    return t.astimezone(datetime.timezone(offset)).strftime("%Y-%m-%dT%H:%M:%S") + fmt


def message(case: Case, now: datetime.datetime) -> bytes:
    """The raw message value of a case, placeholders filled."""
    if case.raw:
        value = case.payload if isinstance(case.payload, bytes) else case.payload.encode("utf-8")
    else:
        value = json.dumps(case.payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return _PLACEHOLDER.sub(lambda m: _render_time(now, m).encode(), value)


def schema_verdict(value: bytes):
    """True/False when the message is JSON the schema can judge; None when it is not JSON at all."""
    try:
        instance = json.loads(value.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return validator_for("comment-submitted").is_valid(instance)


@pytest.fixture(scope="module")
def verdicts():
    """Runs the whole corpus through the decider once: {case id: (message, C verdict)}."""
    # Up to date after `make contract`; built here when pytest runs alone.
    build = subprocess.run(["make", "--no-print-directory", "-s", str(DECIDE.relative_to(REPO))], cwd=REPO,
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stdout + build.stderr
    now = datetime.datetime.fromtimestamp(int(time.time()), datetime.timezone.utc)
    messages = [message(c, now) for c in CASES]
    stdin = b"".join(base64.b64encode(m) + b"\n" for m in messages)
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0", UBSAN_OPTIONS="print_stacktrace=1")
    run = subprocess.run([str(DECIDE)], input=stdin, capture_output=True, env=env, timeout=120)
    assert run.returncode == 0 and not run.stderr, run.stderr.decode(errors="replace")
    lines = run.stdout.decode("utf-8").splitlines()
    assert len(lines) == len(CASES)
    return {c.id: (m, json.loads(line)) for c, m, line in zip(CASES, messages, lines)}


# ---------------------------------------------------------------- the table itself

def test_corpus_is_big_enough_and_ids_are_unique():
    assert len(CASES) >= MIN_CASES
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))
    both = [c for c in CASES if c.c_only is None]
    assert len(both) >= MIN_CASES // 2, "most cases must be judged by both the schema and C"


def test_corpus_covers_every_outcome_and_code():
    both = [c for c in CASES if c.c_only is None]
    assert {c.reason for c in both if c.outcome == "reject"} == SCHEMA_CODES
    assert {c.reason for c in CASES if c.outcome == "reject"} == SCHEMA_CODES | C_ONLY_CODES
    assert {h for c in CASES for h in c.holds} == HOLD_CODES
    assert any(c.outcome == "publish" for c in CASES)


def test_table_is_consistent():
    for c in CASES:
        assert c.outcome in ("publish", "hold", "reject"), c.id
        assert (c.reason is not None) == (c.outcome == "reject"), c.id
        assert bool(c.holds) == (c.outcome == "hold"), c.id
        assert c.c_only is None or c.c_only.strip(), c.id


def test_decider_reads_base64_lines():
    """The decider's own contract: any bytes in, one verdict per line, bad input is an error."""
    build = subprocess.run(["make", "--no-print-directory", "-s", str(DECIDE.relative_to(REPO))], cwd=REPO,
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stdout + build.stderr
    run = subprocess.run([str(DECIDE)], input=b"\n" + base64.b64encode(b"[1]") + b"\n" + base64.b64encode(b"\xff") + b"\n",
                         capture_output=True)
    assert run.returncode == 0, run.stderr
    got = [json.loads(line) for line in run.stdout.splitlines()]
    assert [(g["outcome"], g["reason"], g["holds"]) for g in got] == [
        ("reject", "malformed_json", []), ("reject", "not_an_object", []), ("reject", "invalid_text", [])]
    bad = subprocess.run([str(DECIDE)], input=b"not base64!\n", capture_output=True)
    assert bad.returncode == 2 and b"base64" in bad.stderr


# ---------------------------------------------------------------- every case

@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case, verdicts):
    value, got = verdicts[case.id]
    want = {"outcome": case.outcome, "reason": case.reason, "holds": list(case.holds)}
    assert {k: got[k] for k in want} == want, f"C decided {got}"
    if case.outcome == "reject":
        assert got["detail"], "a rejection has a detail"

    schema_ok = schema_verdict(value)
    if case.c_only is None:
        assert schema_ok is not None, "a case both judge must be JSON"
        assert schema_ok == (case.outcome != "reject"), (
            f"schema says {'valid' if schema_ok else 'invalid'}, C says {got['outcome']} {got['reason'] or ''}")
    elif schema_ok is False:
        assert case.outcome == "reject", "the schema must never be stricter than the service"
