"""The comment-submitted corpus: one row per raw message value, with the service's expected verdict.

Each Case holds
  - payload: a dict (serialized as compact UTF-8 JSON), a str (raw JSON text, encoded as UTF-8)
    or bytes (the message value as is: invalid UTF-8, an empty message...);
  - the C verdict it must get from tests/tools/decide (comment_decode + rules_triage with the
    built-in default rules, now = the current time): outcome "publish" | "hold" | "reject",
    the rejection reason code, and the hold codes (in reason-table order);
  - c_only: None when the JSON Schema can state the rule that decides the case, so schema-valid
    must mean "not rejected"; otherwise the reason why the schema cannot, and the case is
    checked against C alone (the schema is then only required not to be stricter than C).

Placeholders in the payload are filled in just before the run, so that submitted_at falls
inside the service's window (max 300 s in the future, max 7 days old):
  @NOW@             the current time, 2026-01-31T10:15:00Z form
  @NOW-8d@          shifted by [+-]N s|m|h|d
  @NOW|fmt@         formatted: micro (.ffffff), nano (9 fraction digits), lower (t and z),
                    leap (second 60 of the current minute), or an offset such as +05:30
"""

import json
from dataclasses import dataclass, field
from typing import Optional, Union

CID = "6f1c9e52-3b7d-4a0e-9c25-8144d60ba73f"
PID = "0b8e5c8a-2f7d-4c1e-9a3b-5d6e7f8091a2"
NOW = "@NOW@"
DROP = object()  # remove the key

# ------------------------------------------------------------------ bodies of an exact length

_SENTENCE = (
    "Readers care about local news and want the council to explain the budget, "
    "the new bus routes and why the library closes early on weekdays. "
)


