"""The JSON dialect family: a webhook body that is one JSON object, decoded with Decimal
numbers and refused in plain words when it is not JSON, not an object, repeats a key, nests
too deep or carries half a character.
"""

import json
import re
from decimal import Decimal
from typing import Any

from tvdesk.core.alert.fields import MIN_WEBHOOK_SECRET_LEN, BodyError
from tvdesk.core.alert.values import show

# An alert is a flat object; the limit keeps redact() and canonical_json() (recursive) far from
# Python's recursion limit whatever a 64 KiB body contains.
MAX_DEPTH = 32

_SEND_OBJECT = 'send the alert message as a JSON object, e.g. {"symbol": "BTCUSDT", ...}'
# Left alone by json.loads when a \u escape names half of a UTF-16 pair: such a string
# cannot be encoded as UTF-8, so it could be neither hashed nor journaled.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def load_body(raw: bytes) -> dict[str, Any]:
    """Decode a webhook body into a JSON object with Decimal numbers; BodyError otherwise."""
    if not raw.strip():
        raise BodyError(f"the body is empty — {_SEND_OBJECT}")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BodyError(f"the body is not UTF-8 text — {_SEND_OBJECT}") from None
    try:
        obj = json.loads(
            text, parse_float=Decimal, parse_constant=Decimal, object_pairs_hook=_unique_keys
        )
    except BodyError:
        raise
    except json.JSONDecodeError as e:
        hint = ""
        if "{{" in text:
            hint = " (a TradingView placeholder like {{close}} that was not replaced is not JSON)"
        raise BodyError(
            f"the body is not JSON: {e.msg} at line {e.lineno} column {e.colno}{hint} — "
            + _SEND_OBJECT
        ) from None
    except (ValueError, ArithmeticError, RecursionError):
        # Numbers beyond int/Decimal limits, or nesting beyond the recursion limit.
        raise BodyError(f"the body is not usable JSON — {_SEND_OBJECT}") from None
    if not isinstance(obj, dict):
        kind = _json_kind(obj)
        raise BodyError(f"the body is JSON but not an object (got {kind}) — {_SEND_OBJECT}")
    # Both walks below only run when the text could hold what they look for: deep
    # nesting needs that many brackets, and a lone surrogate can only come from a
    # \u escape (UTF-8 cannot carry one). Most alerts need neither walk.
    brackets = text.count("{") + text.count("[")
    if brackets > MAX_DEPTH and _depth(obj) > MAX_DEPTH:
        raise BodyError(f"the body is nested more than {MAX_DEPTH} levels deep — {_SEND_OBJECT}")
    if "\\u" in text and _has_lone_surrogate(obj):
        raise BodyError(
            "the body has a \\u escape for half a character (a lone surrogate like \\ud800) — "
            + _SEND_OBJECT
        )
    return obj


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.loads lets the last of a repeated key win; "side" sent twice must not
    # silently become whichever came last.
    obj = dict(pairs)
    if len(obj) < len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                # Named only when too short to be a webhook secret: nothing scrubs this.
                name = f"the key {show(key)}" if len(key) < MIN_WEBHOOK_SECRET_LEN else "a key"
                raise BodyError(
                    f"{name} appears twice in one object: send it once — " + _SEND_OBJECT
                )
            seen.add(key)
    return obj


def _has_lone_surrogate(obj: object) -> bool:
    stack = [obj]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            if _LONE_SURROGATE.search(value):
                return True
        elif isinstance(value, dict):
            stack.extend(value)
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return False


def _json_kind(obj: object) -> str:
    if isinstance(obj, list):
        return "a list"
    if isinstance(obj, str):
        return "a string"
    if isinstance(obj, bool):
        return "true/false"
    if obj is None:
        return "null"
    return "a number"


def _depth(obj: object) -> int:
    deepest, stack = 0, [(obj, 1)]
    while stack:
        value, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(value, dict):
            stack.extend((child, depth + 1) for child in value.values())
        elif isinstance(value, list):
            stack.extend((child, depth + 1) for child in value)
    return deepest
