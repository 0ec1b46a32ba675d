"""Globally unique alert ids (ULID) and the client order ids derived from them.

A ULID sorts by creation time and needs no coordination, so two journals (two
machines, a restored backup) can never hand out the same alert id — and so
never the same client order id at the exchange.
"""

from __future__ import annotations

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CLIENT_ORDER_PREFIX = "tvd"


def new_ulid(ms: int, rand: bytes) -> str:
    """A 26-character ULID from a millisecond timestamp and 10 random bytes."""
    if len(rand) != 10:
        raise ValueError("a ULID needs exactly 10 random bytes")
    if not 0 <= ms < 1 << 48:
        raise ValueError("ULID timestamp out of range")
    value = (ms << 80) | int.from_bytes(rand, "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def client_order_id(alert_id: str, attempt: int = 0) -> str:
    """The exchange-side id of an alert's order: at most 32 alphanumeric characters.

    ``attempt`` distinguishes a second order of the same alert (a protective
    order, a flatten leg); the first order of an alert is always attempt 0.
    """
    cid = f"{CLIENT_ORDER_PREFIX}{alert_id}"
    if attempt:
        cid += f"{attempt:x}"
    if not cid.isalnum() or len(cid) > 32:
        raise ValueError("client order ids are at most 32 alphanumeric characters")
    return cid
