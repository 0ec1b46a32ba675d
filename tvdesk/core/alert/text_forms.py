"""Text bodies (TradingView posts a message that is not JSON as text/plain), read into the
same mapping a JSON alert is, with the secret from the syntax's own slot under ``secret``:

- ``KEY=VALUE`` lines or ``;``-separated, and Autoview's ``k=v`` (text_kv.py);
- PineConnector's ``LICENCE,command,SYMBOL,key=value,...`` (the licence slot holds the secret);
- TradingView's default strategy message, the secret alone on the line before it;
- any other text after a first-line secret: a notification, refused for having no side.

The mapping is JSON-able, so it is journaled and replayed like a JSON alert; what the
reading found (dialect, notes, problems) travels under names.TEXT_KEY.
"""

import re
from typing import Any

from tvdesk.core.alert.fields import BodyError
from tvdesk.core.alert.json_body import load_body
from tvdesk.core.alert.names import TEXT_KEY, normalise
from tvdesk.core.alert.nested import TRAILING
from tvdesk.core.alert.text_kv import pairs, read_pairs

TEXT_FORMS = (
    "KEY=VALUE lines (SYMBOL=BTCUSDT, SIGNAL=BUY, VOLUME=0.01, TOKEN=<secret>), Autoview's "
    "'e=binance s=BTCUSDT b=buy q=0.01 t=market secret=<secret>', PineConnector's "
    "'<secret>,buy,BTCUSDT,risk=0.01', or TradingView's default strategy message with the "
    "secret alone on the first line"
)
_DEFAULT_MESSAGE = re.compile(
    r"(?P<strategy>.*?):\s*order\s+(?P<side>\S+)\s*@\s*(?P<qty>\S+)\s+filled\s+on\s+"
    r"(?P<symbol>\S+?)\.\s*New\s+strategy\s+position\s+is\s+(?P<position>\S+?)\.?",
    re.IGNORECASE | re.DOTALL,
)
_COMMAND = re.compile(r"[A-Za-z]+")
_PINE_KEYS = {"risk": "qty", "sl": "stop_loss", "tp": "take_profit", "price": "price"}
_PINE_KEYS |= {"comment": "comment"}


def load_alert_body(raw: bytes) -> dict[str, Any]:
    """A webhook body as the mapping to authenticate and parse: a JSON object, or a text
    body in one of TEXT_FORMS; BodyError (400) otherwise."""
    try:
        return load_body(raw)
    except BodyError as e:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise e from None
        if text.lstrip()[:1] in ("{", "[", ""):
            raise
        mapping = read_text(text)
        if mapping is None:
            raise BodyError(f"{e}; or send a text alert tvdesk reads: {TEXT_FORMS}") from None
        return mapping


def read_text(text: str) -> dict[str, Any] | None:
    """The canonical mapping of a text alert, or None when it is in no form tvdesk reads."""
    form = _form(text)
    if form is not None:
        return form
    first, _, rest = text.strip().partition("\n")
    first = first.strip()
    if not rest.strip() or not first or any(c.isspace() for c in first):
        return None
    # The secret alone on the first line, then the message.
    body = _form(rest) or _default_message(rest) or _notification(rest)
    slot = "passphrase" if "secret" in body else "secret"
    return {slot: first, **body}


def _form(text: str) -> dict[str, Any] | None:
    found = pairs(text)
    if found is not None:
        return read_pairs(text, found)
    return _pineconnector(text)


def _pineconnector(text: str) -> dict[str, Any] | None:
    parts = [part.strip() for part in text.strip().split(",")]
    if len(parts) < 3 or "\n" in text.strip() or not _COMMAND.fullmatch(parts[1]):
        return None
    licence, command, symbol, *options = parts
    if not licence or "=" in licence or any(c.isspace() for c in licence) or "=" in symbol:
        return None
    out: dict[str, Any] = {"secret": licence, "side": command, "symbol": symbol}
    notes: list[str] = []
    problems: dict[str, str] = {}
    for option in options:
        key, sep, value = option.partition("=")
        field = _PINE_KEYS.get(normalise(key))
        if not sep or field is None:
            trail = "trail" in normalise(key)
            problems[key or option] = (
                f"{key}: {TRAILING}"
                if trail
                else (
                    f"{key or option} is not a PineConnector option tvdesk reads, and it may "
                    "change the trade: remove it (tvdesk reads risk=, sl=, tp=, price=, comment=)"
                )
            )
        elif field in out:
            problems[key] = f"{key} appears twice: send it once"
        else:
            out[field] = value.strip().strip("\"'")
    if "qty" in out:
        notes.append(
            f"risk={out['qty']} read as a quantity of {out['qty']} in base units "
            "(PineConnector's default volume type, lots; 1 lot = 1 coin)"
        )
    notes += [f"{k}= read as a price" for k in ("sl", "tp") if _PINE_KEYS[k] in out]
    meta = {"dialect": "text-comma-pineconnector", "notes": notes, "problems": problems}
    return {**out, TEXT_KEY: meta}


def _default_message(text: str) -> dict[str, Any] | None:
    match = _DEFAULT_MESSAGE.fullmatch(text.strip())
    if match is None:
        return None
    out = {
        "strategy": match["strategy"].strip(),
        "side": match["side"],
        "qty": match["qty"],
        "symbol": match["symbol"],
        "position_size": match["position"],
    }
    return {**out, TEXT_KEY: {"dialect": "text-tradingview-default", "notes": [], "problems": {}}}


def _notification(text: str) -> dict[str, Any]:
    refuse = (
        "no side (buy/sell) in the alert: the text reads as a notification (like an "
        "indicator's price alert), not an order; send an order in a form tvdesk reads: "
        + TEXT_FORMS
    )
    return {TEXT_KEY: {"dialect": "text-notification", "notes": [], "refuse": {"side": refuse}}}