def text(n):
    """n ASCII graphemes of lower-case prose: no links, digits, shouting or long runs; no space at the edges."""
    s = (_SENTENCE * (n // len(_SENTENCE) + 1))[:n]
    if s.endswith(" "):
        s = s[:-1] + "x"
    return s


def cjk(n):
    """n CJK ideographs (one code point, one grapheme each), never the same twice in a row."""
    base = "読者は地方の記事を大切にしていて議会が予算と新しい路線について説明することを望む"
    return "".join(base[i % len(base)] for i in range(n))


def marked(n):
    """n graphemes of two code points: a letter and U+0332 COMBINING LOW LINE (no precomposed form)."""
    return "".join("abcdefgh"[i % 8] + "\u0332" for i in range(n))


def nfd_accented(n):
    """n graphemes written decomposed (vowel + U+0301); NFC composes each to one code point."""
    return "".join("aeiou"[i % 5] + "\u0301" for i in range(n))


FAMILY = "\U0001F468\u200D\U0001F469\u200D\U0001F467\u200D\U0001F466"  # 7 code points, 1 grapheme
THUMBS = "\U0001F44D\U0001F3FD"  # thumbs up, medium skin tone: 2 code points, 1 grapheme
FLAG = "\U0001F1EB\U0001F1F7"  # FR: 2 regional indicators, 1 grapheme

BODY = text(80)


def marks(n):
    """n different combining marks above (U+0300...), all of combining class 230: no two alike in a row."""
    return "".join(chr(0x300 + i % 16) for i in range(n))


SPLICE = "@@SPLICE@@"


def splice(event, insert):
    """The event as UTF-8 JSON text with the string value SPLICE replaced, quotes included, by insert
    (bytes, or str encoded as UTF-8): a way to put what json.dumps cannot write into a message."""
    text_ = json.dumps(event, ensure_ascii=False).encode("utf-8")
    if isinstance(insert, str):
        insert = insert.encode("utf-8")
    assert text_.count(b'"' + SPLICE.encode() + b'"') == 1
    return text_.replace(b'"' + SPLICE.encode() + b'"', insert)


def ev(**over):
    """The valid minimal event with fields replaced (DROP removes one); author=dict replaces author."""
    e = {
        "schema_version": 1,
        "comment_id": CID,
        "article_id": "trump-russia-ukraine-2026-01-31",
        "author": {"id": "reader-1842", "display_name": "Priya S"},
        "body": BODY,
        "submitted_at": NOW,
    }
    for k, v in over.items():
        if v is DROP:
            e.pop(k, None)
        else:
            e[k] = v
    return e


def author(**over):
    a = {"id": "reader-1842", "display_name": "Priya S"}
    for k, v in over.items():
        if v is DROP:
            a.pop(k, None)
        else:
            a[k] = v
    return a


@dataclass
class Case:
    id: str
    payload: Union[dict, list, str, bytes, int, None]
    outcome: str
    reason: Optional[str] = None
    holds: tuple = ()
    c_only: Optional[str] = None
    raw: bool = field(default=False)  # payload is raw JSON text (str) or bytes, not a value to serialize


def ok(id, payload, c_only=None):
    return Case(id, payload, "publish", c_only=c_only)


def held(id, payload, *holds):
    return Case(id, payload, "hold", holds=tuple(holds))


def rej(id, payload, reason, c_only=None):
    return Case(id, payload, "reject", reason, c_only=c_only)


def raw(id, text_or_bytes, outcome, reason=None, c_only=None):
    return Case(id, text_or_bytes, outcome, reason, c_only=c_only, raw=True)


# Why the schema cannot state a rule (the c_only reasons)
GRAPHEMES = "length in grapheme clusters after NFC and trimming: JSON Schema counts code points"
NOT_JSON = "not a JSON text: the schema applies to parsed JSON values"
DUP_KEYS = "duplicate keys: the schema sees the parsed object, where the last value wins"
SURROGATE = "lone UTF-16 surrogate: not a Unicode scalar value; ECMA-262 patterns without the u flag see code units"
BIG_NUMBER = "a number beyond the IEEE 754 double range: the JSON Schema data model has unbounded numbers"
WINDOW = "submission time window: relative to the time of processing"
MARKS = "more than 30 combining marks in a row (stream-safe limit): needs the canonical combining class"
UTC_RANGE = "year outside 0001-9999 once converted to UTC: needs date arithmetic"
ASTRAL_IGNORABLE = ("invisible astral characters (tag characters, U+E0020-E007F): ECMA-262 patterns without the "
                    "u flag cannot name astral code points portably")
FAR_TOO_LONG = "far longer than 500 graphemes (> 64 bytes per grapheme): the schema has no maxLength"

CASES = [
    # ------------------------------------------------------------------ published
    ok("valid-minimal", ev()),
    ok("valid-parent-null", ev(parent_id=None)),
    ok("valid-parent-uuid", ev(parent_id=PID)),
    ok("valid-parent-uuid-upper-case", ev(parent_id=PID.upper())),
    ok("valid-comment-id-upper-case", ev(comment_id=CID.upper())),
    ok("valid-comment-id-nil-uuid", ev(comment_id="00000000-0000-0000-0000-000000000000")),
    ok("valid-unknown-top-level-fields", ev(client={"app": "web", "version": [1, 2]}, tags=None, score=3.5, flag=True)),
    ok("valid-unknown-author-fields", ev(author=author(avatar="https://cdn.example/a.png", karma=12))),
    ok("valid-unknown-field-huge-integer", ev(x=123456789012345678901234567890)),
    ok("valid-schema-version-1.0", ev(schema_version=1.0)),
    ok("valid-html-and-markdown-kept", ev(body="<b>bold</b> and **strong** and <script>alert(1)</script> stay as plain text")),
    ok("valid-multiline-crlf-and-tabs", ev(body="First paragraph about the budget.\r\n\r\n\tSecond paragraph, indented with a tab.")),
    ok("valid-line-separator-in-body", ev(body="A body may hold a line separator\u2028and a paragraph separator\u2029too, in the middle.")),
    ok("valid-body-surrounded-by-white-space", ev(body="  \n\t " + text(60) + " \u00a0\u3000\n")),
    ok("valid-body-nfd-accents", ev(body="Cafe\u0301 cre\u0300me bru\u0302le\u0301e: " + text(50))),
    ok("valid-body-cyrillic-greek", ev(body="Читатели хотят, чтобы совет объяснил бюджет. Οι αναγνώστες θέλουν εξηγήσεις.")),
    ok("valid-body-zero-width-joiner-inside", ev(body=text(50) + " " + FAMILY)),
    ok("valid-display-name-unicode", ev(author=author(display_name="Zoë Ångström-Łukasiewicz 李"))),
    ok("valid-display-name-one-character", ev(author=author(display_name="Q"))),
    ok("valid-display-name-combining-mark-alone", ev(author=author(display_name="\u0301"))),
    ok("valid-display-name-64-graphemes", ev(author=author(display_name="n" * 8 + "a" * 8 + "m" * 8 + "e" * 8 + "s" * 8 + "x" * 8 + "y" * 8 + "z" * 8))),
    ok("valid-display-name-64-graphemes-emoji", ev(author=author(display_name=FAMILY * 64))),
    ok("valid-display-name-padded", ev(author=author(display_name="   Priya S \u200b"))),
    ok("valid-author-id-128-graphemes", ev(author=author(id=("abcdefgh" * 16)))),
    ok("valid-author-id-uuid", ev(author=author(id=PID))),
    ok("valid-article-id-one-character", ev(article_id="a")),
    ok("valid-article-id-128-characters", ev(article_id="a" + "b.c_d:e-f0" * 12 + "1234567")),
    ok("valid-article-id-all-punctuation", ev(article_id="9._:-")),
    ok("valid-submitted-at-fraction-micro", ev(submitted_at="@NOW|micro@")),
    ok("valid-submitted-at-fraction-nano", ev(submitted_at="@NOW|nano@")),
    ok("valid-submitted-at-lower-case-t-z", ev(submitted_at="@NOW|lower@")),
    ok("valid-submitted-at-offset-plus", ev(submitted_at="@NOW|+05:30@")),
    ok("valid-submitted-at-offset-minus", ev(submitted_at="@NOW|-08:00@")),
    ok("valid-submitted-at-offset-zero", ev(submitted_at="@NOW|+00:00@")),
    ok("valid-submitted-at-offset-unknown-local", ev(submitted_at="@NOW|-00:00@")),
    ok("valid-submitted-at-leap-second", ev(submitted_at="@NOW|leap@")),
    ok("valid-submitted-at-200s-ahead", ev(submitted_at="@NOW+200s@")),
    ok("valid-submitted-at-6-days-old", ev(submitted_at="@NOW-6d@")),
    ok("valid-key-order-shuffled", {k: ev()[k] for k in reversed(list(ev()))}),
    raw("valid-pretty-printed-with-white-space", json.dumps(ev(), indent=2, ensure_ascii=True) + "\n", "publish"),
    raw("valid-escaped-unicode", json.dumps(ev(body="Caf\u00e9 " + text(50) + " \U0001F600"), ensure_ascii=True), "publish"),

    # ------------------------------------------------------------------ body length: graphemes
    ok("body-50-ascii", ev(body=text(50))),
    rej("body-49-ascii", ev(body=text(49)), "body_too_short"),
    ok("body-500-ascii", ev(body=text(500))),
    rej("body-501-ascii", ev(body=text(501)), "body_too_long", c_only=GRAPHEMES),
    ok("body-50-cjk", ev(body=cjk(50))),
    rej("body-49-cjk", ev(body=cjk(49)), "body_too_short"),
    ok("body-500-cjk", ev(body=cjk(500))),
    rej("body-501-cjk", ev(body=cjk(501)), "body_too_long", c_only=GRAPHEMES),
    ok("body-50-combining-marks", ev(body=marked(50))),
    rej("body-49-combining-marks-98-code-points", ev(body=marked(49)), "body_too_short", c_only=GRAPHEMES),
    ok("body-500-combining-marks", ev(body=marked(500))),
    rej("body-501-combining-marks", ev(body=marked(501)), "body_too_long", c_only=GRAPHEMES),
    ok("body-50-nfd-accents", ev(body=nfd_accented(50))),
    rej("body-49-nfd-accents-98-code-points", ev(body=nfd_accented(49)), "body_too_short", c_only=GRAPHEMES),
    ok("body-50-family-emoji-350-code-points", ev(body=FAMILY * 50)),
    rej("body-49-family-emoji-343-code-points", ev(body=FAMILY * 49), "body_too_short", c_only=GRAPHEMES),
    ok("body-500-family-emoji-3500-code-points", ev(body=FAMILY * 500)),
    rej("body-501-family-emoji", ev(body=FAMILY * 501), "body_too_long", c_only=GRAPHEMES),
    ok("body-50-skin-tone-emoji", ev(body=THUMBS * 50)),
    rej("body-49-skin-tone-emoji", ev(body=THUMBS * 49), "body_too_short", c_only=GRAPHEMES),
    ok("body-50-flags", ev(body=FLAG * 50)),
    rej("body-25-flags-50-code-points", ev(body=FLAG * 25), "body_too_short", c_only=GRAPHEMES),
    ok("body-50-hangul-from-jamo", ev(body="\u1100\u1161\u1102\u1165\u1103\u1169\u1105\u116e\u1106\u1175" * 10)),
    rej("body-49-plus-white-space-padding", ev(body="   " + text(49) + "   "), "body_too_short", c_only=GRAPHEMES),
    rej("body-49-plus-zero-width-spaces", ev(body=text(25) + "\u200b" * 10 + text(24)), "body_too_short", c_only=GRAPHEMES),
    rej("body-49-with-crlf-counted-once", ev(body=text(24) + "\r\n" + text(24)), "body_too_short", c_only=GRAPHEMES),
    ok("body-50-with-crlf-counted-once", ev(body=text(24) + "\r\n" + text(25))),
    rej("body-only-white-space", ev(body=" " * 60), "body_too_short", c_only=GRAPHEMES),
    rej("body-empty", ev(body=""), "body_too_short"),
    rej("body-far-too-long", ev(body="ab" * 20000), "body_too_long", c_only=FAR_TOO_LONG),

    # ------------------------------------------------------------------ not JSON, not an object
    raw("malformed-empty-message", b"", "reject", "malformed_json", c_only=NOT_JSON),
    raw("malformed-truncated", '{"schema_version": 1, "body": ', "reject", "malformed_json", c_only=NOT_JSON),
    raw("malformed-trailing-garbage", json.dumps(ev()) + " x", "reject", "malformed_json", c_only=NOT_JSON),
    raw("malformed-two-objects", json.dumps(ev()) + json.dumps(ev()), "reject", "malformed_json", c_only=NOT_JSON),
    raw("malformed-single-quotes", "{'schema_version': 1}", "reject", "malformed_json", c_only=NOT_JSON),
    raw("malformed-utf8-bom", "\ufeff" + json.dumps(ev()), "reject", "malformed_json", c_only=NOT_JSON),
    raw("malformed-duplicate-keys", json.dumps(ev())[:-1] + ', "body": "x"}', "reject", "malformed_json", c_only=DUP_KEYS),
    raw("malformed-duplicate-author-keys", json.dumps(ev())[:-1] + ', "author": {"id": "a", "id": "b", "display_name": "x"}}',
        "reject", "malformed_json", c_only=DUP_KEYS),
    raw("malformed-nan-in-unknown-field", splice(ev(score=SPLICE), "NaN"), "reject", "malformed_json", c_only=NOT_JSON),
    raw("malformed-number-overflow-in-unknown-field", splice(ev(score=SPLICE), "1e400"), "reject", "malformed_json",
        c_only=BIG_NUMBER),
    raw("malformed-lone-surrogate-in-body", splice(ev(body=SPLICE), '"' + text(60) + '\\ud800"'), "reject",
        "malformed_json", c_only=SURROGATE),
    rej("not-an-object-array", [1, 2], "not_an_object"),
    rej("not-an-object-string", "hello", "not_an_object"),
    rej("not-an-object-number", 42, "not_an_object"),
    rej("not-an-object-null", None, "not_an_object"),
    rej("not-an-object-true", True, "not_an_object"),
    rej("not-an-object-event-in-array", [ev()], "not_an_object"),

    # ------------------------------------------------------------------ missing fields
    rej("missing-schema-version", ev(schema_version=DROP), "missing_field"),
    rej("missing-comment-id", ev(comment_id=DROP), "missing_field"),
    rej("missing-article-id", ev(article_id=DROP), "missing_field"),
    rej("missing-author", ev(author=DROP), "missing_field"),
    rej("missing-author-id", ev(author=author(id=DROP)), "missing_field"),
    rej("missing-display-name", ev(author=author(display_name=DROP)), "missing_field"),
    rej("missing-body", ev(body=DROP), "missing_field"),
    rej("missing-submitted-at", ev(submitted_at=DROP), "missing_field"),
    rej("missing-everything", {}, "missing_field"),
    rej("null-comment-id", ev(comment_id=None), "missing_field"),
    rej("null-author", ev(author=None), "missing_field"),
    rej("null-body", ev(body=None), "missing_field"),
    rej("null-display-name", ev(author=author(display_name=None)), "missing_field"),
    rej("null-submitted-at", ev(submitted_at=None), "missing_field"),

    # ------------------------------------------------------------------ types
    rej("type-schema-version-string", ev(schema_version="1"), "invalid_type"),
    rej("type-schema-version-boolean", ev(schema_version=True), "invalid_type"),
    rej("type-schema-version-fraction", ev(schema_version=1.5), "invalid_type"),
    rej("type-schema-version-null", ev(schema_version=None), "invalid_type"),
    rej("type-comment-id-number", ev(comment_id=123), "invalid_type"),
    rej("type-article-id-number", ev(article_id=42), "invalid_type"),
    rej("type-author-string", ev(author="Priya S"), "invalid_type"),
    rej("type-author-array", ev(author=[{"id": "a", "display_name": "b"}]), "invalid_type"),
    rej("type-author-id-number", ev(author=author(id=1842)), "invalid_type"),
    rej("type-display-name-boolean", ev(author=author(display_name=False)), "invalid_type"),
    rej("type-body-number", ev(body=42), "invalid_type"),
    rej("type-body-array", ev(body=[BODY]), "invalid_type"),
    rej("type-submitted-at-epoch-number", ev(submitted_at=1769854500), "invalid_type"),
    rej("type-parent-id-number", ev(parent_id=5), "invalid_type"),
    rej("type-parent-id-object", ev(parent_id={"id": PID}), "invalid_type"),

    # ------------------------------------------------------------------ uuids
    rej("uuid-too-short", ev(comment_id="123"), "invalid_uuid"),
    rej("uuid-empty", ev(comment_id=""), "invalid_uuid"),
    rej("uuid-without-hyphens", ev(comment_id=CID.replace("-", "")), "invalid_uuid"),
    rej("uuid-bad-hex", ev(comment_id="6f1c9e52-3b7d-4a0e-9c25-8144d60ba73g"), "invalid_uuid"),
    rej("uuid-braces", ev(comment_id="{" + CID + "}"), "invalid_uuid"),
    rej("uuid-urn", ev(comment_id="urn:uuid:" + CID), "invalid_uuid"),
    rej("uuid-hyphens-moved", ev(comment_id="6f1c9e523-b7d-4a0e-9c25-8144d60ba73f"), "invalid_uuid"),
    rej("uuid-37-characters", ev(comment_id=CID + "0"), "invalid_uuid"),
    rej("uuid-trailing-newline", ev(comment_id=CID + "\n"), "invalid_uuid"),
    rej("uuid-surrounding-spaces", ev(comment_id=" " + CID + " "), "invalid_uuid"),
    rej("uuid-fullwidth-digit", ev(comment_id="６f1c9e52-3b7d-4a0e-9c25-8144d60ba73f"), "invalid_uuid"),
    rej("parent-id-not-a-uuid", ev(parent_id="comment-7"), "invalid_uuid"),
    rej("parent-id-empty", ev(parent_id=""), "invalid_uuid"),

    # ------------------------------------------------------------------ article_id alphabet and length
    rej("article-id-empty", ev(article_id=""), "invalid_field"),
    rej("article-id-with-space", ev(article_id="my article"), "invalid_field"),
    rej("article-id-starts-with-dot", ev(article_id=".hidden"), "invalid_field"),
    rej("article-id-starts-with-hyphen", ev(article_id="-x"), "invalid_field"),
    rej("article-id-starts-with-underscore", ev(article_id="_x"), "invalid_field"),
    rej("article-id-with-slash", ev(article_id="news/2026/x"), "invalid_field"),
    rej("article-id-non-ascii-letter", ev(article_id="café"), "invalid_field"),
    rej("article-id-trailing-newline", ev(article_id="abc\n"), "invalid_field"),
    rej("article-id-with-nul", ev(article_id="abc\u0000def"), "invalid_field"),
    rej("article-id-129-characters", ev(article_id="a" * 129), "invalid_field"),

    # ------------------------------------------------------------------ author.id and display_name
    rej("display-name-empty", ev(author=author(display_name="")), "invalid_field"),
    rej("display-name-only-spaces", ev(author=author(display_name="   ")), "invalid_field"),
    rej("display-name-only-no-break-space", ev(author=author(display_name="\u00a0\u3000")), "invalid_field"),
    rej("display-name-only-zero-width", ev(author=author(display_name="\u200b\u200d\ufeff")), "invalid_field"),
    rej("display-name-only-soft-hyphen", ev(author=author(display_name="\u00ad")), "invalid_field"),
    rej("display-name-only-left-to-right-mark", ev(author=author(display_name="\u200e\u200f")), "invalid_field"),
    rej("display-name-only-hangul-filler", ev(author=author(display_name="\u3164\u3164")), "invalid_field"),
    rej("display-name-only-variation-selector", ev(author=author(display_name="\ufe0f")), "invalid_field"),
    rej("display-name-only-tag-characters", ev(author=author(display_name="\U000E0041\U000E0042")), "invalid_field",
        c_only=ASTRAL_IGNORABLE),
    rej("display-name-65-graphemes", ev(author=author(display_name="abcdefghijklm" * 5)), "invalid_field", c_only=GRAPHEMES),
    rej("display-name-65-graphemes-emoji", ev(author=author(display_name=THUMBS * 65)), "invalid_field", c_only=GRAPHEMES),
    rej("author-id-empty", ev(author=author(id="")), "invalid_field"),
    rej("author-id-only-spaces", ev(author=author(id="  ")), "invalid_field"),
    rej("author-id-129-graphemes", ev(author=author(id=("abcdefgh" * 17)[:129])), "invalid_field", c_only=GRAPHEMES),

    # ------------------------------------------------------------------ submitted_at formats
    rej("submitted-at-no-offset", ev(submitted_at="2026-01-31T10:15:00"), "invalid_submitted_at"),
    rej("submitted-at-space-separator", ev(submitted_at="2026-01-31 10:15:00Z"), "invalid_submitted_at"),
    rej("submitted-at-date-only", ev(submitted_at="2026-01-31"), "invalid_submitted_at"),
    rej("submitted-at-impossible-date", ev(submitted_at="2026-02-30T00:00:00Z"), "invalid_submitted_at"),
    rej("submitted-at-not-a-leap-year", ev(submitted_at="2026-02-29T00:00:00Z"), "invalid_submitted_at"),
    rej("submitted-at-hour-24", ev(submitted_at="2026-01-31T24:00:00Z"), "invalid_submitted_at"),
    rej("submitted-at-second-61", ev(submitted_at="2026-01-31T10:15:61Z"), "invalid_submitted_at"),
    rej("submitted-at-no-seconds", ev(submitted_at="2026-01-31T10:15Z"), "invalid_submitted_at"),
    rej("submitted-at-offset-without-colon", ev(submitted_at="2026-01-31T10:15:00+0530"), "invalid_submitted_at"),
    rej("submitted-at-offset-hour-24", ev(submitted_at="2026-01-31T10:15:00+24:00"), "invalid_submitted_at"),
    rej("submitted-at-empty-fraction", ev(submitted_at="2026-01-31T10:15:00.Z"), "invalid_submitted_at"),
    rej("submitted-at-comma-fraction", ev(submitted_at="2026-01-31T10:15:00,5Z"), "invalid_submitted_at"),
    rej("submitted-at-epoch-string", ev(submitted_at="1769854500"), "invalid_submitted_at"),
    rej("submitted-at-year-0000", ev(submitted_at="0000-01-01T00:00:00Z"), "invalid_submitted_at"),
    rej("submitted-at-two-digit-year", ev(submitted_at="26-01-31T10:15:00Z"), "invalid_submitted_at"),
    rej("submitted-at-trailing-newline", ev(submitted_at="2026-01-31T10:15:00Z\n"), "invalid_submitted_at"),
    rej("submitted-at-utc-before-year-1", ev(submitted_at="0001-01-01T00:30:00+01:00"), "invalid_submitted_at", c_only=UTC_RANGE),

    # ------------------------------------------------------------------ schema_version
    rej("schema-version-2", ev(schema_version=2), "unsupported_schema_version"),
    rej("schema-version-0", ev(schema_version=0), "unsupported_schema_version"),
    rej("schema-version-negative", ev(schema_version=-1), "unsupported_schema_version"),
    rej("schema-version-2.0", ev(schema_version=2.0), "unsupported_schema_version"),
    rej("schema-version-1000", ev(schema_version=1000), "unsupported_schema_version"),

    # ------------------------------------------------------------------ text hygiene
    rej("text-body-nul", ev(body=text(30) + "\u0000" + text(30)), "invalid_text"),
    rej("text-body-escape", ev(body=text(30) + "\u001b[31m" + text(30)), "invalid_text"),
    rej("text-body-bell", ev(body=text(30) + "\u0007" + text(30)), "invalid_text"),
    rej("text-body-lone-cr", ev(body=text(30) + "\r" + text(30)), "invalid_text"),
    rej("text-body-vertical-tab", ev(body=text(30) + "\u000b" + text(30)), "invalid_text"),
    rej("text-body-form-feed", ev(body=text(30) + "\u000c" + text(30)), "invalid_text"),
    rej("text-body-delete", ev(body=text(30) + "\u007f" + text(30)), "invalid_text"),
    rej("text-body-c1-next-line", ev(body=text(30) + "\u0085" + text(30)), "invalid_text"),
    rej("text-body-c1-csi", ev(body=text(30) + "\u009b" + text(30)), "invalid_text"),
    rej("text-body-bidi-override-rlo", ev(body=text(30) + "\u202e" + text(30)), "invalid_text"),
    rej("text-body-bidi-embedding-lre", ev(body=text(30) + "\u202a" + text(30)), "invalid_text"),
    rej("text-body-bidi-isolate-fsi", ev(body=text(30) + "\u2068" + text(30)), "invalid_text"),
    rej("text-body-bidi-pop-isolate", ev(body=text(30) + "\u2069" + text(30)), "invalid_text"),
    rej("text-body-short-with-control", ev(body="hi\u0001"), "invalid_text"),
    rej("text-body-31-combining-marks", ev(body=text(50) + "a" + marks(31)), "invalid_text", c_only=MARKS),
    ok("text-body-30-combining-marks", ev(body=text(50) + "a" + marks(30))),
    rej("text-display-name-tab", ev(author=author(display_name="Priya\tS")), "invalid_text"),
    rej("text-display-name-newline", ev(author=author(display_name="Priya\nS")), "invalid_text"),
    rej("text-display-name-crlf", ev(author=author(display_name="Priya\r\nS")), "invalid_text"),
    rej("text-display-name-line-separator", ev(author=author(display_name="Priya\u2028S")), "invalid_text"),
    rej("text-display-name-paragraph-separator", ev(author=author(display_name="Priya\u2029S")), "invalid_text"),
    rej("text-display-name-bidi-override", ev(author=author(display_name="\u202eS ayirP")), "invalid_text"),
    rej("text-author-id-nul", ev(author=author(id="reader\u00001842")), "invalid_text"),
    rej("text-author-id-c1", ev(author=author(id="reader\u00851842")), "invalid_text"),
    rej("text-author-id-line-separator", ev(author=author(id="reader\u20281842")), "invalid_text"),
    raw("text-invalid-utf8-in-body", splice(ev(body=SPLICE), b'"' + text(60).encode() + b'\xff\xfe"'), "reject",
        "invalid_text", c_only=NOT_JSON),
    raw("text-overlong-utf8-slash", splice(ev(body=SPLICE), b'"' + text(60).encode() + b'\xc0\xaf"'), "reject",
        "invalid_text", c_only=NOT_JSON),
    raw("text-utf8-encoded-surrogate", splice(ev(body=SPLICE), b'"' + text(60).encode() + b'\xed\xa0\x80"'), "reject",
        "invalid_text", c_only=NOT_JSON),
    raw("text-invalid-utf8-in-unknown-field", splice(ev(x=SPLICE), b'"\x80"'), "reject", "invalid_text", c_only=NOT_JSON),
    raw("text-latin1-payload", json.dumps(ev(body="Caf\u00e9 " + text(60)), ensure_ascii=False).encode("latin-1"),
        "reject", "invalid_text", c_only=NOT_JSON),

    # ------------------------------------------------------------------ the first problem wins
    rej("first-problem-version-before-uuid", ev(schema_version=2, comment_id="x"), "unsupported_schema_version"),
    rej("first-problem-uuid-before-body", ev(comment_id="x", body=DROP), "invalid_uuid"),
    rej("first-problem-author-before-body", ev(author=author(display_name=""), body="short"), "invalid_field"),
    rej("first-problem-body-before-time", ev(body="short", submitted_at="yesterday"), "body_too_short"),

    # ------------------------------------------------------------------ held for a moderator (valid events)
    held("hold-link-https", ev(body="Full statement here: https://example.com/statement " + text(40)), "contains_link"),
    held("hold-link-www", ev(body=text(40) + " more at www.example.org"), "contains_link"),
    held("hold-link-bare-host", ev(body=text(40) + ", see council-news.co for the minutes"), "contains_link"),
    ok("no-hold-abbreviations", ev(body="Node.js, e.g. and the U.S. are not links; " + text(50))),
    held("hold-email", ev(body=text(40) + " write to the editor at letters@paper.fr please"), "contains_email"),
    held("hold-phone", ev(body=text(40) + " call the hotline on +44 20 7946 0958"), "contains_phone"),
    ok("no-hold-date-is-not-a-phone", ev(body="The vote on 2026-01-31 was close; " + text(50))),
    held("hold-shouting", ev(body="THE COUNCIL MUST EXPLAIN THE BUDGET AND THE NEW BUS ROUTES TO ALL OF US"), "shouting"),
    held("hold-shouting-cyrillic", ev(body="СОВЕТ ДОЛЖЕН ОБЪЯСНИТЬ БЮДЖЕТ И НОВЫЕ АВТОБУСНЫЕ МАРШРУТЫ ВСЕМ НАМ"), "shouting"),
    held("hold-repeated-characters", ev(body=text(50) + " sooooooooooo"), "repeated_characters"),
    ok("no-hold-eight-repeats", ev(body=text(50) + " soooooooo")),
    held("hold-several-reasons", ev(body="CALL 555-123-4567 OR VISIT WWW.EXAMPLE.COM OR MAIL ME@EXAMPLE.FR NOW!!!!!!!!!!"),
         "contains_link", "contains_email", "contains_phone", "shouting", "repeated_characters"),

    # ------------------------------------------------------------------ the time window (rules, not the schema)
    rej("window-too-far-in-the-future", ev(submitted_at="@NOW+1h@"), "submitted_in_future", c_only=WINDOW),
    rej("window-too-old", ev(submitted_at="@NOW-8d@"), "submitted_too_old", c_only=WINDOW),
    rej("window-years-ago", ev(submitted_at="2020-01-31T10:15:00Z"), "submitted_too_old", c_only=WINDOW),
    rej("window-far-future-offset", ev(submitted_at="@NOW+2d|+05:30@"), "submitted_in_future", c_only=WINDOW),
]
