"""The generic ccxt path: what tvdesk does on an exchange without a module of its own.

The client order id goes in ccxt's unified ``clientOrderId`` param; a lookup lists the open
orders and every finished one ccxt can list (closed *and* canceled, so an order that filled
partly and was then canceled is found too) and picks it by that id.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from tvdesk.brokers.errors import Unsupported
from tvdesk.brokers.venues.cost import requires_cost

# Turns a ccxt call into its result, with ccxt's exceptions as tvdesk's own.
Call = Callable[[Awaitable[Any]], Awaitable[Any]]


def first_with(orders: list[dict[str, Any]], cid: str) -> dict[str, Any] | None:
    return next((o for o in orders if o.get("clientOrderId") == cid), None)


class GenericVenue:
    id_param = "clientOrderId"
    id_field = "clientOrderId"

    def __init__(self, exchange_id: str = "") -> None:
        self.exchange_id = exchange_id

    def client_order_id(self, cid: str) -> str:
        """Most take up to 32 alphanumerics as they are.

        Every Kraken id without a module of its own (``krakenfutures``, neither verified
        nor checked) keeps the UUID derived from it that it always got (as ``kraken.py``),
        so an order journaled before is still found by it.
        """
        if self.exchange_id.startswith("kraken"):
            return str(uuid.uuid5(uuid.NAMESPACE_URL, f"tvdesk:{cid}"))
        return cid

    def trigger_params(self, cid: str) -> dict[str, Any]:
        """What a stop-loss / take-profit order adds to its params for its client order id;
        raises ``Unsupported`` (with what to do instead) where tvdesk cannot place one safely.

        Here the id goes where a normal order's goes (``id_param``): nothing to add.
        """
        return {}

    def options(self, market_type: str, recv_window_ms: int) -> dict[str, Any]:
        return {}

    def order_params(self, market: dict[str, Any], order_type: str, side: str) -> dict[str, Any]:
        return {}

    def buys_by_cost(self, api: Any, market: dict[str, Any]) -> bool:
        """A market buy here is an amount of the quote coin to spend (ccxt wants a cost)."""
        return requires_cost(api, market)

    def settle_s(self, recv_window_ms: int, margin_s: float) -> float:
        return recv_window_ms / 1000 + margin_s

    def normalize(self, order: dict[str, Any]) -> dict[str, Any]:
        return order

    async def cancel(self, api: Any, call: Call, order_id: str, symbol: str) -> dict[str, Any]:
        """Cancel the order with this exchange order id, wherever the exchange keeps it."""
        return await call(api.cancel_order(order_id, symbol))

    async def order_trades(
        self, api: Any, call: Call, order_id: str, symbol: str
    ) -> list[dict[str, Any]] | None:
        """The order's trades (for its fee); None where ccxt cannot list them."""
        if not api.has.get("fetchOrderTrades"):
            return None
        return await call(api.fetch_order_trades(order_id, symbol))

    async def find_placed(
        self, api: Any, call: Call, order_id: str, cid: str, symbol: str, since_ms: int
    ) -> dict[str, Any] | None:
        """``find``, for an order the exchange acknowledged as ``order_id``: by its client
        order id, as any other, where the exchange keeps one on every order."""
        return await self.find(api, call, cid, symbol, since_ms)

    async def find(
        self, api: Any, call: Call, cid: str, symbol: str, since_ms: int
    ) -> dict[str, Any] | None:
        has = api.has
        orders: list[dict[str, Any]] = []
        if has.get("fetchOpenOrders"):
            orders += await call(api.fetch_open_orders(symbol))
        if has.get("fetchOrders"):
            orders += await call(api.fetch_orders(symbol, since_ms))
        elif has.get("fetchCanceledAndClosedOrders"):
            orders += await call(api.fetch_canceled_and_closed_orders(symbol, since_ms))
        elif has.get("fetchClosedOrders"):
            orders += await call(api.fetch_closed_orders(symbol, since_ms))
            if has.get("fetchCanceledOrders"):
                orders += await call(api.fetch_canceled_orders(symbol, since_ms))
        else:
            raise Unsupported(
                f"{self.exchange_id} cannot list orders, so tvdesk cannot look one up"
            )
        return first_with(orders, cid)
