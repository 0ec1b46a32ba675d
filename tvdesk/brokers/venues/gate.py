"""Gate (spot and USDT perpetuals): ``text`` = "t-…", found in the order lists; stop-loss
and take-profit as price orders, found by the id Gate gave them.

Gate's ``text`` must start with ``t-``, stay within 28 characters after it (ccxt counts the
prefix too) and hold only letters, digits, ``_ - .``; tvdesk sends "t-" and its id without
"tvd" and the ULID's first character (a "0" for millennia): 27-28 characters in all.
A custom id only finds an order while it rests (and briefly after), so tvdesk reads the
lists: open (``status=open``) and ``finished`` (filled and cancelled, a partial fill then
cancel with its ``filled_amount``). A spot market buy's ``amount`` is the quote coin to
spend: tvdesk sends its cost (``cost.py``).

A stop-loss / take-profit is a price-triggered order (``POST /spot/price_orders``: ccxt's
``stopLossPrice`` / ``takeProfitPrice``, a market order once the trigger is hit). Gate
documents no client id on those (ccxt sends tvdesk's in ``trigger.text``; Gate's ``put.text``
is only web/api/app), so tvdesk finds one by the id Gate answered with, which the journal
keeps: ``GET /spot/price_orders/{id}`` in every state (``open``, ``cancelled``, ``finish``
once triggered, ``failed``, ``expired``). A triggered one is read through the order it fired
(``fired_order_id``; a perpetual's ``trade_id``): its fill, price and fee. On spot, ccxt asks
Gate to drop an untriggered one after 86400 s (its ``expiration``): it is then recorded
``canceled``, and the position is no longer protected.

Without that id (the reply to the placing was lost) a price order can only be recognised by
the id ccxt sent. tvdesk looks through the market's price orders: one with its id is found;
when none has it but one without any id was made since the placing, that one may be it, and
tvdesk neither takes it as its own nor places the order again: the lookup fails, the stop is
recorded ``unknown`` with the reason, and the trader checks Gate's price orders. Two
alerts with the same stop, or one set by hand, look alike; an order found wrongly would be
worse than one left to the trader.
"""

from __future__ import annotations

from typing import Any

from tvdesk.brokers.errors import NotFound, PermanentError
from tvdesk.brokers.venues.generic import Call, GenericVenue, first_with

PRICE_ORDERS = {"trigger": True}
# tvdesk's client order id is "tvd" + a 26-character ULID, + the attempt's hex digit for an
# alert's further orders: 1 and 2 are its stop-loss and take-profit (``protect.KINDS``).
PROTECTIVE_LENGTH = len("t-") + 25 + 1

IN_DOUBT = (
    "gate keeps no client order id on price orders (stop-loss / take-profit), and the "
    "market's price orders include {count} made since without one, which may be this one: "
    "tvdesk does not place it again; check the price orders on Gate"
)


def is_protective(text: str) -> bool:
    """Whether ``text`` (Gate's form of tvdesk's id) names a stop-loss or take-profit."""
    return len(text) == PROTECTIVE_LENGTH and text[-1] in "12"


class GateVenue(GenericVenue):
    id_field = "text"

    def client_order_id(self, cid: str) -> str:
        return "t-" + cid[4:]

    def trigger_params(self, cid: str) -> dict[str, Any]:
        return {}  # ccxt sends the id (as ``trigger.text``) and picks the price orders

    def buys_by_cost(self, api: Any, market: dict[str, Any]) -> bool:
        return bool(market.get("spot"))

    async def find(
        self, api: Any, call: Call, cid: str, symbol: str, since_ms: int
    ) -> dict[str, Any] | None:
        if is_protective(cid):
            return await self._find_price_order(api, call, cid, symbol, since_ms)
        found = first_with(await call(api.fetch_open_orders(symbol)), cid)
        if found is None:
            found = first_with(await call(api.fetch_closed_orders(symbol, since_ms)), cid)
        return found

    async def find_placed(
        self, api: Any, call: Call, order_id: str, cid: str, symbol: str, since_ms: int
    ) -> dict[str, Any] | None:
        if not is_protective(cid):
            return await self.find(api, call, cid, symbol, since_ms)
        try:
            found = await call(api.fetch_order(order_id, symbol, dict(PRICE_ORDERS)))
        except NotFound:
            return None
        return await self._through_fired(api, call, found, symbol)

    async def cancel(self, api: Any, call: Call, order_id: str, symbol: str) -> dict[str, Any]:
        try:
            return await call(api.cancel_order(order_id, symbol))
        except NotFound:
            pass
        # Not an order: a stop-loss / take-profit, which Gate keeps among its price orders.
        return await call(api.cancel_order(order_id, symbol, dict(PRICE_ORDERS)))

    async def _find_price_order(
        self, api: Any, call: Call, cid: str, symbol: str, since_ms: int
    ) -> dict[str, Any] | None:
        # Gate's price-order lists take no start time: the newest 100 of each.
        listed = await call(api.fetch_open_orders(symbol, None, None, dict(PRICE_ORDERS)))
        listed += await call(api.fetch_closed_orders(symbol, None, None, dict(PRICE_ORDERS)))
        found = first_with(listed, cid)
        if found is not None:
            return await self._through_fired(api, call, found, symbol)
        unnamed = [
            o
            for o in listed
            if not o.get("clientOrderId") and (o.get("timestamp") or 0) >= since_ms
        ]
        if unnamed:
            raise PermanentError(IN_DOUBT.format(count=len(unnamed)))
        return None

    async def _through_fired(
        self, api: Any, call: Call, price_order: dict[str, Any], symbol: str
    ) -> dict[str, Any]:
        """A triggered price order as the order it fired (fill, price, fee), under the price
        order's own id: the one tvdesk keeps and looks it up by."""
        info = price_order.get("info") or {}
        # Spot names it ``fired_order_id``, USDT perpetuals ``trade_id``; 0 until triggered.
        fired = info.get("fired_order_id") or info.get("trade_id")
        if price_order.get("status") != "closed" or not fired or str(fired) == "0":
            return price_order
        order = await call(api.fetch_order(str(fired), symbol))
        return {
            **order,
            "id": price_order["id"],
            "clientOrderId": price_order.get("clientOrderId"),
            "triggerPrice": price_order.get("triggerPrice"),
            "info": {**info, "fired_order": order.get("info")},
        }
