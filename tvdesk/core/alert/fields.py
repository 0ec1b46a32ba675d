"""The canonical alert: its fields (the `Alert` dataclass) and their accepted names, the
limits on them, the names that carry secrets or credentials, and the errors a body can earn.

`alert_to_dict` / `alert_from_dict` are the alert's JSON-able form, as journaled and replayed.
"""

from collections.abc import Mapping
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

SECRET_FIELDS = ("secret", "token", "passphrase")
# Secrets are scrubbed from what is journaled as substrings, so a short one would cut
# ordinary values apart ("41234.5" with secret "1234"); the keystore refuses shorter ones.
MIN_WEBHOOK_SECRET_LEN = 16
CREDENTIAL_FIELDS = (
    *("apikey", "api_key", "api-key", "apisecret", "api_secret", "api-secret"),
    *("apipassword", "api_password", "password", "apipassphrase", "api_passphrase"),
    *("secretkey", "secret_key", "privatekey", "private_key"),
)

MAX_SYMBOL_LEN = 64
MAX_CLIENT_REF_LEN = 128

_ALIASES: dict[str, tuple[str, ...]] = {
    "symbol": ("symbol", "ticker"),
    "exchange": ("exchange",),
    "side": ("side", "action"),
    "qty": ("qty", "quantity", "size", "amount", "contracts"),
    "notional": ("notional",),
    "qty_pct": ("qty_pct",),
    "position_size": ("position_size", "target_position"),
    "market_position": ("market_position",),
    "order_type": ("order_type", "type"),
    "price": ("price",),
    "stop_loss": ("stop_loss",),
    "take_profit": ("take_profit",),
    "client_ref": ("client_ref", "id", "client_id", "order_id"),
    "timestamp": ("timestamp", "time", "timenow"),
    "confidence": ("confidence",),
    "strategy": ("strategy",),
    "comment": ("comment",),
    "signal": ("signal",),
    "test": ("test",),
}
# Lower-case name as sent -> canonical field.
FIELD_OF = {alias: field for field, aliases in _ALIASES.items() for alias in aliases}


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
    symbol: str
    side: str | None
    exchange: str | None = None
    qty: Decimal | None = None
    notional: Decimal | None = None
    qty_pct: Decimal | None = None
    target_position: Decimal | None = None
    market_position: str | None = None
    order_type: str = "market"
    price: Decimal | None = None
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    client_ref: str | None = None
    timestamp: float | None = None
    confidence: Decimal | None = None
    strategy: str | None = None
    comment: str | None = None
    signal: str | None = None
    test: bool = False
    notes: tuple[str, ...] = ()

    @property
    def sizing(self) -> str:
        """How the alert sizes its order: "qty" | "notional" | "qty_pct" | "target"."""
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
) | {"confidence"}


def alert_to_dict(alert: Alert) -> dict[str, Any]:
    """A JSON-able dict of the alert: Decimals as strings, None kept, notes as a list."""
    # By hand: dataclasses.asdict deep-copies every field, on the webhook's hot path.
    d = {name: getattr(alert, name) for name in _FIELD_NAMES}
    for name in _DECIMAL_FIELDS:
        if d[name] is not None:
            d[name] = str(d[name])
    d["notes"] = list(alert.notes)
    return d


def alert_from_dict(d: Mapping[str, Any]) -> Alert:
    """The inverse of alert_to_dict."""
    values = {f.name: d[f.name] for f in fields(Alert) if f.name in d}
    for name in _DECIMAL_FIELDS & values.keys():
        if values[name] is not None:
            values[name] = Decimal(str(values[name]))
    if values.get("timestamp") is not None:
        values["timestamp"] = float(values["timestamp"])
    values["notes"] = tuple(values.get("notes", ()))
    return Alert(**values)
