"""Canonical JSON of a body (sorted keys, exact numbers) and its hash, so the same alert
sent twice is recognised whatever its key order or spacing.
"""

import hashlib
import json
import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any


def canonical_json(obj: Any) -> str:
    """Compact JSON with sorted keys; Decimals written as JSON numbers, exactly."""
    parts: list[str] = []
    _write(obj, parts)
    return "".join(parts)


# What json.dumps(s, ensure_ascii=False) does for a string, without its per-call setup.
_encode_str = json.encoder.encode_basestring


def _write(obj: Any, out: list[str]) -> None:
    if isinstance(obj, str):
        out.append(_encode_str(obj))
    elif obj is None or isinstance(obj, bool):
        out.append({None: "null", True: "true", False: "false"}[obj])
    elif isinstance(obj, int):
        out.append(int.__repr__(obj))
    elif isinstance(obj, float | Decimal):
        out.append(_number_text(obj))
    elif isinstance(obj, Mapping):
        out.append("{")
        for i, key in enumerate(sorted(obj)):
            if not isinstance(key, str):
                raise TypeError(f"canonical_json needs string keys, got {type(key).__name__}")
            out.append("," if i else "")
            out.append(_encode_str(key) + ":")
            _write(obj[key], out)
        out.append("}")
    elif isinstance(obj, list | tuple):
        out.append("[")
        for i, item in enumerate(obj):
            out.append("," if i else "")
            _write(item, out)
        out.append("]")
    else:
        raise TypeError(f"canonical_json cannot write {type(obj).__name__}")


def _number_text(number: float | Decimal) -> str:
    # Python's json spells non-finite numbers NaN / Infinity / -Infinity; do the same.
    if isinstance(number, Decimal):
        if number.is_nan():
            return "NaN"
        if number.is_infinite():
            return "-Infinity" if number.is_signed() else "Infinity"
        return str(number)
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "-Infinity" if number < 0 else "Infinity"
    return float.__repr__(number)


def body_hash(obj: Any) -> str:
    """sha256 hex of canonical_json(obj); callers pass the redacted object."""
    return text_hash(canonical_json(obj))


def text_hash(canonical: str) -> str:
    """body_hash for a caller that already holds canonical_json(obj)."""
    return hashlib.sha256(canonical.encode()).hexdigest()
