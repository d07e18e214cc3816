"""JSON request bodies read defensively: shape, nesting depth and text are checked, so that a
crafted body answers 400 with a message instead of a 500.

Python's parser recurses once per nested array or object: a kilobyte of "[" raised
RecursionError inside a view. The depth is measured on the raw bytes first, strings skipped,
without parsing; the parsed text must then be storable by PostgreSQL (no NUL) and encodable
as UTF-8 (no lone surrogate from a "\\ud800" escape).
"""

import json
import re

# A JSON string, escapes included ("unrolled" so that a 64 KB string is one cheap match).
_STRING_RE = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_BRACKET_RE = re.compile(rb"[\[\]{}]")
MAX_DEPTH = 5


class BadJSON(ValueError):
    """A body we refuse; str() says why, for the 400 answer."""


def nesting_depth(body: bytes) -> int:
    """How deeply arrays and objects nest in `body`, without parsing it."""
    if body.count(b"[") + body.count(b"{") <= 1:
        return body.count(b"[") + body.count(b"{")
    depth = deepest = 0
    for bracket in _BRACKET_RE.finditer(_STRING_RE.sub(b'""', body)):
        if bracket.group() in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _check_text(value) -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise BadJSON("text must not contain NUL characters")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise BadJSON("text must be valid Unicode (no lone surrogates)") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key)
            _check_text(item)
    elif isinstance(value, list):
        for item in value:
            _check_text(item)


def loads_object(body: bytes, *, max_depth: int = MAX_DEPTH) -> dict:
    """The JSON object in `body`, or BadJSON naming what is wrong with it."""
    if nesting_depth(body) > max_depth:
        raise BadJSON(f"JSON nested deeper than {max_depth} levels")
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise BadJSON("not valid JSON") from None
    if not isinstance(data, dict):
        raise BadJSON("expected a JSON object")
    _check_text(data)
    return data
