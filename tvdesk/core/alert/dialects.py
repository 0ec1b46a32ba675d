"""Which product's format a JSON alert is in, for the decision trail ("dialect:
traderspost"). Information only: every JSON dialect is read by the same names and rules.
"""

from collections.abc import Mapping
from typing import Any

from tvdesk.core.alert.names import normalise

# tvdesk's own names (README's template and DESIGN's table, canonical spellings).
_TVDESK = frozenset(
    normalise(name)
    for name in (
        *("symbol", "side", "qty", "notional", "qty_pct", "position_size", "target_position"),
        *("market_position", "order_type", "price", "stop_loss", "take_profit", "client_ref"),
        *("timestamp", "confidence", "strategy", "comment", "signal", "test", "secret"),
        "exchange",
    )
)
# (dialect, names of which any one marks it), first match wins.
_MARKERS = (
    ("json-okx-signal-bot", ("signalToken", "investmentType", "prevMarketPosition")),
    ("json-3commas", ("bot_uuid", "tv_instrument", "tv_exchange", "strategy_info")),
    ("json-signalbee", ("webhook_secret", "source_timestamp")),
    ("json-traderspost", ("sentiment", "signalPrice", "quantityType", "limitPrice")),
)
_MARKER_OF = tuple((dialect, frozenset(map(normalise, names))) for dialect, names in _MARKERS)


def json_dialect(obj: Mapping[str, Any]) -> str:
    """The dialect name of a JSON alert: json-tvdesk, json-traderspost, json-3commas, ..."""
    names = {normalise(key) for key in obj if isinstance(key, str)}
    for dialect, markers in _MARKER_OF:
        if names & markers:
            return dialect
    if {"ticker", "action"} <= names:
        return "json-traderspost"
    if isinstance(obj.get("strategy"), Mapping):
        return "json-nested-strategy"
    return "json-tvdesk" if names <= _TVDESK else "json-generic"
