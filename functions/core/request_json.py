"""JSON request bodies with bounds: json.loads recurses per nesting level, so 100,000 '[' would crash it."""

from __future__ import annotations

import json
import re

from functions.core.errors import InvalidRequest, TooLarge

MAX_BYTES = 1 << 20  # a pre-warm list of 20,000 resource ids fits
MAX_DEPTH = 16  # task and pre-warm bodies nest 2 deep
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]', re.DOTALL)  # a string (even unterminated) or a bracket
_DEPTH_CHANGE = {"[": 1, "{": 1, "]": -1, "}": -1}


def json_object(data: bytes, hint: str, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> dict:
    """The body as a dict, or InvalidRequest / TooLarge naming what is wrong; `hint` says what to send."""
    if len(data) > max_bytes:
        raise TooLarge(f"The request body has {len(data):,} bytes; at most {max_bytes:,} are read.", hint)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequest("The request body is not UTF-8 text.", hint) from None
    if nesting_depth(text) > max_depth:
        raise InvalidRequest(f"The request body nests deeper than {max_depth} levels.", hint)
    try:
        body = json.loads(text)
    except (ValueError, RecursionError):
        raise InvalidRequest("The request body is not valid JSON.", hint) from None
    if not isinstance(body, dict):
        raise InvalidRequest("The request body is not a JSON object.", hint)
    return body


def nesting_depth(text: str) -> int:
    """The deepest bracket nesting outside string literals, in one linear pass and without recursion."""
    depth = deepest = 0
    for token in _TOKEN.findall(text):
        depth += _DEPTH_CHANGE.get(token, 0)
        deepest = max(deepest, depth)
    return deepest
