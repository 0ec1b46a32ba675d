"""KuCoin (spot): ``clientOid``, asked for directly, and stop orders apart.

ccxt maps ``clientOrderId`` to ``clientOid`` (KuCoin: unique, up to 40 characters; tvdesk's
id as it is). ``GET /api/v1/order/client-order/{clientOid}`` answers for an order in any
state (``isActive`` false with ``dealSize`` and ``cancelExist``: a partial fill then cancel).
A stop-loss or take-profit is a stop order until it triggers, found only at
``/api/v1/stop-order/queryOrderByClientOid``; ccxt reports a stop order cancelled before it
triggered as ``cancelled`` (sic), which tvdesk reads as ``canceled``. A market buy's ``size``
is in the base coin.
"""

from __future__ import annotations

from typing import Any

from tvdesk.brokers.errors import NotFound
from tvdesk.brokers.venues.generic import Call, GenericVenue


class KucoinVenue(GenericVenue):
    id_field = "clientOid"

    def normalize(self, order: dict[str, Any]) -> dict[str, Any]:
        if order.get("status") == "cancelled":
            return {**order, "status": "canceled"}
        return order

    async def find(
        self, api: Any, call: Call, cid: str, symbol: str, since_ms: int
    ) -> dict[str, Any] | None:
        for where in ({"clientOrderId": cid}, {"clientOrderId": cid, "trigger": True}):
            try:
                found = await call(api.fetch_order(None, symbol, where))
            except NotFound:
                continue
            # An unknown stop order's lookup answers an empty list, not an error.
            if found and found.get("clientOrderId") == cid:
                return found
        return None
