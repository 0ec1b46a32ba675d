"""The loopback Bybit (fake_bybit.py) trading its linear perpetual BTCUSDT, as Bybit v5 does.

Signed as every private Bybit call (checked by ``FakeBybit``), on top of spot:

- ``POST /v5/position/set-leverage`` (``buyLeverage`` = ``sellLeverage``, 1..100; the same
  value again is retCode 110043 "leverage not modified"), ``POST /v5/account/set-margin-mode``
  (the unified account's ``REGULAR_MARGIN`` | ``ISOLATED_MARGIN``), ``POST
  /v5/position/switch-mode`` (``mode`` 0 one-way | 3 hedge; refused while a position or an
  order is open), ``GET /v5/position/list``.
- Orders with ``category=linear`` (``/v5/order/create``): ``qty`` in BTC (step 0.001, at
  least 5 USDT); one-way mode takes ``positionIdx`` 0 (or none), hedge mode needs 1 (long
  side) or 2 (short side); ``reduceOnly`` never flips a position and is refused with none
  to reduce. Market orders fill at once at the price, fee 0.1 % in USDT; a fault's ``fill``
  fills part and the rest is canceled: ``Cancelled`` with ``cumExecQty`` set (Bybit keeps
  ``PartiallyFilledCanceled`` for spot). A ``triggerPrice`` order (``triggerDirection`` 1
  rising / 2 falling, checked against the price) is a conditional order: ``Untriggered``
  until canceled (``Deactivated``), never triggering.
- ``/v5/order/realtime`` and ``/v5/order/history`` list linear orders for ``category=linear``
  only (the spot BTCUSDT has the same name), by ``orderLinkId`` or ``orderId``.

Test controls: ``setups`` (every set-leverage / margin-mode / switch-mode body), ``positions``.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.kit.fake_bybit import _STATUS, LINEAR, FakeBybit
from tests.kit.fake_exchange import FEE_RATE, Order, Refused, ms, num, serve

SYMBOL = "BTCUSDT"
LOT = LINEAR[SYMBOL]["lotSizeFilter"]
STEP, MIN_QTY = Decimal(LOT["qtyStep"]), Decimal(LOT["minOrderQty"])
MIN_VALUE = Decimal(LOT["minNotionalValue"])
DEFAULT_LEVERAGE = Decimal(10)
_LINEAR_STATUS = {**_STATUS, "partial_canceled": "Cancelled"}


def _true(value: Any) -> bool:
    return str(value).lower() == "true"


class FakeBybitLinear(FakeBybit):
    name = "bybit_linear"

    def __init__(self, *, log_path: Path | None = None, **kw: Any) -> None:
        super().__init__(log_path=log_path, **kw)
        self.hedge = False
        self.margin_mode = "REGULAR_MARGIN"
        self.leverage = DEFAULT_LEVERAGE
        self.positions: dict[int, dict[str, Decimal]] = {}  # positionIdx -> {"size": ±, "avg"}
        self.setups: list[dict[str, Any]] = []

    def routes(self, r: web.UrlDispatcher) -> None:
        super().routes(r)
        r.add_post("/v5/position/set-leverage", self._signed(self._set_leverage))
        r.add_post("/v5/account/set-margin-mode", self._signed(self._set_margin_mode))
        r.add_post("/v5/position/switch-mode", self._signed(self._switch_mode))
        r.add_get("/v5/position/list", self._signed(self._position_list))
        r.add_get("/fake/positions", self._book)

    # -- the account ------------------------------------------------------------------------

    def _setup(self, path: str, p: dict[str, str]) -> None:
        self.setups.append({"path": path, **p})
        self._log({"event": "setup", "path": path, "params": p})

    async def _set_leverage(self, p: dict[str, str]) -> web.Response:
        self._setup("set-leverage", p)
        if p.get("category") != "linear" or p.get("symbol") != SYMBOL:
            raise Refused("10001", "params error: symbol invalid")
        buy, sell = Decimal(p.get("buyLeverage", "0")), Decimal(p.get("sellLeverage", "0"))
        if buy != sell and not self.hedge:
            raise Refused("10001", "buy leverage not equal to sell leverage")
        if not 1 <= buy <= Decimal(LINEAR[SYMBOL]["leverageFilter"]["maxLeverage"]):
            raise Refused("10001", "leverage invalid")
        if buy == self.leverage:
            raise Refused("110043", "leverage not modified")
        self.leverage = buy
        return self.ok({})

    async def _set_margin_mode(self, p: dict[str, str]) -> web.Response:
        self._setup("set-margin-mode", p)
        mode = p.get("setMarginMode")
        if mode not in ("REGULAR_MARGIN", "ISOLATED_MARGIN", "PORTFOLIO_MARGIN"):
            raise Refused("10001", "setMarginMode invalid")
        self.margin_mode = str(mode)
        return self.ok({"reasons": []})

    async def _switch_mode(self, p: dict[str, str]) -> web.Response:
        self._setup("switch-mode", p)
        hedge = {"0": False, "3": True}.get(p.get("mode", ""))
        if hedge is None:
            raise Refused("10001", "params error: mode invalid")
        if hedge == self.hedge:
            raise Refused("110025", "Position mode is not modified")
        if self.positions or any(o.is_open for o in self.orders.values()):
            raise Refused(
                "110024", "You have an existing position, so position mode cannot be switched"
            )
        self.hedge = hedge
        return self.ok({})

    async def _position_list(self, p: dict[str, str]) -> web.Response:
        if p.get("category") != "linear":
            raise Refused("10001", "params error: category invalid")
        rows = [
            self._position_json(idx, held)
            for idx, held in sorted(self.positions.items())
            if p.get("symbol") in (None, SYMBOL)
        ]
        return self.ok({"category": "linear", "list": rows, "nextPageCursor": ""})

    def _position_json(self, idx: int, held: dict[str, Decimal]) -> dict[str, Any]:
        size, avg, mark = held["size"], held["avg"], self.prices[SYMBOL]
        long = size > 0 if idx == 0 else idx == 1
        coins = abs(size) if long else -abs(size)
        return {
            "positionIdx": idx,
            "symbol": SYMBOL,
            "side": "Buy" if long else "Sell",
            "size": num(abs(size)),
            "avgPrice": num(avg),
            "positionValue": num(abs(size) * avg),
            "tradeMode": 1 if self.margin_mode == "ISOLATED_MARGIN" else 0,
            "leverage": num(self.leverage),
            "markPrice": num(mark),
            "liqPrice": "",
            "positionIM": num(abs(size) * mark / self.leverage),
            "unrealisedPnl": num((mark - avg) * coins),
            "curRealisedPnl": "0",
            "cumRealisedPnl": "0",
            "positionStatus": "Normal",
            "createdTime": str(ms()),
            "updatedTime": str(ms()),
        }

    async def _book(self, _: web.Request) -> web.Response:
        rows = [self._position_json(i, h) for i, h in sorted(self.positions.items())]
        body = {"hedge": self.hedge, "positions": rows, "setups": self.setups}
        return self.reply({**body, "leverage": num(self.leverage), "marginMode": self.margin_mode})

    # -- orders on the linear perpetual --------------------------------------------------------

    async def _create(self, p: dict[str, str]) -> web.Response:
        if p.get("category") != "linear":
            return await super()._create(p)
        cid = p.get("orderLinkId", "")
        self.arrived(cid, p)
        if p.get("symbol") != SYMBOL:
            raise Refused("10001", "params error: symbol invalid")
        if cid and any(o.client_order_id == cid for o in self.orders.values()):
            raise Refused("110072", "OrderLinkedID is duplicate")
        side, kind = p.get("side", "").lower(), p.get("orderType", "").lower()
        qty, price = Decimal(p.get("qty", "0")), Decimal(p.get("price", "0") or "0")
        if qty % STEP:
            raise Refused("10001", "Qty invalid")
        if qty < MIN_QTY:
            raise Refused("110090", "Order quantity below the lower limit")
        idx, closes = self._position_side(p, side)
        held = self.positions.get(idx, {}).get("size", Decimal(0))
        if closes and (held == 0 or (idx == 0 and (held > 0) == (side == "buy"))):
            raise Refused("110017", "current position is zero, cannot fix reduce-only order qty")
        reference = price if kind == "limit" else self.prices[SYMBOL]
        if not closes and qty * reference < MIN_VALUE:
            raise Refused("110094", f"Order does not meet minimum order value {MIN_VALUE}USDT")
        trigger = self._trigger(p)
        oid, now = str(next(self._ids)), ms()
        extra: dict[str, Any] = {"linear": True, "idx": idx, "reduceOnly": closes}
        extra.update(trigger)
        order = Order(oid, cid, SYMBOL, side, kind, qty, price, now, updated_ms=now, extra=extra)
        self.orders[oid] = order
        part, self._fill_next = self._fill_next, None
        if not trigger and (kind == "market" or self._crossed(order)):
            self._trade(order, part)
        self._log({"event": "created", "clientOrderId": cid, "orderId": oid})
        return self.ok({"orderId": oid, "orderLinkId": cid})

    def _position_side(self, p: dict[str, str], side: str) -> tuple[int, bool]:
        """(positionIdx, whether the order closes) under the account's position mode."""
        idx = int(p.get("positionIdx") or 0)
        if (idx in (1, 2)) != self.hedge or idx not in (0, 1, 2):
            raise Refused("10001", "position idx not match position mode")
        if idx == 0:
            return 0, _true(p.get("reduceOnly"))
        return idx, (side == "sell") == (idx == 1)

    def _trigger(self, p: dict[str, str]) -> dict[str, Any]:
        if not p.get("triggerPrice"):
            return {}
        trigger, last = Decimal(p["triggerPrice"]), self.prices[SYMBOL]
        direction = p.get("triggerDirection")
        if direction == "1" and trigger <= last:
            raise Refused(
                "110093", f"expect Rising, but trigger_price[{trigger}] <= current[{last}]"
            )
        if direction == "2" and trigger >= last:
            raise Refused(
                "110092", f"expect Falling, but trigger_price[{trigger}] >= current[{last}]"
            )
        if direction not in ("1", "2"):
            raise Refused("10001", "TriggerDirection invalid")
        return {"trigger": trigger, "direction": int(direction)}

    def _trade(self, order: Order, part: Decimal | None) -> None:
        price, idx = self.prices[SYMBOL], order.extra["idx"]
        book = self.positions.setdefault(idx, {"size": Decimal(0), "avg": Decimal(0)})
        qty = order.qty if part is None else min(part, order.qty)
        if order.extra["reduceOnly"]:
            qty = min(qty, abs(book["size"]))
        signed = qty if order.side == "buy" else -qty
        if idx == 2:
            signed = -signed  # hedge mode: the short side's size counts up as it opens
        before, after = book["size"], book["size"] + signed
        if before == 0 or (before > 0) == (signed > 0):
            book["avg"] = (abs(before) * book["avg"] + qty * price) / abs(after)
        else:
            gain = (price - book["avg"]) * min(qty, abs(before))
            self.free["USDT"] += gain if (before > 0) != (idx == 2) else -gain
            if after and (after > 0) != (before > 0):
                book["avg"] = price
        book["size"] = after
        if not after:
            del self.positions[idx]
        order.fee, order.fee_asset = qty * price * FEE_RATE, "USDT"
        self.free["USDT"] -= order.fee
        order.filled, order.cost, order.updated_ms = qty, qty * price, ms()
        order.status = "filled" if qty == order.qty else "partial_canceled"

    def cancel(self, order: Order) -> None:
        if not order.extra.get("linear"):
            return super().cancel(order)
        order.status = "partial_canceled" if order.filled else "canceled"
        order.updated_ms = ms()

    def _matching(self, p: dict[str, str], wanted: Any) -> list[dict[str, Any]]:
        linear = p.get("category") == "linear"
        spot_rows = super()._matching(p, lambda o: not o.extra.get("linear") and wanted(o))
        if not linear:
            return spot_rows
        return [
            _linear_json(o)
            for o in reversed(self.created())
            if o.extra.get("linear")
            and wanted(o)
            and p.get("symbol") in (None, o.symbol)
            and p.get("orderId") in (None, o.order_id)
            and p.get("orderLinkId") in (None, o.client_order_id)
            and p.get("orderStatus") in (None, _status(o))
            and o.created_ms >= int(p.get("startTime", 0))
        ]

    async def _executions(self, p: dict[str, str]) -> web.Response:
        if p.get("category") != "linear":
            return await super()._executions(p)
        rows = [
            {
                "symbol": o.symbol,
                "orderId": o.order_id,
                "orderLinkId": o.client_order_id,
                "side": o.side.capitalize(),
                "orderType": o.kind.capitalize(),
                "execId": f"e{o.order_id}",
                "execPrice": num(o.average),
                "execQty": num(o.filled),
                "execValue": num(o.cost),
                "execFee": num(o.fee),
                "feeCurrency": "USDT",
                "execTime": str(o.updated_ms),
                "isMaker": False,
            }
            for o in self.created()
            if o.extra.get("linear") and o.filled and p.get("orderId") in (None, o.order_id)
        ]
        return self.ok({"category": "linear", "list": rows, "nextPageCursor": ""})


