"""Nested containers flattened: 3Commas' ``order`` and ``strategy_info``, TradersPost's
``stopLoss`` / ``takeProfit`` objects, a ``strategy`` object of TradingView placeholders.

Every field comes out as (name as spelled, dotted for a nested one; canonical field; value).
A field tvdesk does not use is listed as ignored, unless it would change the trade: that
one is a problem (a 422 naming it), never dropped silently.
"""

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tvdesk.core.alert.names import FIELD_OF, TEXT_KEY, is_hidden_name, normalise

# Virtual fields, read by protective.py / parse.py, never on the Alert as such.
STOP_PCT, STOP_OFFSET = "stop_loss_pct", "stop_loss_offset"
TP_PCT, TP_OFFSET = "take_profit_pct", "take_profit_offset"
POSITION_FALLBACK = "market_position_size"

TRAILING = (
    "a trailing stop-loss is not supported: trading without it would drop the stop "
    "silently; send a fixed stop (a price, percent or amount) or remove it"
)
# A field tvdesk does not read, whose name holds one of these, would change the trade.
_TRADE_PARTS = (
    *("trail", "stop", "profit", "leverage", "margin", "reduceonly", "limit", "offset"),
    *("risk", "slippage", "timeinforce", "postonly", "hedge", "positionside"),
)
_OFF = frozenset(("", "false", "0", "none", "no", "off"))
_SKIP = object()  # a field used in its container's own way (stopLoss.type)

# Container (normalised name) -> its own names (normalised) beyond the common aliases.
_STRATEGY = {"marketpositionsize": POSITION_FALLBACK}
_STOP = {
    "percent": STOP_PCT,
    "amount": STOP_OFFSET,
    "stopprice": "stop_loss",
    "price": "stop_loss",
    "type": _SKIP,
}
_TAKE = {
    "percent": TP_PCT,
    "amount": TP_OFFSET,
    "limitprice": "take_profit",
    "price": "take_profit",
}
_CONTAINERS: dict[str, dict[str, Any]] = {
    "order": {},
    "strategyinfo": _STRATEGY,
    "strategy": _STRATEGY,
    "stoploss": _STOP,
    "takeprofit": _TAKE,
}
# In these every field matters: an unknown one is a problem, not ignored.
_STRICT = frozenset(("stoploss", "takeprofit"))
_INFORMATION = frozenset(("bar",))  # kept in the raw alert, not read
# The types a JSON or text body's plain (not container) values come in.
SCALARS = frozenset((str, Decimal, int, float, bool, type(None)))


@dataclass
class Flat:
    given: list[tuple[str, str, Any]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    problems: dict[str, str] = field(default_factory=dict)


def flatten(obj: Mapping[str, Any]) -> Flat:
    """The alert's fields, one level, with what was ignored and what cannot be honoured."""
    flat = Flat()
    nested = False
    for key, value in obj.items():
        if type(value) in SCALARS and type(key) is str:
            # The usual field: a known name with a plain value, looked up once per name.
            plain = _plain_field(key)
            if plain is not None:
                flat.given.append((key, plain, value))
                continue
        if not isinstance(key, str) or key == TEXT_KEY or is_hidden_name(key):
            continue
        name = normalise(key)
        if isinstance(value, Mapping) and name in _CONTAINERS:
            nested = True
            _container(flat, key, name, value)
        elif name in _INFORMATION:
            flat.ignored.append(key)
        elif name in FIELD_OF and not (isinstance(value, Mapping | list) and name == "strategy"):
            flat.given.append((key, FIELD_OF[name], value))
        else:
            _unknown(flat, key, name, value)
    if nested:  # only a container (strategy_info) holds market_position_size
        _position_fallback(flat)
    return flat


@functools.lru_cache(maxsize=4096)  # bounded against invented names
def _plain_field(key: str) -> str | None:
    """The canonical field ``key`` names when its value is plain (not a container); None
    when the key needs flatten()'s closer look: hidden, information, unknown."""
    if key == TEXT_KEY or is_hidden_name(key):
        return None
    name = normalise(key)
    return None if name in _INFORMATION else FIELD_OF.get(name)


def _container(flat: Flat, key: str, name: str, inner: Mapping[str, Any]) -> None:
    own = _CONTAINERS[name]
    for child, value in inner.items():
        if not isinstance(child, str) or is_hidden_name(child):
            continue
        path, cname = f"{key}.{child}", normalise(child)
        if "trail" in cname and not _off(value):
            flat.problems[path] = f"{path}: {TRAILING}"
        elif name == "stoploss" and cname == "type":
            _stop_type(flat, path, value)
        elif cname in own:
            flat.given.append((path, own[cname], value))
        elif cname in FIELD_OF and name not in _STRICT:
            flat.given.append((path, FIELD_OF[cname], value))
        elif name in _STRICT and not _off(value):
            flat.problems[path] = (
                f"{path} is not supported: {key} takes a price, percent or amount"
                f" ({', '.join(k for k in own if own[k] is not _SKIP)})"
            )
        else:
            _unknown(flat, path, cname, value)


def _stop_type(flat: Flat, path: str, value: object) -> None:
    word = normalise(value) if isinstance(value, str) else ""
    if "trail" in word:
        flat.problems[path] = f"{path} is {value}: {TRAILING}"
    elif word not in ("stop", "stopmarket", "market", ""):
        flat.problems[path] = (
            f"{path} {value!r} is not supported: tvdesk places a stop at a price "
            "(type stop); send type stop or remove the stop-loss"
        )


def _unknown(flat: Flat, key: str, name: str, value: object) -> None:
    if "trail" in name and not _off(value):
        flat.problems[key] = f"{key}: {TRAILING}"
    elif any(part in name for part in _TRADE_PARTS) and not _off(value):
        flat.problems[key] = (
            f"{key} would change the trade, but tvdesk does not support it: remove it "
            "(see docs/alerts.md for the fields tvdesk reads)"
        )
    else:
        flat.ignored.append(key)


def _position_fallback(flat: Flat) -> None:
    # market_position_size is the size without its sign: only a stand-in for position_size.
    has_size = any(f == "position_size" for _, f, _ in flat.given)
    for i, (key, field_, value) in enumerate(flat.given):
        if field_ == POSITION_FALLBACK:
            if has_size:
                flat.ignored.append(key)
            flat.given[i] = (key, "position_size" if not has_size else "", value)
    flat.given = [entry for entry in flat.given if entry[1]]


def _off(value: object) -> bool:
    if value is None or value is False:
        return True
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return value == 0
    return isinstance(value, str) and value.strip().lower() in _OFF
