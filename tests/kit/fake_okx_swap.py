"""The loopback OKX (fake_okx.py) trading its perpetual BTC-USDT-SWAP, as OKX v5 does.

Signed as every private OKX call (checked by ``FakeOkx``), on top of spot:

- ``POST /api/v5/account/set-leverage`` (``lever`` 1..100, ``mgnMode`` cross | isolated;
  isolated in long/short mode needs ``posSide`` long | short, as OKX asks),
  ``GET /api/v5/account/config`` (``posMode``), ``POST /api/v5/account/set-position-mode``
  (``net_mode`` | ``long_short_mode``; refused while a position or an order is open),
  ``GET /api/v5/account/positions`` (one row per instId, margin mode and position side).
- Orders on the swap (``/trade/batch-orders``, ``/trade/order``): ``sz`` in contracts of
  ``ctVal`` 0.01 BTC (lot 0.01), ``tdMode`` cross | isolated (``cash`` is refused), in net
  mode ``posSide`` absent or ``net`` and ``reduceOnly`` honoured (never flips a position);
  in long/short mode ``posSide`` long | short is required and says which position a buy or
  a sell opens or closes. Market orders fill at once at the price (a fault's ``fill`` in
  contracts fills part, the rest canceled: ``canceled`` with ``accFillSz``); the fee (0.1 %)
  is in USDT. Fills are at ``/trade/fills`` in contracts.
- Algo orders (``/trade/order-algo``, ``ordType`` conditional): stop-loss / take-profit rest
  ``live`` under ``algoClOrdId``, never triggering, with the same ``tdMode`` / ``posSide``
  checks; ``POST /api/v5/trade/cancel-algos`` cancels them. A normal order's cancel
  (``/trade/cancel-order``) does not know an algo id, as on OKX.

Test controls: ``setups`` (every set-leverage body), ``positions`` (the book), ``levers``.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.kit.fake_exchange import FEE_RATE, Order, Refused, ms, num, serve
from tests.kit.fake_okx import _STATE, SWAP, FakeOkx, _order_json

INST = SWAP["instId"]
CT_VAL, LOT = Decimal(SWAP["ctVal"]), Decimal(SWAP["lotSz"])
DEFAULT_LEVER = "10"
Key = tuple[str, str, str]  # (instId, mgnMode, posSide: net | long | short)


def _true(value: Any) -> bool:
    return str(value).lower() == "true"


class FakeOkxSwap(FakeOkx):
    name = "okx_swap"

    def __init__(self, *, log_path: Path | None = None, **kw: Any) -> None:
        prices = kw.pop("prices", None) or {"BTC-USDT": "50000", INST: "50000"}
        super().__init__(prices=prices, log_path=log_path, **kw)
        self.pos_mode = "net_mode"
        self.levers: dict[Key, Decimal] = {}
        self.positions: dict[Key, dict[str, Decimal]] = {}  # key -> {"pos": ±, "avg": px}
        self.setups: list[dict[str, Any]] = []

    def routes(self, r: web.UrlDispatcher) -> None:
        super().routes(r)
        r.add_post("/api/v5/account/set-leverage", self._signed(self._set_leverage))
        r.add_get("/api/v5/account/config", self._signed(self._config))
        r.add_post("/api/v5/account/set-position-mode", self._signed(self._set_pos_mode))
        r.add_get("/api/v5/account/positions", self._signed(self._positions))
        r.add_post("/api/v5/trade/cancel-algos", self._signed(self._cancel_algos))
        r.add_get("/fake/positions", self._book)

    # -- the account ------------------------------------------------------------------------

    def lever(self, inst: str, mode: str, side: str) -> Decimal:
        exact = self.levers.get((inst, mode, side if mode == "isolated" else ""))
        return exact or self.levers.get((inst, mode, ""), Decimal(DEFAULT_LEVER))

    async def _set_leverage(self, p: dict[str, Any]) -> web.Response:
        self.setups.append(p)
        self._log({"event": "set-leverage", "params": p})
        inst, mode, side = str(p.get("instId")), str(p.get("mgnMode")), p.get("posSide")
        if inst != INST:
            raise Refused("51001", "Instrument ID does not exist")
        if mode not in ("cross", "isolated"):
            raise Refused("51000", "Parameter mgnMode error")
        lever = Decimal(str(p.get("lever", "0")))
        if not 1 <= lever <= Decimal(SWAP["lever"]):
            raise Refused("59102", "Leverage exceeds the maximum leverage")
        isolated_hedge = mode == "isolated" and self.pos_mode == "long_short_mode"
        if isolated_hedge and side not in ("long", "short"):
            raise Refused("51000", "Parameter posSide error")
        self.levers[(inst, mode, str(side) if isolated_hedge else "")] = lever
        reply = {"lever": num(lever), "mgnMode": mode, "instId": inst, "posSide": side or ""}
        return self.ok([reply])

    async def _config(self, _: dict[str, str]) -> web.Response:
        row = {"uid": "44705892343619584", "mainUid": "44705892343619584", "acctLv": "2"}
        return self.ok([{**row, "posMode": self.pos_mode, "autoLoan": False, "level": "Lv1"}])

    async def _set_pos_mode(self, p: dict[str, Any]) -> web.Response:
        mode = p.get("posMode")
        if mode not in ("net_mode", "long_short_mode"):
            raise Refused("51000", "Parameter posMode error")
        if self.positions or any(o.is_open for o in self.orders.values()):
            raise Refused("59000", "Settings failed. Close any open positions or orders first.")
        self.pos_mode = mode
        return self.ok([{"posMode": mode}])

    async def _positions(self, p: dict[str, str]) -> web.Response:
        wanted = set(p["instId"].split(",")) if p.get("instId") else None
        rows = [
            self._position_json(key, held)
            for key, held in self.positions.items()
            if (wanted is None or key[0] in wanted) and p.get("instType") in (None, "SWAP")
        ]
        return self.ok(rows)

    def _position_json(self, key: Key, held: dict[str, Decimal]) -> dict[str, Any]:
        inst, mode, side = key
        pos, avg, mark = held["pos"], held["avg"], self.prices[inst]
        coins = pos * CT_VAL if side != "short" else -pos * CT_VAL
        lever, notional = self.lever(*key), abs(coins) * mark
        return {
            "instType": "SWAP",
            "instId": inst,
            "mgnMode": mode,
            "posId": f"p{abs(hash(key)) % 10**8}",
            "posSide": side,
            "pos": num(pos),
            "availPos": num(abs(pos)),
            "avgPx": num(avg),
            "markPx": num(mark),
            "last": num(mark),
            "upl": num((mark - avg) * coins),
            "lever": num(lever),
            "liqPx": "",
            "imr": num(notional / lever),
            "notionalUsd": num(notional),
            "ccy": "USDT",
            "cTime": str(ms()),
            "uTime": str(ms()),
        }

    async def _book(self, _: web.Request) -> web.Response:
        rows = [self._position_json(k, v) for k, v in self.positions.items()]
        return self.reply({"posMode": self.pos_mode, "positions": rows, "setups": self.setups})

    # -- orders on the swap -------------------------------------------------------------------

    def _side_of(self, p: dict[str, Any], side: str) -> tuple[str, bool]:
        """(the position side it trades, whether it closes) under the account's mode."""
        pos_side = p.get("posSide")
        if self.pos_mode == "long_short_mode":
            if pos_side not in ("long", "short"):
                raise Refused("51000", "Parameter posSide error")
            return pos_side, (side == "sell") == (pos_side == "long")
        if pos_side not in (None, "", "net"):
            raise Refused("51000", "Parameter posSide error")
        return "net", _true(p.get("reduceOnly"))

    def _check(self, p: dict[str, Any]) -> tuple[Decimal, str, str, bool]:
        if p.get("tdMode") not in ("cross", "isolated"):
            raise Refused("51000", "Parameter tdMode error")
        sz = Decimal(str(p.get("sz", "0")))
        if sz <= 0 or sz % LOT:
            raise Refused("51000", "Parameter sz error")
        if sz < Decimal(SWAP["minSz"]):
            raise Refused("51020", "Order amount should be greater than the min available amount.")
        side = str(p.get("side"))
        pos_side, closes = self._side_of(p, side)
        key = (INST, str(p["tdMode"]), pos_side)
        held = self.positions.get(key, {}).get("pos", Decimal(0))
        if closes and (held == 0 or (pos_side == "net" and (held > 0) == (side == "buy"))):
            raise Refused(
                "51169",
                "Order failed because you don't have any positions in this direction for "
                "this contract to reduce or close.",
            )
        return sz, side, pos_side, closes

    def _place(self, p: dict[str, Any], cid: str) -> Order:
        if p.get("instId") != INST:
            return super()._place(p, cid)
        sz, side, pos_side, closes = self._check(p)
        if cid and (not cid.isalnum() or len(cid) > 32):
            raise Refused("51000", "Parameter clOrdId error")
        if cid and any(o.client_order_id == cid for o in self.orders.values()):
            raise Refused("51016", "Duplicated client order ID")
        kind, price = str(p.get("ordType")), Decimal(str(p.get("px") or "0"))
        oid, now = str(next(self._ids)), ms()
        extra = {
            "swap": True,
            "tdMode": p["tdMode"],
            "posSide": pos_side,
            "reduceOnly": closes,
            "lever": num(self.lever(INST, str(p["tdMode"]), pos_side)),
        }
        order = Order(oid, cid, INST, side, kind, sz, price, now, updated_ms=now, extra=extra)
        self.orders[oid] = order
        part, self._fill_next = self._fill_next, None
        if kind == "market" or self._crossed(order):
            self._trade(order, part)
        self._log({"event": "created", "clientOrderId": cid, "orderId": oid})
        return order

    def _trade(self, order: Order, part: Decimal | None) -> None:
        """Fill ``order`` (contracts) at the price; the fee in USDT; the position moves."""
        price, extra = self.prices[INST], order.extra
        key = (INST, extra["tdMode"], extra["posSide"])
        book = self.positions.setdefault(key, {"pos": Decimal(0), "avg": Decimal(0)})
        qty = order.qty if part is None else min(part, order.qty)
        if extra["reduceOnly"]:
            qty = min(qty, abs(book["pos"]))  # reduce-only never flips the position
        signed = qty if order.side == "buy" else -qty
        if extra["posSide"] == "short":
            signed = -signed  # long/short mode: a short's pos is positive
        before, after = book["pos"], book["pos"] + signed
        if before == 0 or (before > 0) == (signed > 0):
            book["avg"] = (abs(before) * book["avg"] + qty * price) / abs(after)
        else:
            gain = (price - book["avg"]) * min(qty, abs(before)) * CT_VAL
            self.free["USDT"] += gain if (before > 0) != (extra["posSide"] == "short") else -gain
            if after and (after > 0) != (before > 0):
                book["avg"] = price  # netted through zero (never with reduce-only)
        book["pos"] = after
        if not after:
            del self.positions[key]
        cost = qty * CT_VAL * price
        order.fee, order.fee_asset = cost * FEE_RATE, "USDT"
        self.free["USDT"] -= order.fee
        order.filled, order.cost, order.updated_ms = qty, qty * price, ms()
        order.status = "filled" if qty == order.qty else "partial_canceled"

    def cancel(self, order: Order) -> None:
        if not order.extra.get("swap"):
            return super().cancel(order)
        order.status = "partial_canceled" if order.filled else "canceled"
        order.updated_ms = ms()

    def _matching(self, p: dict[str, str], wanted: Any) -> list[dict[str, Any]]:
        kind = p.get("instType")
        return [
            _swap_json(o, _order_json(o))
            for o in reversed(self.created())
            if wanted(o)
            and kind in (None, "SWAP" if o.extra.get("swap") else "SPOT")
            and p.get("instId") in (None, o.symbol)
            and p.get("state") in (None, _STATE[o.status])
            and o.created_ms >= int(p.get("begin", 0))
        ]

    async def _fills(self, p: dict[str, str]) -> web.Response:
        rows = [
            {
                "instType": "SWAP" if o.extra.get("swap") else "SPOT",
                "instId": o.symbol,
                "tradeId": f"t{o.order_id}",
                "ordId": o.order_id,
                "clOrdId": o.client_order_id,
                "billId": f"b{o.order_id}",
                "fillPx": num(o.average),
                "fillSz": num(o.filled),
                "side": o.side,
                "posSide": o.extra.get("posSide", ""),
                "execType": "T",
                "feeCcy": o.fee_asset,
                "fee": num(-o.fee),
                "ts": str(o.updated_ms),
            }
            for o in self.created()
            if o.filled and p.get("ordId") in (None, o.order_id)
        ]
        return self.ok(rows)

    # -- algo orders (stop-loss / take-profit) ---------------------------------------------

    async def _create_algo(self, p: dict[str, Any]) -> web.Response:
        if p.get("instId") != INST:
            return await super()._create_algo(p)
        cid = str(p.get("algoClOrdId", ""))
        self.arrived(cid, p)
        if p.get("ordType") not in ("conditional", "oco"):
            raise Refused("51000", "Parameter ordType error")
        if cid and (not cid.isalnum() or len(cid) > 32):
            raise Refused("51000", "Parameter algoClOrdId error")
        if cid and any(a["algoClOrdId"] == cid for a in self.algos):
            raise Refused("51065", "algoClOrdId already exists.")
        self._check(p)
        algo = {"algoId": str(next(self._ids)), "algoClOrdId": cid, "sCode": "0", "sMsg": ""}
        now = str(ms())
        self.algos.append({**p, **algo, "instType": "SWAP", "state": "live", "cTime": now})
        self.algos[-1]["uTime"] = now
        self._log({"event": "created", "clientOrderId": cid, "orderId": algo["algoId"]})
        return self.ok([{**algo, "clOrdId": ""}])

    async def _cancel_algos(self, rows: list[dict[str, Any]]) -> web.Response:
        done = []
        for row in rows:
            found = [
                a
                for a in self.algos
                if a["state"] == "live"
                and (a["algoId"] == row.get("algoId") or a["algoClOrdId"] == row.get("algoClOrdId"))
            ]
            if not found:
                raise Refused("51400", "Order cancellation failed as the order does not exist.")
            found[0].update(state="canceled", uTime=str(ms()))
            done.append({"algoId": found[0]["algoId"], "sCode": "0", "sMsg": ""})
        return self.ok(done)


def _swap_json(o: Order, row: dict[str, Any]) -> dict[str, Any]:
    if not o.extra.get("swap"):
        return row
    return {
        **row,
        "instType": "SWAP",
        "tdMode": o.extra["tdMode"],
        "posSide": o.extra["posSide"],
        "reduceOnly": "true" if o.extra["reduceOnly"] else "false",
        "lever": o.extra["lever"],
        "tgtCcy": "",
        "state": _STATE[o.status],
    }


if __name__ == "__main__":
    serve(FakeOkxSwap(), __doc__ or "fake okx swap")