def _status(o: Order) -> str:
    if "trigger" in o.extra:
        return "Untriggered" if o.is_open else "Deactivated"
    return _LINEAR_STATUS[o.status]


def _linear_json(o: Order) -> dict[str, Any]:
    trigger = o.extra.get("trigger")
    return {
        "orderId": o.order_id,
        "orderLinkId": o.client_order_id,
        "symbol": o.symbol,
        "side": o.side.capitalize(),
        "orderType": o.kind.capitalize(),
        "price": num(o.price),
        "qty": num(o.qty),
        "timeInForce": "IOC" if o.kind == "market" else "GTC",
        "orderStatus": _status(o),
        "cancelType": "UNKNOWN",
        "avgPrice": num(o.average) if o.filled else "",
        "leavesQty": num(o.qty - o.filled) if o.is_open else "0",
        "leavesValue": "0",
        "cumExecQty": num(o.filled),
        "cumExecValue": num(o.cost),
        "cumExecFee": num(o.fee),
        "triggerPrice": num(trigger) if trigger is not None else "",
        "triggerDirection": o.extra.get("direction", 0),
        "triggerBy": "LastPrice" if trigger is not None else "",
        "stopOrderType": "Stop" if trigger is not None else "",
        "reduceOnly": o.extra["reduceOnly"],
        "closeOnTrigger": False,
        "positionIdx": o.extra["idx"],
        "createdTime": str(o.created_ms),
        "updatedTime": str(o.updated_ms),
    }


if __name__ == "__main__":
    serve(FakeBybitLinear(), __doc__ or "fake bybit linear")
