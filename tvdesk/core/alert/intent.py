"""What an alert asks for, beyond plain fields: its action (buy, sell, close, cancel), the
unit of its size, its order type and limit price, and what a text body's reading found.
Each function reads through the FieldReader and leaves its problems there.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tvdesk.core.alert.actions import (
    CANCEL,
    CLOSE,
    CLOSE_LONG,
    CLOSES,
    as_action,
    as_market_position,
)
from tvdesk.core.alert.dialects import json_dialect
from tvdesk.core.alert.names import TEXT_KEY
from tvdesk.core.alert.reader import FieldReader
from tvdesk.core.alert.units import CONTRACTS, as_unit, sizing_field
from tvdesk.core.alert.values import as_positive, choice

SIZINGS = ("qty", "notional", "qty_pct", "position_size")


@dataclass
class Reading:
    """What a text body's reader (text_forms.py) found, or a JSON body's dialect."""

    dialect: str
    notes: list[str] = field(default_factory=list)
    problems: dict[str, str] = field(default_factory=dict)
    refuse: dict[str, str] = field(default_factory=dict)


def reading(obj: Mapping[str, Any]) -> Reading:
    meta = obj.get(TEXT_KEY)
    if not isinstance(meta, Mapping):
        return Reading(json_dialect(obj))
    # Only text from here on: a JSON body could carry this key too.
    dialect = meta.get("dialect")
    notes = meta.get("notes")
    return Reading(
        dialect if isinstance(dialect, str) else "text",
        [n for n in notes if isinstance(n, str)] if isinstance(notes, list) else [],
        _texts(meta.get("problems")),
        _texts(meta.get("refuse")),
    )


def _texts(value: object) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}


def read_action(r: FieldReader, notes: list[str]) -> tuple[str | None, str | None, str | None]:
    """(action, side, market_position). A close without a size targets flat; exit_long /
    exit_short with a size sell / buy that size; cancel needs no size."""
    action = r.read("side", as_action)
    side = action if action in ("buy", "sell", CANCEL) else None
    if action == CANCEL:
        r.ignore(*SIZINGS, "unit", "market_position")
        notes.append("cancel: cancels tvdesk's resting orders on this market")
        return action, side, None
    market_position = r.read("market_position", as_market_position)
    if action not in CLOSES:
        return action, side, market_position
    key = r.key("side")
    sized = any(f in r.given for f in SIZINGS)
    if market_position == "flat" or (not sized and market_position is None):
        notes.append(f"{key} {r.sent('side')}: close the position (target 0)")
        return action, None, "flat"
    if market_position is not None:
        mp = r.key("market_position")
        r.fail(key, f"{key} closes the position but {mp} is {market_position}: send one")
    elif action == CLOSE:
        r.fail(
            key,
            f"{key} {action} closes the whole position, yet the alert sizes the order: remove "
            "the size to close, or send buy/sell with it",
        )
    else:
        side = "sell" if action == CLOSE_LONG else "buy"
        notes.append(f"{key} {r.sent('side')} with a size: {side} that size")
    return action, side, market_position


def apply_unit(r: FieldReader, side: str | None, notes: list[str]) -> str:
    """Read the quantity in the unit a unit field names; the Alert's qty_unit."""
    unit = r.read("unit", as_unit)
    if "qty" not in r.given:
        r.ignore("unit")
        return "base"
    if unit is None:
        return "base"
    target = sizing_field(unit, side)
    key = r.key("unit")
    if target is None:
        r.fail(
            key,
            f"{key} percent of the position is read on a sell only: a buy's percent is of "
            "the free balance (send percentage)",
        )
    elif target != "qty":
        notes.append(f"{r.key('qty')} read as {target} ({key} {r.sent('unit')})")
        r.move("qty", target)
    return CONTRACTS if unit == CONTRACTS else "base"


def read_order(r: FieldReader, notes: list[str]) -> tuple[str, Decimal | None]:
    """(order_type, price): a limit price makes a limit order, unless it says market."""
    order_type = r.read("order_type", choice("market", "limit"))
    limit = r.read("limit_price", as_positive)
    price = r.read("price", as_positive)
    if "limit_price" in r.given:
        if order_type == "market":
            keys = (r.key("order_type"), r.key("limit_price"))
            for key in keys:
                r.fail(key, f"{keys[0]} is market but {keys[1]} gives a limit price: send one")
        order_type = "limit"
        if limit is not None and price is not None and price != limit:
            notes.append(f"{r.key('price')} {price} not used: the limit price is {limit}")
        price = limit if limit is not None else price
    order_type = order_type or "market"
    if order_type == "limit" and "price" not in r.given and "limit_price" not in r.given:
        r.fail("price", "a limit order needs a price: add price (or use order_type market)")
    return order_type, price
