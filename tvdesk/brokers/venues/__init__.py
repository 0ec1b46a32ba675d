"""What differs between exchanges, one small module each behind the ``Venue`` interface.

The generic ccxt path (``generic``) is the default; ``binance``, ``bybit`` and ``okx``
(verified: loopback fakes) and ``coinbase``, ``kraken``, ``bitget``, ``kucoin``, ``gate``
(checked: request-capture tests) override what those exchanges do differently. Imports
ccxt only through the client handed in and nothing of tvdesk above ``brokers.errors``.
"""

from __future__ import annotations

from typing import Any, Protocol

from tvdesk.brokers.venues import binance, bitget, bybit, coinbase, gate, kraken, kucoin, okx
from tvdesk.brokers.venues.generic import Call, GenericVenue


class Venue(Protocol):
    """One exchange's ways, as the live broker needs them."""

    # ccxt's unified parameter for tvdesk's client order id, and where ccxt puts it.
    id_param: str
    id_field: str

    def client_order_id(self, cid: str) -> str:
        """tvdesk's client order id in the form this exchange accepts."""
        ...

    def trigger_params(self, cid: str) -> dict[str, Any]:
        """A stop-loss / take-profit's params for its client order id, or ``Unsupported``."""
        ...

    def options(self, market_type: str, recv_window_ms: int) -> dict[str, Any]:
        """ccxt options for this exchange (which markets to load, the receive window)."""
        ...

    def order_params(self, market: dict[str, Any], order_type: str, side: str) -> dict[str, Any]:
        """Extra ccxt params an order needs here (a market buy sized in the base coin)."""
        ...

    def buys_by_cost(self, api: Any, market: dict[str, Any]) -> bool:
        """A market buy here is an amount of the quote coin to spend (sent as ``cost``)."""
        ...

    def settle_s(self, recv_window_ms: int, margin_s: float) -> float:
        """After this long, an order the exchange does not know can no longer appear."""
        ...

    def normalize(self, order: dict[str, Any]) -> dict[str, Any]:
        """ccxt's order with this exchange's statuses in ccxt's unified words."""
        ...

    async def find(
        self, api: Any, call: Call, cid: str, symbol: str, since_ms: int
    ) -> dict[str, Any] | None:
        """The order with this client order id in any state, or None when there is none."""
        ...

    async def find_placed(
        self, api: Any, call: Call, order_id: str, cid: str, symbol: str, since_ms: int
    ) -> dict[str, Any] | None:
        """``find``, for an order the exchange acknowledged as ``order_id``."""
        ...

    async def cancel(self, api: Any, call: Call, order_id: str, symbol: str) -> dict[str, Any]:
        """Cancel the order with this exchange order id, wherever the exchange keeps it."""
        ...

    async def order_trades(
        self, api: Any, call: Call, order_id: str, symbol: str
    ) -> list[dict[str, Any]] | None:
        """The order's trades (for its fee); None where ccxt cannot list them."""
        ...


_VENUES: dict[str, type[GenericVenue]] = {
    "bybit": bybit.BybitVenue,
    "okx": okx.OkxVenue,
    "coinbase": coinbase.CoinbaseVenue,
    "kraken": kraken.KrakenVenue,
    "bitget": bitget.BitgetVenue,
    "kucoin": kucoin.KucoinVenue,
    "gate": gate.GateVenue,
    "gateio": gate.GateVenue,
}

# What the project's tests prove per exchange (README, "Exchanges: verified / checked").
VERIFIED = ("binance", "bybit", "okx")
CHECKED = ("kraken", "coinbase", "bitget", "kucoin", "gate")
OFFERED = VERIFIED + CHECKED  # what the window offers
_ALIASES = {"binanceusdm": "binance", "gateio": "gate"}


def untested(exchange_id: str) -> str | None:
    """Why tvdesk warns about an exchange set by hand that is neither verified nor checked."""
    if _ALIASES.get(exchange_id, exchange_id) in OFFERED:
        return None
    return (
        f"{exchange_id} is neither verified nor checked by tvdesk's tests: its client order "
        "ids, market buys and order lookups may not work there, and an order whose reply is "
        f"lost could be placed twice. Tested exchanges: {', '.join(OFFERED)}"
    )


def venue_for(exchange_id: str) -> Venue:
    """The exchange's venue; the generic ccxt path for every exchange without its own."""
    if exchange_id.startswith("binance"):  # binance, binanceus, binanceusdm, ...
        return binance.BinanceVenue(exchange_id)
    return _VENUES.get(exchange_id, GenericVenue)(exchange_id)


__all__ = ["CHECKED", "OFFERED", "VERIFIED", "Call", "Venue", "untested", "venue_for"]
