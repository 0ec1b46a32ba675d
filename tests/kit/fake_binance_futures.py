"""A loopback exchange that speaks Binance USDⓈ-M futures (``/fapi``), for what ccxt's
``binanceusdm`` calls, and keeps positions.

Public: ``/fapi/v1/time``, ``/fapi/v1/exchangeInfo`` (the BTCUSDT perpetual with Binance's
own filters: step 0.001, tick 0.10, min notional 100), ``/fapi/v1/ticker/24hr``,
``/fapi/v1/premiumIndex``. Signed like Binance spot (``X-MBX-APIKEY`` and a hex HMAC-SHA256
``signature`` over query string + body, ``timestamp`` within ``recvWindow``):
``/fapi/v3/account``, ``/fapi/v2/balance``, ``/fapi/v1/order`` (POST, GET by ``orderId`` or
``origClientOrderId``, DELETE), ``/fapi/v1/openOrders``, ``/fapi/v1/allOrders``,
``/fapi/v1/userTrades``, ``/fapi/v1/leverage``, ``/fapi/v1/marginType``,
``/fapi/v1/positionSide/dual`` (GET, POST), ``/fapi/v1/leverageBracket``,
``/fapi/v3/positionRisk``, and the algo order API (``binance_futures_algo.py``), where ccxt
sends every STOP_MARKET / TAKE_PROFIT_MARKET: a conditional type sent to ``/fapi/v1/order``
is refused (-4120), as Binance does since it moved them.

Positions as Binance keeps them: one per symbol in one-way mode (``positionSide`` BOTH,
signed), LONG and SHORT apart in hedge mode (``dualSidePosition``), where every order must
name its side (-4061) and ``reduceOnly`` is refused (-1106). A reduce-only order that would
open or add is refused (-2022); one larger than the position closes only the position.
Market orders fill at the symbol's price, taker fee 0.05 % in USDT; realised P&L goes to
the wallet; an opening order needs its margin (notional / leverage) free (-2019).

``python -m tests.kit.fake_binance_futures --port 0 --log FILE`` runs it as a process;
``FuturesProcess`` drives it over ``/fake/*``: faults (``fake_exchange``), the price (which
triggers stops), the account's hedge mode, its state, and every signed call's params.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from tests.kit import binance_futures_replies as replies
from tests.kit.binance_futures_algo import CONDITIONAL, AlgoOrders, check
from tests.kit.engine_proc import get, post
from tests.kit.fake_exchange import FakeExchange, FakeProcess, Order, Refused, Spec, ms, num, serve

API_KEY = "futKey4Hq8Zt2Wm6Rc1Vx9Lp3Nb7Jd5Fs0Gk"
API_SECRET = "futSecret9Tb3Qx7Wm2Lz8Rv4Nc6Yh1Kd5Gp0Js"
TAKER = Decimal("0.0005")
ZERO = Decimal(0)
BTCUSDT = Spec("BTC", "USDT", Decimal("0.001"), Decimal("0.001"), Decimal("0.1"), Decimal(100))
SPECS = {"BTCUSDT": BTCUSDT}
CLIENT_ID = re.compile(r"[.A-Za-z0-9:/_-]{1,36}")  # Binance's pattern for client order ids
SIDE_MISMATCH = "Order's position side does not match user's setting."


class FakeBinanceFutures(FakeExchange, AlgoOrders):
    name = "binance_futures"

    def __init__(self, *, balance: str = "100000", log_path: Path | None = None) -> None:
        prices, balances = {"BTCUSDT": "50000"}, {"USDT": balance}
        super().__init__(SPECS, prices=prices, balances=balances, log_path=log_path)
        self.dual = False  # hedge mode (dualSidePosition)
        self.leverage = {"BTCUSDT": 20}
        self.margin_type = {"BTCUSDT": "CROSSED"}
        self.positions: dict[tuple[str, str], tuple[Decimal, Decimal]] = {}  # amount, entry
        self.algos: dict[str, Order] = {}
        self.calls: list[dict[str, Any]] = []  # every signed request: method, path, params

    def routes(self, r: web.UrlDispatcher) -> None:
        r.add_get("/fapi/v1/ping", self._answer(dict))
        r.add_get("/fapi/v1/time", self._answer(lambda: {"serverTime": ms()}))
        r.add_get("/fapi/v1/exchangeInfo", self._answer(lambda: replies.exchange_info(SPECS)))
        r.add_get("/fapi/v1/ticker/24hr", self._ticker)
        r.add_get("/fapi/v1/premiumIndex", self._ticker)
        signed = {
            ("GET", "/fapi/v3/account"): self._account,
            ("GET", "/fapi/v2/balance"): self._balance,
            ("POST", "/fapi/v1/order"): self._new_order,
            ("GET", "/fapi/v1/order"): self._get_order,
            ("DELETE", "/fapi/v1/order"): self._cancel_order,
            ("GET", "/fapi/v1/openOrders"): self._open_orders,
            ("GET", "/fapi/v1/allOrders"): self._all_orders,
            ("GET", "/fapi/v1/userTrades"): self._trades,
            ("POST", "/fapi/v1/leverage"): self._set_leverage,
            ("POST", "/fapi/v1/marginType"): self._set_margin_type,
            ("GET", "/fapi/v1/positionSide/dual"): self._get_dual,
            ("POST", "/fapi/v1/positionSide/dual"): self._set_dual,
            ("GET", "/fapi/v1/leverageBracket"): self._brackets,
            ("GET", "/fapi/v3/positionRisk"): self._position_risk,
            **self.algo_routes(),
        }
        for (method, path), handler in signed.items():
            r.add_route(method, path, self._signed(handler))
        r.add_post("/fake/price", self._fake_price)
        r.add_post("/fake/dual", self._fake_dual)
        r.add_get("/fake/state", self._fake_state)
        r.add_get("/fake/calls", self._answer(lambda: self.calls))

    # -- the protocol ----------------------------------------------------------------------

    def error_body(self, code: str, msg: str) -> dict[str, Any]:
        return {"code": int(code), "msg": msg}

    def insufficient(self) -> Refused:
        return Refused("-2019", "Margin is insufficient.", 400)

    def _answer(self, body: Any) -> Any:
        """A handler answering ``body()`` to any request."""

        async def handler(_: web.Request) -> web.Response:
            return self.reply(body())

        return handler

    def _signed(self, handler: Any) -> Any:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            if request.headers.get("X-MBX-APIKEY") != API_KEY:
                raise Refused("-2015", "Invalid API-key, IP, or permissions for action.", 401)
            query, body = request.rel_url.raw_query_string, await request.text()
            parts = [p for p in f"{query}&{body}".split("&") if p]
            total = "&".join(p for p in parts if not p.startswith("signature="))
            sig = next((p[10:] for p in parts if p.startswith("signature=")), "")
            expected = hmac.new(API_SECRET.encode(), total.encode(), hashlib.sha256).hexdigest()
            check(
                hmac.compare_digest(sig, expected),
                -1022,
                "Signature for this request is not valid.",
            )
            params = dict(parse_qsl(query)) | dict(parse_qsl(body))
            stamp, window = int(params.pop("timestamp", 0)), int(params.pop("recvWindow", 5000))
            late = "Timestamp for this request is outside of the recvWindow."
            check(ms() - window <= stamp <= ms() + 1000, -1021, late)
            params.pop("signature", None)
            self.calls.append({"method": request.method, "path": request.path, "params": params})
            return await handler(params)

        return wrapped

    def _price(self, symbol: str) -> str:
        check(symbol in self.prices, -1121, "Invalid symbol.")
        return num(self.prices[symbol])

    async def _ticker(self, request: web.Request) -> web.Response:
        symbol = request.query.get("symbol", "")
        price = self._price(symbol)
        if request.path.endswith("premiumIndex"):
            return self.reply(replies.premium(symbol, price))
        return self.reply(replies.ticker(symbol, price))

    # -- signed: the account -------------------------------------------------------------------

    def _available(self) -> Decimal:
        held = self.positions.items()
        margin = sum((abs(a) * e / self.leverage[s] for (s, _), (a, e) in held), ZERO)
        return self.free["USDT"] - margin

    async def _account(self, _: dict[str, str]) -> web.Response:
        return self.reply(replies.account(self.free["USDT"], self._available()))

    async def _balance(self, _: dict[str, str]) -> web.Response:
        return self.reply(replies.balance(self.free["USDT"], self._available()))

    async def _brackets(self, _: dict[str, str]) -> web.Response:
        return self.reply(replies.brackets(list(SPECS)))

    async def _set_leverage(self, p: dict[str, str]) -> web.Response:
        symbol, leverage = p.get("symbol", ""), int(p.get("leverage", "0"))
        self._price(symbol)
        check(1 <= leverage <= 125, -4028, f"Leverage {leverage} is not valid")
        self.leverage[symbol] = leverage
        return self.reply({"symbol": symbol, "leverage": leverage, "maxNotionalValue": "1000000"})

    async def _set_margin_type(self, p: dict[str, str]) -> web.Response:
        symbol, kind = p.get("symbol", ""), p.get("marginType", "")
        self._price(symbol)
        check(kind in ("ISOLATED", "CROSSED"), -4044, "The margin type is not valid.")
        check(self.margin_type[symbol] != kind, -4046, "No need to change margin type.")
        held = any(a for (s, _), (a, _) in self.positions.items() if s == symbol)
        check(not held, -4048, "Margin type cannot be changed if there exists position.")
        self.margin_type[symbol] = kind
        return self.reply({"code": 200, "msg": "success"})

    async def _get_dual(self, _: dict[str, str]) -> web.Response:
        return self.reply({"dualSidePosition": self.dual})

    async def _set_dual(self, p: dict[str, str]) -> web.Response:
        held = any(a for a, _ in self.positions.values())
        check(not held, -4068, "Position side cannot be changed if there exists position.")
        self.dual = p.get("dualSidePosition") == "true"
        return self.reply({"code": 200, "msg": "success"})

    async def _position_risk(self, p: dict[str, str]) -> web.Response:
        rows = [
            replies.position_row(s, side, amt, entry, self.prices[s], self.leverage[s])
            for (s, side), (amt, entry) in self.positions.items()
            if amt and p.get("symbol") in (None, s)
        ]
        return self.reply(rows)

    # -- signed: orders ------------------------------------------------------------------------

    def order_from(self, p: dict[str, str], cid: str, *, algo: bool) -> Order:
        """An order from its request, checked as Binance checks it (not yet placed)."""
        symbol, kind, side = p.get("symbol", ""), p.get("type", ""), p.get("side", "")
        spec = SPECS.get(symbol)
        check(spec is not None, -1121, "Invalid symbol.")
        assert spec is not None
        check(kind in replies.ORDER_TYPES, -1116, "Invalid orderType.")
        elsewhere = "Order type not supported for this endpoint. Use the Algo Order API."
        check(algo or kind not in CONDITIONAL, -4120, elsewhere)
        check(side in ("BUY", "SELL"), -1117, "Invalid side.")
        check(bool(CLIENT_ID.fullmatch(cid)), -4015, "Client order id is not valid.")
        qty = Decimal(p.get("quantity", "0"))
        too_fine = "Precision is over the maximum defined for this asset."
        check(qty >= spec.min_qty and qty % spec.step == 0, -1111, too_fine)
        position_side = p.get("positionSide", "BOTH")
        if self.dual:
            check(position_side in ("LONG", "SHORT"), -4061, SIDE_MISMATCH)
            not_needed = "Parameter 'reduceonly' sent when not required."
            check("reduceOnly" not in p, -1106, not_needed)
        else:
            check(position_side == "BOTH", -4061, SIDE_MISMATCH)
        price, now = Decimal(p.get("price", "0")), ms()
        market = "limit" if kind == "LIMIT" else "market"
        order = Order("", cid, symbol, side.lower(), market, qty, price, now, updated_ms=now)
        order.extra = {
            "type": kind,
            "positionSide": position_side,
            "reduceOnly": p.get("reduceOnly", "false").lower() == "true",
            "trigger": Decimal(p.get("triggerPrice", p.get("stopPrice", "0"))),
            "trades": [],
        }
        return order

    def _closes(self, order: Order) -> bool:
        """Whether the order only reduces its position (hedge: sells a long, buys a short)."""
        side = order.extra["positionSide"]
        if side != "BOTH":
            return (side == "LONG") == (order.side == "sell")
        return bool(order.extra["reduceOnly"])

    async def _new_order(self, p: dict[str, str]) -> web.Response:
        cid = p.get("newClientOrderId", "")
        self.arrived(cid, p)
        taken = any(o.client_order_id == cid and o.is_open for o in self.orders.values())
        check(not taken, -4116, "ClientOrderId is duplicated.")
        order = self.order_from(p, cid, algo=False)
        self.submit(order)
        return self.reply(replies.order_json(order))

    def submit(self, order: Order) -> None:
        """Place the order: margin and reduce-only checked, a market order filled at once."""
        amt = self.positions.get((order.symbol, order.extra["positionSide"]), (ZERO, ZERO))[0]
        buys = order.side == "buy"
        if self._closes(order):
            check(amt != 0 and (amt > 0) != buys, -2022, "ReduceOnly Order is rejected.")
            order.qty = min(order.qty, abs(amt))
        else:
            price = order.price if order.kind == "limit" else self.prices[order.symbol]
            small = "Order's notional must be no smaller than 100 (unless you choose reduce only)."
            check(order.qty * price >= SPECS[order.symbol].min_cost, -4164, small)
            if order.qty * price / self.leverage[order.symbol] > self._available():
                raise self.insufficient()
        order.order_id = str(next(self._ids))
        self.orders[order.order_id] = order
        part, self._fill_next = self._fill_next, None
        if order.kind == "market":
            qty = order.qty if part is None else min(part, order.qty)
            self._trade(order, self.prices[order.symbol], qty)
            order.status = "filled" if order.filled == order.qty else "partial_canceled"
        cid = order.client_order_id
        self._log({"event": "created", "clientOrderId": cid, "orderId": order.order_id})

    def _trade(self, order: Order, price: Decimal, qty: Decimal) -> None:
        key = (order.symbol, order.extra["positionSide"])
        amt, entry = self.positions.get(key, (ZERO, ZERO))
        delta = qty if order.side == "buy" else -qty
        realized = ZERO
        if amt and (amt > 0) != (delta > 0):  # closes (part of) it, perhaps beyond
            realized = min(qty, abs(amt)) * (price - entry) * (1 if amt > 0 else -1)
            entry = entry if qty < abs(amt) else price
        else:
            entry = (abs(amt) * entry + qty * price) / (abs(amt) + qty)
        amt += delta
        self.positions[key] = (amt, entry if amt else ZERO)
        fee = qty * price * TAKER
        self.free["USDT"] += realized - fee
        order.filled, order.cost, order.fee, order.fee_asset = qty, qty * price, fee, "USDT"
        order.updated_ms = ms()
        fill = {"id": int(order.order_id) % 10**9, "price": num(price), "qty": num(qty)}
        order.extra["trades"].append({**fill, "commission": num(fee), "realizedPnl": num(realized)})

    def _find(self, p: dict[str, str]) -> Order:
        cid, oid = p.get("origClientOrderId"), p.get("orderId")
        for o in self.orders.values():
            if o.symbol == p.get("symbol") and (o.client_order_id == cid or o.order_id == oid):
                return o
        raise Refused("-2013", "Order does not exist.", 400)

    async def _get_order(self, p: dict[str, str]) -> web.Response:
        return self.reply(replies.order_json(self._find(p)))

    async def _cancel_order(self, p: dict[str, str]) -> web.Response:
        try:
            order = self._find(p)
        except Refused:
            raise Refused("-2011", "Unknown order sent.", 400) from None
        check(order.is_open, -2011, "Unknown order sent.")
        order.status, order.updated_ms = "canceled", ms()
        return self.reply(replies.order_json(order))

    async def _open_orders(self, p: dict[str, str]) -> web.Response:
        wanted = p.get("symbol")
        found = [o for o in self.created() if o.is_open and wanted in (None, o.symbol)]
        return self.reply([replies.order_json(o) for o in found])

    async def _all_orders(self, p: dict[str, str]) -> web.Response:
        since = int(p.get("startTime", 0))
        found = [o for o in self.created() if o.symbol == p.get("symbol") and o.created_ms >= since]
        return self.reply([replies.order_json(o) for o in found])

    async def _trades(self, p: dict[str, str]) -> web.Response:
        return self.reply(replies.trades_json(self._find(p)))

    # -- test controls over HTTP -----------------------------------------------------------------

    async def _fake_price(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.set_price(body["symbol"], body["price"])
        return self.reply({"ok": True})

    async def _fake_dual(self, request: web.Request) -> web.Response:
        self.dual = bool((await request.json())["dual"])
        return self.reply({"ok": True})

    async def _fake_state(self, _: web.Request) -> web.Response:
        held = self.positions.items()
        positions = {f"{s}:{side}": [num(a), num(e)] for (s, side), (a, e) in held if a}
        account = {"leverage": self.leverage, "marginType": self.margin_type, "dual": self.dual}
        algos = [replies.algo_json(a) for a in self.algos.values()]
        wallet = num(self.free["USDT"])
        return self.reply({"positions": positions, **account, "wallet": wallet, "algos": algos})

    async def _orders(self, _: web.Request) -> web.Response:
        return self.reply([replies.order_json(o) for o in self.created()])


class FuturesProcess(FakeProcess):
    """``python -m tests.kit.fake_binance_futures`` on an ephemeral port."""

    def __init__(self, log: Path) -> None:
        super().__init__(FakeBinanceFutures.name, log)

    def set_price(self, price: str, symbol: str = "BTCUSDT") -> None:
        body = json.dumps({"symbol": symbol, "price": price}).encode()
        assert post(f"{self.url}/fake/price", body)[0] == 200

    def hedge_mode(self, on: bool = True) -> None:
        """The account's position mode, as the trader sets it on Binance."""
        assert post(f"{self.url}/fake/dual", json.dumps({"dual": on}).encode())[0] == 200

    def state(self) -> dict[str, Any]:
        """Positions (``BTCUSDT:BOTH`` -> [amount, entry]), leverage, margin type, hedge mode,
        wallet and algo orders."""
        return get(f"{self.url}/fake/state")[1]

    def calls(self, path: str | None = None) -> list[dict[str, Any]]:
        """Every signed request (to ``path``, if given): method, path, params."""
        found: list[dict[str, Any]] = get(f"{self.url}/fake/calls")[1]  # type: ignore[assignment]
        return [c for c in found if path in (None, c["path"])]


if __name__ == "__main__":
    serve(FakeBinanceFutures(), __doc__ or "fake binance futures")
