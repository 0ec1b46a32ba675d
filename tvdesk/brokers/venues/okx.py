"""OKX v5 (spot and swap): ``clOrdId``, one lookup for orders and one for algo orders.

ccxt puts ``clientOrderId`` in ``clOrdId`` (1 to 32 alphanumerics: tvdesk's id as it is).
``GET /api/v5/trade/order`` by ``clOrdId`` answers for an order in any state (canceled with
``accFillSz`` set is a partial fill then cancel); stop and take-profit orders live apart,
at ``/api/v5/trade/order-algo`` by ``algoClOrdId``. That is also the id OKX's
``POST /api/v5/trade/order-algo`` takes, while ccxt puts ``clientOrderId`` in ``clOrdId``
there too: a stop goes with tvdesk's id in ``algoClOrdId`` and none from ccxt's
``clientOrderId`` (ccxt then fills ``clOrdId`` with its own), so the lookup finds it.
Cancelling one goes to ``/api/v5/trade/cancel-algos``: ``cancel-order`` knows no algo id
(51400), and an exit that must lift its stop-loss first would never be sent.
A spot market buy is sized in the base coin (ccxt sends ``tgtCcy=base_ccy``).

OKX takes a request up to 30 s after its ``OK-ACCESS-TIMESTAMP`` (ccxt sends no
``expTime``), so an order not found is only known absent after that.
"""

from __future__ import annotations

from typing import Any

from tvdesk.brokers.errors import NotFound
from tvdesk.brokers.venues.generic import Call, GenericVenue

REQUEST_LIFETIME_S = 30.0


class OkxVenue(GenericVenue):
    id_field = "clOrdId"

    def options(self, market_type: str, recv_window_ms: int) -> dict[str, Any]:
        return {"fetchMarkets": {"types": ["swap" if market_type == "swap" else "spot"]}}

    def trigger_params(self, cid: str) -> dict[str, Any]:
        return {"clientOrderId": None, "algoClOrdId": self.client_order_id(cid)}

    def normalize(self, order: dict[str, Any]) -> dict[str, Any]:
        """An algo order's client order id is its ``algoClOrdId`` (ccxt reads ``clOrdId``)."""
        algo_id = (order.get("info") or {}).get("algoClOrdId")
        return {**order, "clientOrderId": algo_id} if algo_id else order

    def settle_s(self, recv_window_ms: int, margin_s: float) -> float:
        return REQUEST_LIFETIME_S + margin_s

    async def cancel(self, api: Any, call: Call, order_id: str, symbol: str) -> dict[str, Any]:
        try:
            return await call(api.cancel_order(order_id, symbol))
        except NotFound:
            pass
        # Not an order: a stop-loss / take-profit, which OKX keeps among its algo orders.
        return await call(api.cancel_order(order_id, symbol, {"trigger": True}))

    async def find(
        self, api: Any, call: Call, cid: str, symbol: str, since_ms: int
    ) -> dict[str, Any] | None:
        for where in ({"clOrdId": cid}, {"clOrdId": cid, "trigger": True}):
            try:
                found = await call(api.fetch_order(None, symbol, where))
            except NotFound:
                continue
            # Only an order that carries the id: an empty answer parses as an empty order.
            if cid in ((found.get("info") or {}).get(k) for k in ("clOrdId", "algoClOrdId")):
                return found
        return None
