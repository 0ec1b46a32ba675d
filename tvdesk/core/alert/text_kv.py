"""The key=value text syntaxes: ``KEY=VALUE`` lines or ``;``-separated (OctoBot and the
bots that copied it) and Autoview's space-separated single letters (``b=buy q=0.01``).

Each reads into the canonical mapping (text_forms.py); a key the syntax does not define
is a problem naming it: in a command syntax every key is an instruction.
"""

import re
from typing import Any

from tvdesk.core.alert.names import TEXT_KEY, normalise
from tvdesk.core.alert.nested import TRAILING

_PAIR = re.compile(r"\s*([A-Za-z][A-Za-z0-9_.\-]*)\s*=\s*(.*?)\s*", re.DOTALL)

# Normalised key -> canonical field (OctoBot's names, and the plain ones bots use).
_LINES = {
    **dict.fromkeys(("exchange",), "exchange"),
    **dict.fromkeys(("symbol", "ticker"), "symbol"),
    **dict.fromkeys(("signal", "side", "action"), "side"),
    **dict.fromkeys(("volume", "qty", "quantity", "size", "amount"), "qty"),
    **dict.fromkeys(("price",), "price"),
    **dict.fromkeys(("ordertype", "type"), "order_type"),
    **dict.fromkeys(("stopprice", "stoploss", "sl"), "stop_loss"),
    **dict.fromkeys(("takeprofitprice", "takeprofit", "tp"), "take_profit"),
    **dict.fromkeys(("token", "secret", "passphrase"), "secret"),
    **dict.fromkeys(("comment",), "comment"),
    **dict.fromkeys(("clientref",), "client_ref"),
    **dict.fromkeys(("timestamp", "time", "timenow"), "timestamp"),
}
# Autoview (autoview.com/syntax): e exchange, s symbol, b side, q quantity (q=10% is a
# percent of the balance), t type (its default is limit at the book), p price, c cancel/close.
_AUTOVIEW = {
    "e": "exchange",
    "s": "symbol",
    "b": "side",
    "q": "qty",
    "t": "order_type",
    "p": "price",
    "c": "c",
    "secret": "secret",
}
_AUTOVIEW_C = {"order": "cancel", "position": "close"}


def pairs(text: str) -> list[tuple[str, str]] | None:
    """The text's (key, value) pairs; None unless every part is key=value."""
    one_line = "\n" not in text.strip() and ";" not in text
    parts = text.split() if one_line else re.split(r"[\n;]", text)
    found = []
    for part in parts:
        if not part.strip():
            continue
        match = _PAIR.fullmatch(part)
        if match is None:
            return None
        found.append((match.group(1), match.group(2).strip("\"'")))
    return found or None


def read_pairs(text: str, found: list[tuple[str, str]]) -> dict[str, Any]:
    """The canonical mapping of a key=value text (``found`` = pairs(text))."""
    keys = {normalise(key) for key, _ in found}
    autoview = "\n" not in text.strip() and ";" not in text and keys <= _AUTOVIEW.keys()
    table = _AUTOVIEW if autoview else _LINES
    dialect = "text-kv-autoview" if autoview else "text-kv-lines"
    if not autoview and "volume" in keys:
        dialect = "text-kv-lines-octobot"
    out: dict[str, Any] = {}
    problems: dict[str, str] = {}
    notes: list[str] = []
    for key, value in found:
        field = table.get(normalise(key))
        if field is None:
            trail = "trail" in normalise(key)
            problems[key] = f"{key}= {TRAILING}" if trail else _unknown_key(key, dialect)
        elif field in out:
            problems[key] = f"{key} appears twice: send it once"
        else:
            out[field] = value
    if autoview:
        _autoview(out, problems, notes)
    elif isinstance(qty := out.get("qty"), str) and qty.endswith("%"):
        problems["qty"] = (
            f"a percent size ({qty}) in this syntax is not read: its base is not the free "
            "balance tvdesk's qty_pct uses; send the size in coins"
        )
    return {**out, TEXT_KEY: {"dialect": dialect, "notes": notes, "problems": problems}}


def _autoview(out: dict[str, Any], problems: dict[str, str], notes: list[str]) -> None:
    command = out.pop("c", None)
    if command is not None:
        action = _AUTOVIEW_C.get(command.strip().lower())
        if action is None:
            problems["c"] = f"c={command} is not supported: c=order cancels, c=position closes"
        elif "side" in out:
            problems["c"] = f"c={command} with b={out['side']}: send one of them"
        else:
            out["side"] = action
    qty = out.get("qty")
    if isinstance(qty, str) and qty.endswith("%"):
        out["qty_pct"] = out.pop("qty")[:-1]
        notes.append(f"q={qty}: {qty} of the free balance")
    if "order_type" not in out and command is None:
        if "price" in out:
            out["order_type"] = "limit"
            notes.append("no t=: a limit order at p= (Autoview's default type is limit)")
        else:
            problems["t"] = (
                "t is missing: Autoview's default order type is a limit at the book, which "
                "tvdesk does not place; send t=market, or t=limit with p=<price>"
            )


def _unknown_key(key: str, dialect: str) -> str:
    known = (
        "e, s, b, q, t, p, c, secret"
        if dialect == "text-kv-autoview"
        else (
            "EXCHANGE, SYMBOL, SIGNAL, VOLUME (or QTY), PRICE, ORDER_TYPE, STOP_PRICE, "
            "TAKE_PROFIT_PRICE, COMMENT, TOKEN"
        )
    )
    return (
        f"{key} is not a key tvdesk reads in this syntax, and it may change the trade: "
        f"remove it (tvdesk reads {known})"
    )
