"""Kraken (spot): ``cl_ord_id`` as a UUID, and two lists an order can be in.

Kraken's ``cl_ord_id`` takes a long UUID (36 characters with dashes), a short one (32 hex
digits) or free text up to 18 characters; ``userref`` is an integer shared by many orders.
tvdesk's id (29-30 Crockford characters) fits none, so Kraken gets a UUID derived from it
(``uuid5``: the same id gives the same UUID, so a lookup finds the order after a restart).
ccxt maps ``clientOrderId`` to ``cl_ord_id``. ``OpenOrders`` holds open orders and untriggered
stop-loss / take-profit ones, ``ClosedOrders`` the filled and the cancelled (partly filled
ones with their ``vol_exec``), both filtered by ``cl_ord_id``. A market buy's ``volume`` is in
the base coin.
"""

from __future__ import annotations

import uuid
from typing import Any

from tvdesk.brokers.venues.generic import Call, GenericVenue, first_with


class KrakenVenue(GenericVenue):
    id_field = "cl_ord_id"

    def client_order_id(self, cid: str) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"tvdesk:{cid}"))

    async def find(
        self, api: Any, call: Call, cid: str, symbol: str, since_ms: int
    ) -> dict[str, Any] | None:
        by_id = {"clientOrderId": cid}
        found = first_with(await call(api.fetch_open_orders(symbol, None, None, by_id)), cid)
        if found is None:
            closed = api.fetch_closed_orders(symbol, since_ms, None, by_id)
            found = first_with(await call(closed), cid)
        return found
