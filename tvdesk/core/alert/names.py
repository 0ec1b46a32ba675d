"""Field names as senders spell them: every alias of a canonical field, matched with case
and separators ignored (``stopLoss`` = ``stop_loss`` = ``STOP-LOSS``), and the secret slots.
"""

import functools
from collections.abc import Mapping
from typing import Any

from tvdesk.core.alert.fields import SECRET_FIELDS, is_credential_name

# A text body's reading (text_forms.py) travels in the mapping under this exact key, so the
# mapping can be journaled as JSON and read again the same way on a replay.
TEXT_KEY = "tvdesk_text"

_SEPARATORS = str.maketrans("", "", "_- .")

# Canonical field -> its names (DESIGN.md, "Webhook: POST /webhook"). `id` and `order_id`
# are deliberately absent: bridges fill them with {{strategy.order.id}} ("Long"), the same
# on every trade, so they are free text, never the de-duplication key.
ALIASES: dict[str, tuple[str, ...]] = {
    "symbol": ("symbol", "ticker", "instrument", "tv_instrument"),
    "exchange": ("exchange", "tv_exchange"),
    "side": ("side", "action", "order_action"),
    "qty": ("qty", "quantity", "size", "amount", "contracts", "order_contracts"),
    "notional": ("notional",),
    "qty_pct": ("qty_pct",),
    "position_size": ("position_size", "target_position"),
    "market_position": ("market_position", "sentiment"),
    "order_type": ("order_type", "type"),
    "price": ("price", "signal_price", "trigger_price", "order_price"),
    "limit_price": ("limit_price",),
    "stop_loss": ("stop_loss", "sl"),
    "take_profit": ("take_profit", "tp"),
    "client_ref": ("client_ref", "client_id", "idempotency_key"),
    "timestamp": ("timestamp", "time", "timenow", "source_timestamp"),
    "confidence": ("confidence",),
    "strategy": ("strategy",),
    "comment": ("comment",),
    "signal": ("signal",),
    "test": ("test",),
    "leverage": ("leverage", "lever"),
    "unit": ("quantity_type", "investment_type", "currency_type", "unit", "qty_unit"),
}


@functools.lru_cache(maxsize=4096)  # hot path; bounded against invented names
def normalise(key: str) -> str:
    """The name with case and the separators ``_ - . space`` taken out."""
    return key.lower().translate(_SEPARATORS)


# Normalised name as sent -> canonical field.
FIELD_OF = {normalise(alias): field for field, names in ALIASES.items() for alias in names}
SECRET_NAMES = frozenset(normalise(name) for name in SECRET_FIELDS)


def is_secret_name(key: str) -> bool:
    """Whether the field is a slot for the webhook secret (``signalToken``, ``PASSPHRASE``...)."""
    return normalise(key) in SECRET_NAMES


@functools.lru_cache(maxsize=4096)  # hot path: every field name of every alert
def is_hidden_name(key: str) -> bool:
    """Whether a field is never read: a secret slot (it authenticates) or a credential-looking
    name (it is refused)."""
    return is_secret_name(key) or is_credential_name(key)


def body_secrets(obj: Mapping[str, Any]) -> list[Any]:
    """The values in the body's secret slots, as sent: what authentication compares.

    ``obj`` is what ``load_alert_body`` returns, so a text body's slot (``TOKEN=``, the
    licence, a first line) is already under ``secret``.
    """
    return [value for key, value in obj.items() if isinstance(key, str) and is_secret_name(key)]
