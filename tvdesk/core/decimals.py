"""The one way a Decimal is shown to a person or sent as text: plain digits, no exponent,
no trailing zeros ("0.0001", never "1E-4" or "0.00010000")."""

from __future__ import annotations

from decimal import Decimal


def plain(value: Decimal) -> str:
    """``Decimal("1E+2")`` → ``"100"``, ``Decimal("0.50")`` → ``"0.5"``; NaN stays NaN."""
    if not value.is_finite():
        return str(value)
    return format(value.normalize(), "f") if value else "0"
