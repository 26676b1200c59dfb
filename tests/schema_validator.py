"""JSON Schema `pattern` with ECMA-262 semantics, shared by tests/contract and tests/integration.

Owns ecma_pattern() and ContractValidator (draft 2020-12 whose `pattern` keyword uses it).
JSON Schema evaluates `pattern` as ECMA-262: an unescaped `$` matches only at the end of
input, while Python's `re` would also let it match before a trailing newline (which would
let e.g. an article_id of "abc\\n" through). Format checking stays with each caller.
"""

import re

from jsonschema import Draft202012Validator, ValidationError, validators


def ecma_pattern(pattern):
    """Rewrite an ECMA-262 pattern so Python's `re` gives it the same meaning.

    The only difference that matters for these schemas: an unescaped `$` outside a
    character class matches only at the very end in ECMA-262 (no multiline flag),
    while Python's `$` also matches before a final newline. `\\Z` is Python's exact
    end of input.
    """
    out, i, in_class = [], 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
        elif c == "[":
            in_class = True
        elif c == "$":
            c = r"\Z"
        out.append(c)
        i += 1
    return "".join(out)


def _pattern(validator, patrn, instance, schema):
    if validator.is_type(instance, "string") and not re.search(ecma_pattern(patrn), instance):
        yield ValidationError(f"{instance!r} does not match {patrn!r}")


ContractValidator = validators.extend(Draft202012Validator, {"pattern": _pattern})
