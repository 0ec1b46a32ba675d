"""Binance (spot and USDⓈ-M): one request finds an order by its client order id.

``GET /api/v3/order`` (``/fapi/v1/order`` on USDⓈ-M) with ``origClientOrderId`` answers for
an order in any state, a partly filled then canceled one included; ccxt maps
``clientOrderId`` to it. One request loads the markets of the one market type tvdesk trades
(no currencies, no margin pairs), and ccxt's receive window is tvdesk's.

On futures, a stop-loss / take-profit (``STOP_MARKET`` / ``TAKE_PROFIT_MARKET``) is an
*algo* order: ccxt places it at ``/fapi/v1/algoOrder`` under ``clientAlgoId``, and Binance
keeps it apart from the orders (its own ids, its own lookup and cancel endpoints). So on a
contract market an order not found among the orders is looked for among the algo orders,
and a cancel the orders do not know goes to the algo orders. A triggered algo order has
become an order of its own (``actualOrderId``): that order is what it filled. ccxt lists a
futures order's trades (its fee) only through ``fetch_my_trades`` with the ``orderId``.
"""

from __future__ import annotations

from typing import Any

from tvdesk.brokers.errors import NotFound
from tvdesk.brokers.venues.generic import Call, GenericVenue

# ccxt's fetch_order takes {"clientOrderId": ...} on every Binance API (checked in ccxt's
# source); the other Binance ids search the open and recent orders, as the generic path does.
_FETCH_BY_CLIENT_ID = {"binance", "binanceus", "binanceusdm", "binancecoinm"}


def _contract(api: Any, symbol: str) -> bool:
    market = (api.markets or {}).get(symbol) or {}
    return bool(market.get("contract"))


class BinanceVenue(GenericVenue):
    id_field = "newClientOrderId"

    def options(self, market_type: str, recv_window_ms: int) -> dict[str, Any]:
        # ccxt's binanceusdm trades nothing but USDⓈ-M futures, whatever market_type says.
        linear = market_type == "swap" or self.exchange_id == "binanceusdm"
        return {
            "recvWindow": recv_window_ms,
            "adjustForTimeDifference": True,
            "fetchCurrencies": False,
            "fetchMargins": False,
            "fetchMarkets": {"types": ["linear" if linear else "spot"]},
            **({"defaultType": "swap"} if linear else {}),
        }

    async def find(
        self, api: Any, call: Call, cid: str, symbol: str, since_ms: int
    ) -> dict[str, Any] | None:
        if self.exchange_id not in _FETCH_BY_CLIENT_ID:
            return await super().find(api, call, cid, symbol, since_ms)
        try:
            return await call(api.fetch_order(None, symbol, {"clientOrderId": cid}))
        except NotFound:
            if not _contract(api, symbol):
                return None
        try:
            algo = await call(
                api.fetch_order(None, symbol, {"clientOrderId": cid, "trigger": True})
            )
        except NotFound:
            return None
        actual = str((algo.get("info") or {}).get("actualOrderId") or "")
        if not actual:
            return algo
        # Triggered: the market order it became is what filled, under tvdesk's id.
        order = await call(api.fetch_order(actual, symbol))
        return {**order, "clientOrderId": cid}

    async def cancel(self, api: Any, call: Call, order_id: str, symbol: str) -> dict[str, Any]:
        try:
            return await call(api.cancel_order(order_id, symbol))
        except NotFound:
            if not _contract(api, symbol):
                raise
        # Binance numbers algo orders apart from orders: this id is a stop-loss / take-profit.
        return await call(api.cancel_order(order_id, symbol, {"trigger": True}))

    async def order_trades(
        self, api: Any, call: Call, order_id: str, symbol: str
    ) -> list[dict[str, Any]] | None:
        if not _contract(api, symbol):
            return await super().order_trades(api, call, order_id, symbol)
        return await call(api.fetch_my_trades(symbol, None, None, {"orderId": order_id}))
