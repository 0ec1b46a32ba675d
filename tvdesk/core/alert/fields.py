"""The canonical alert: its fields (the `Alert` dataclass) and their accepted names, the
limits on them, the names that carry secrets or credentials, and the errors a body can earn.

`alert_to_dict` / `alert_from_dict` are the alert's JSON-able form, as journaled and replayed.
"""

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

# The slots for the webhook secret; names.py matches them with case and separators ignored
# (``signalToken`` = ``signal_token``).
SECRET_FIELDS = ("secret", "token", "passphrase", "webhook_secret", "signal_token")
# Secrets are scrubbed from what is journaled as substrings, so a short one would cut
# ordinary values apart ("41234.5" with secret "1234"); the keystore refuses shorter ones.
MIN_WEBHOOK_SECRET_LEN = 16
# A field whose normalised name (see is_credential_name) contains one of these holds an
# exchange or wallet credential: bridges name them every way (api_secret_key, apiSecret,
# binance_api_key), so a list of exact names always misses one. The webhook secret's own
# aliases (SECRET_FIELDS, webhook_secret, signal_token) contain none of them.
CREDENTIAL_NAME_PARTS = (
    *("apikey", "apisecret", "apipass", "apitoken", "secretkey", "privatekey", "privkey"),
    *("password", "passwd", "accesskey", "accesstoken", "authtoken", "refreshtoken"),
    *("clientsecret", "mnemonic", "seedphrase", "credential"),
)

MAX_SYMBOL_LEN = 64
MAX_CLIENT_REF_LEN = 128


_CREDENTIAL_PART = re.compile("|".join(CREDENTIAL_NAME_PARTS))


# Cached: every alert's field names pass here on the webhook's hot path, and senders
# repeat the same few names (bounded, so a flood of invented names cannot grow it).
@functools.lru_cache(maxsize=4096)
def is_credential_name(key: str) -> bool:
    """Whether a field name looks like an exchange credential's.

    Case and separators do not count: ``api_secret_key``, ``apiSecret``, ``API-KEY``,
    ``binance_api_key`` and ``Password`` all do.
    """
    normalised = "".join(c for c in key.lower() if c.isalnum())
    return _CREDENTIAL_PART.search(normalised) is not None


class BodyError(ValueError):
    """The body is not JSON or not a JSON object. str(e) is a plain-language message."""


class InvalidAlert(ValueError):
    """The alert is JSON but a field is missing or wrong; `fields` says which and how to fix."""

    def __init__(self, message: str, fields: Mapping[str, str]) -> None:
        super().__init__(message)
        self.message = message
        self.fields = dict(fields)


@dataclass(frozen=True)
class Alert:
    """A validated alert. ``side`` is "buy", "sell", None (a target position) or "cancel":
    cancel tvdesk's resting orders on the market, trading nothing (it carries no size).

    ``qty_unit`` is "base" (coins) or "contracts" (passed through on perpetuals). The trail
    shows ``dialect`` (the format recognised) and ``ignored`` (fields not used).
    """

    symbol: str
    side: str | None
    exchange: str | None = None
    qty: Decimal | None = None
    qty_unit: str = "base"
    notional: Decimal | None = None
    qty_pct: Decimal | None = None
    target_position: Decimal | None = None
    market_position: str | None = None
    order_type: str = "market"
    price: Decimal | None = None
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    leverage: Decimal | None = None  # perpetuals: within risk.max_leverage
    client_ref: str | None = None
    timestamp: float | None = None
    confidence: Decimal | None = None
    strategy: str | None = None
    comment: str | None = None
    signal: str | None = None
    test: bool = False
    notes: tuple[str, ...] = ()
    dialect: str = ""
    ignored: tuple[str, ...] = ()

    @property
    def sizing(self) -> str:
        """How the alert sizes its order: "qty" | "notional" | "qty_pct" | "target", or
        "cancel" for a cancel (no order to size)."""
        if self.side == "cancel":
            return "cancel"
        if self.qty is not None:
            return "qty"
        if self.notional is not None:
            return "notional"
        if self.qty_pct is not None:
            return "qty_pct"
        return "target"


_FIELD_NAMES = tuple(f.name for f in fields(Alert))
_DECIMAL_FIELDS = frozenset(
    ("qty", "notional", "qty_pct", "target_position", "price", "stop_loss", "take_profit")
) | {"confidence", "leverage"}


def alert_to_dict(alert: Alert) -> dict[str, Any]:
    """A JSON-able dict of the alert: Decimals as strings, None kept, notes as a list."""
    # By hand: dataclasses.asdict deep-copies every field, on the webhook's hot path.
    d = {name: getattr(alert, name) for name in _FIELD_NAMES}
    for name in _DECIMAL_FIELDS:
        if d[name] is not None:
            d[name] = str(d[name])
    d["notes"] = list(alert.notes)
    d["ignored"] = list(alert.ignored)
    return d


def alert_from_dict(d: Mapping[str, Any]) -> Alert:
    """The inverse of alert_to_dict."""
    values = {name: d[name] for name in _FIELD_NAMES if name in d}
    for name in _DECIMAL_FIELDS & values.keys():
        if values[name] is not None:
            values[name] = Decimal(str(values[name]))
    if values.get("timestamp") is not None:
        values["timestamp"] = float(values["timestamp"])
    values["notes"] = tuple(values.get("notes", ()))
    values["ignored"] = tuple(values.get("ignored", ()))
    return Alert(**values)
