"""Bitget (classic spot and USDT-M futures): ``clientOid``, plan orders apart, buys by cost.

ccxt maps ``clientOrderId`` to ``clientOid`` (Bitget: up to 50 characters; tvdesk's id as
it is). ``orderInfo`` / ``order/detail`` by ``clientOid`` answer for a normal order in any
state (``cancelled`` with a ``baseVolume`` is a partial fill then cancel). A futures
stop-loss / take-profit is a plan order (``pos_loss`` / ``pos_profit``), listed only under
``orders-plan-pending`` and ``orders-plan-history`` with ``planType=profit_loss``; ccxt
places no stop orders on spot. A classic-spot market buy's ``size`` is the quote coin to
spend: tvdesk sends its cost (``cost.py``).
"""

from __future__ import annotations

from typing import Any

from tvdesk.brokers.errors import NotFound
from tvdesk.brokers.venues.generic import Call, GenericVenue, first_with

PLANS = {"trigger": True, "planType": "profit_loss"}


class BitgetVenue(GenericVenue):
    id_field = "clientOid"

    def buys_by_cost(self, api: Any, market: dict[str, Any]) -> bool:
        return bool(market.get("spot"))

    async def find(
        self, api: Any, call: Call, cid: str, symbol: str, since_ms: int
    ) -> dict[str, Any] | None:
        try:  # "" not None: ccxt puts the id in its not-found message (None would raise)
            found = await call(api.fetch_order("", symbol, {"clientOrderId": cid}))
        except NotFound:
            found = None
        if found and found.get("clientOrderId") == cid:
            return found
        if (api.markets or {}).get(symbol, {}).get("spot"):
            return None
        found = first_with(await call(api.fetch_open_orders(symbol, None, None, PLANS)), cid)
        if found is None:
            done = api.fetch_canceled_and_closed_orders(symbol, since_ms, None, dict(PLANS))
            found = first_with(await call(done), cid)
        return found
