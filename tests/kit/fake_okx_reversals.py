"""The loopback OKX with positions (fake_okx_positions.py) that also trades its perpetual.

Orders on BTC-USDT-SWAP (``sz`` in contracts of ``ctVal`` 0.01 BTC, ``tdMode`` cross or
isolated, net position mode) fill at once at the market's price, pay a 0.05 % fee in USDT
and move the account's net position, which ``/api/v5/account/positions`` then reports. A
``reduceOnly`` order must trade against the position held and be no bigger than it: else
it is refused with OKX's code 51169, as OKX refuses one. In process mode (``python -m
tests.kit.fake_okx_reversals --port 0 --log FILE``) it takes faults at ``/fake/fault``, and
``/fake/hold`` sets the account's position.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from aiohttp import web

from tests.kit.fake_exchange import Order, Refused, ms, num, serve
from tests.kit.fake_okx import SWAP
from tests.kit.fake_okx_positions import FakeOkxPositions

CONTRACT = Decimal(SWAP["ctVal"])
SWAP_FEE = Decimal("0.0005")
NOT_REDUCING = (
    "51169",
    "Order failed because you don't have any positions in this direction for this contract "
    "to reduce or close.",
)


class FakeOkxReversals(FakeOkxPositions):
    name = "okx_reversals"

    def __init__(self, **kw: Any) -> None:
        kw.setdefault("prices", {"BTC-USDT": "50000", "BTC-USDT-SWAP": "50000"})
        super().__init__(**kw)

    def routes(self, r: web.UrlDispatcher) -> None:
        super().routes(r)
        r.add_post("/fake/hold", self._hold_route)

    def net(self) -> Decimal:
        """The account's net position in contracts (below 0 a short)."""
        row = self.positions.get(SWAP["instId"])
        return Decimal(row["pos"]) if row else Decimal(0)

    def swap_orders(self) -> list[dict[str, Any]]:
        """The perpetual's order requests as received: the params ccxt sent, in order."""
        return [r["params"] for r in self.received if r["params"].get("instId") == SWAP["instId"]]

    def _place(self, p: dict[str, Any], cid: str) -> Order:
        inst = str(p.get("instId", ""))
        if inst != SWAP["instId"]:
            return super()._place(p, cid)
        if p.get("tdMode") not in ("cross", "isolated"):
            raise Refused("51000", "Parameter tdMode error")
        if p.get("posSide") not in (None, "", "net"):
            raise Refused("51000", "Parameter posSide error")
        if cid and any(o.client_order_id == cid for o in self.orders.values()):
            raise Refused("51016", "Duplicated client order ID")
        side, size = str(p.get("side")), Decimal(str(p.get("sz", "0")))
        if size <= 0 or size % Decimal(SWAP["lotSz"]):
            raise Refused("51000", "Parameter sz error")
        held = self.net()
        signed = size if side == "buy" else -size
        reducing = bool(held) and (held > 0) != (signed > 0) and size <= abs(held)
        if str(p.get("reduceOnly")).lower() == "true" and not reducing:
            raise Refused(*NOT_REDUCING)
        price = self.prices[inst]
        oid, now = str(next(self._ids)), ms()
        order = Order(oid, cid, inst, side, "market", size, price, now, updated_ms=now)
        order.filled, order.cost, order.status = size, size * price, "filled"
        order.fee, order.fee_asset = size * CONTRACT * price * SWAP_FEE, "USDT"
        order.extra = {"reduceOnly": str(p.get("reduceOnly", "false")).lower()}
        self.orders[oid] = order
        self._move(signed, price)
        self._log({"event": "created", "clientOrderId": cid, "orderId": oid})
        return order

    def _move(self, signed: Decimal, price: Decimal) -> None:
        held = self.net()
        row = self.positions.get(SWAP["instId"])
        entry = Decimal(row["avgPx"]) if row else price
        after = held + signed
        if held == 0 or ((held > 0) != (after > 0) and after != 0):
            entry = price  # opened, or reversed: the rest is new at this price
        elif abs(after) > abs(held):
            entry = (abs(held) * entry + abs(signed) * price) / abs(after)
        self.hold(num(after), num(entry), num(self.prices[SWAP["instId"]]))

    def _matching(self, p: dict[str, str], wanted: Any) -> list[dict[str, Any]]:
        found = super()._matching(p, wanted)
        for entry in found:
            if entry["instId"] == SWAP["instId"]:
                order = next(o for o in self.orders.values() if o.order_id == entry["ordId"])
                entry.update(
                    instType="SWAP",
                    tdMode="cross",
                    tgtCcy="",
                    reduceOnly=order.extra.get("reduceOnly", "false"),
                    fee=num(-order.fee),
                )
        return found

    async def _hold_route(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.hold(body["contracts"], body["entry"], body.get("mark", body["entry"]))
        return self.reply({"ok": True})


if __name__ == "__main__":
    serve(FakeOkxReversals(), __doc__ or "fake okx with a perpetual")
