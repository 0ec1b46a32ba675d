"""Bybit v5 (spot and linear): ``orderLinkId``, and two places an order can be.

ccxt puts ``clientOrderId`` in ``orderLinkId`` (up to 36 characters: tvdesk's 32
alphanumerics fit). ``/v5/order/realtime`` lists open orders, ``/v5/order/history`` the
finished ones, both filtered by ``orderLinkId``; ccxt's closed-order list asks for
``Filled`` only, so an order that filled partly and was then canceled was invisible there.
Bybit calls that state ``PartiallyFilledCanceled`` (spot), which ccxt reports as
``closed``: it is a cancel with a fill, and tvdesk records it as one.

A spot market buy's ``qty`` is in the quote coin unless ``marketUnit`` says otherwise, so
tvdesk always sends ``baseCoin``: the amount bought is the amount asked for. Bybit refuses
a request that arrives later than its receive window after its timestamp, so an order not
found after that window never will be; ccxt is given tvdesk's window.
"""

from __future__ import annotations

from typing import Any

from tvdesk.brokers.venues.generic import Call, GenericVenue, first_with


class BybitVenue(GenericVenue):
    id_field = "orderLinkId"

    def options(self, market_type: str, recv_window_ms: int) -> dict[str, Any]:
        return {
            "recvWindow": recv_window_ms,
            "fetchMarkets": {"types": ["linear" if market_type == "swap" else "spot"]},
        }

    def order_params(self, market: dict[str, Any], order_type: str, side: str) -> dict[str, Any]:
        if market.get("spot") and order_type == "market":
            return {"marketUnit": "baseCoin"}
        return {}

    def normalize(self, order: dict[str, Any]) -> dict[str, Any]:
        info = order.get("info") or {}
        if info.get("orderStatus") in ("PartiallyFilledCanceled", "PARTIALLY_FILLED_CANCELLED"):
            return {**order, "status": "canceled"}
        return order

    async def find(
        self, api: Any, call: Call, cid: str, symbol: str, since_ms: int
    ) -> dict[str, Any] | None:
        by_id = {"orderLinkId": cid}
        # Open first: an order that finishes between the two requests is then in the history.
        found = first_with(await call(api.fetch_open_orders(symbol, None, None, by_id)), cid)
        if found is None:
            finished = api.fetch_canceled_and_closed_orders(symbol, since_ms, None, by_id)
            found = first_with(await call(finished), cid)
        return found
