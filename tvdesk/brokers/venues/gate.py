"""Gate (spot and USDT perpetuals): ``text`` = "t-…", found in the order lists.

Gate's ``text`` must start with ``t-``, stay within 28 characters after it (ccxt counts the
prefix too) and hold only letters, digits, ``_ - .``; tvdesk sends "t-" and its id without
"tvd" and the ULID's first character (a "0" for millennia): 27-28 characters in all.
A custom id only finds an order while it rests (and briefly after), so tvdesk reads the
lists: open (``status=open``) and ``finished`` (filled and cancelled, a partial fill then
cancel with its ``filled_amount``). A spot market buy's ``amount`` is the quote coin to
spend: tvdesk sends its cost (``cost.py``).

Gate's price-triggered orders (its stop-loss / take-profit, spot and futures) keep no custom
id (their ``text`` is only web/api/app), so one whose reply is lost cannot be found by
tvdesk's id and could be placed twice: tvdesk refuses them, saying so (README, "Exchanges").
Finding one by what it is (market, side, trigger, amount, made after the send) was not
chosen: two alerts with the same stop, or one set by hand, look the same, and an order
found wrongly is worse than one refused.
"""

from __future__ import annotations

from typing import Any

from tvdesk.brokers.errors import Unsupported
from tvdesk.brokers.venues.generic import Call, GenericVenue, first_with

NO_TRIGGER_IDS = (
    "gate keeps no client order id on its price-triggered orders, so tvdesk could not "
    "find one whose reply was lost and might place it twice: set the stop-loss / "
    "take-profit on Gate itself"
)


class GateVenue(GenericVenue):
    id_field = "text"

    def client_order_id(self, cid: str) -> str:
        return "t-" + cid[4:]

    def trigger_params(self, cid: str) -> dict[str, Any]:
        raise Unsupported(NO_TRIGGER_IDS)

    def buys_by_cost(self, api: Any, market: dict[str, Any]) -> bool:
        return bool(market.get("spot"))

    async def find(
        self, api: Any, call: Call, cid: str, symbol: str, since_ms: int
    ) -> dict[str, Any] | None:
        found = first_with(await call(api.fetch_open_orders(symbol)), cid)
        if found is None:
            found = first_with(await call(api.fetch_closed_orders(symbol, since_ms)), cid)
        return found
