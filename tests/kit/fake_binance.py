"""A loopback exchange that speaks Binance's spot REST protocol, for what ccxt calls.

Public: ``/api/v3/exchangeInfo`` (LOT_SIZE / PRICE_FILTER / NOTIONAL filters as Binance
publishes them), ``/api/v3/ticker/24hr``, ``/api/v3/time``, ``/api/v3/ping``. Signed (the
``X-MBX-APIKEY`` header and an HMAC-SHA256 ``signature`` over query string + body, with
``timestamp`` inside ``recvWindow``): ``/api/v3/account``, ``/api/v3/order`` (POST, GET,
DELETE), ``/api/v3/openOrders``, ``/api/v3/allOrders``, ``/api/v3/myTrades``,
``/sapi/v1/account/apiRestrictions``.

Orders fill like Binance's matching engine would against one price per symbol: market
orders at once (fee 0.1 %, in the asset received), limit orders when the price crosses them,
STOP_LOSS / TAKE_PROFIT when it reaches their stop price. Balances are held for resting
orders. Faults are injected per request: a status (503), a slow reply *after* the order was
created (past the client's timeout), a hang until the client goes away, or a Binance error
code (-2010 duplicate, -1013 filter failure).

In-process: ``async with FakeBinance(...) as fake`` (an ephemeral loopback port). As a
process, for kill -9 tests: ``python -m tests.kit.fake_binance --port 0 --log FILE``
prints ``fake binance on http://127.0.0.1:PORT`` and takes faults at ``POST /fake/fault``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

API_KEY = "fakeKey7Qm2Rv9Lx4Tn8Wp3Zc6Yb1Hd5Jf0Gs"
API_SECRET = "fakeSecret3Kx8Vb2Nq7Lm4Pz9Rt6Wy1Cd5Hg0Js"
FEE_RATE = Decimal("0.001")

SYMBOLS: dict[str, dict[str, str]] = {
    # Binance's own BTCUSDT filters.
    "BTCUSDT": {
        "base": "BTC",
        "quote": "USDT",
        "step": "0.00001",
        "min_qty": "0.00001",
        "max_qty": "9000",
        "tick": "0.01",
        "min_notional": "5",
    },
    "ETHUSDT": {
        "base": "ETH",
        "quote": "USDT",
        "step": "0.0001",
        "min_qty": "0.0001",
        "max_qty": "9000",
        "tick": "0.01",
        "min_notional": "5",
    },
}
ORDER_TYPES = [
    "LIMIT",
    "LIMIT_MAKER",
    "MARKET",
    "STOP_LOSS",
    "STOP_LOSS_LIMIT",
    "TAKE_PROFIT",
    "TAKE_PROFIT_LIMIT",
]


class BinanceError(Exception):
    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(msg)
        self.code, self.msg, self.status = code, msg, status


@dataclass
class Fault:
    method: str
    path: str
    kind: str  # status | slow | hang | error
    status: int = 503
    delay_s: float = 0.0
    code: int = 0
    msg: str = ""
    times: int = 1


@dataclass
class Order:
    order_id: int
    client_order_id: str
    symbol: str
    side: str
    type: str
    qty: Decimal
    price: Decimal
    stop_price: Decimal
    time_ms: int
    status: str = "NEW"
    executed: Decimal = Decimal(0)
    quote: Decimal = Decimal(0)
    fills: list[dict[str, str]] = field(default_factory=list)

    def json(self, full: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {
            "symbol": self.symbol,
            "orderId": self.order_id,
            "orderListId": -1,
            "clientOrderId": self.client_order_id,
            "price": f"{self.price:f}",
            "origQty": f"{self.qty:f}",
            "executedQty": f"{self.executed:f}",
            "cummulativeQuoteQty": f"{self.quote:f}",
            "status": self.status,
            "timeInForce": "GTC",
            "type": self.type,
            "side": self.side,
            "stopPrice": f"{self.stop_price:f}",
            "workingTime": self.time_ms,
            "selfTradePreventionMode": "EXPIRE_MAKER",
        }
        if full:
            body["transactTime"] = self.time_ms
            body["fills"] = self.fills
        else:
            body.update(
                time=self.time_ms,
                updateTime=self.time_ms,
                isWorking=True,
                origQuoteOrderQty="0.00000000",
            )
        return body


class FakeBinance:
    def __init__(
        self,
        *,
        api_key: str = API_KEY,
        secret: str = API_SECRET,
        prices: dict[str, str] | None = None,
        balances: dict[str, str] | None = None,
        can_withdraw: bool = False,
        log_path: Path | None = None,
        order_delay_s: float = 0.0,
        symbols: dict[str, dict[str, str]] | None = None,
    ) -> None:
        self.api_key, self.secret = api_key, secret
        # Markets beyond BTCUSDT / ETHUSDT: {"SOLUSDT": {...SYMBOLS' fields}}.
        self.symbols = {**SYMBOLS, **(symbols or {})}
        # Each new order is answered this long after it arrived (an exchange 100 ms away).
        self.order_delay_s = order_delay_s
        self.hold: asyncio.Event | None = None  # when set, new orders wait for it to be set
        self.in_flight = 0  # order requests arrived and not yet answered
        self.max_in_flight = 0
        self.prices = {
            s: Decimal(p) for s, p in (prices or {"BTCUSDT": "50000", "ETHUSDT": "3000"}).items()
        }
        self.free = {
            c: Decimal(v)
            for c, v in (balances or {"USDT": "100000", "BTC": "1", "ETH": "10"}).items()
        }
        self.locked: dict[str, Decimal] = {}
        self.can_withdraw = can_withdraw
        self.log_path = log_path
        self.orders: dict[int, Order] = {}
        self.received: list[dict[str, Any]] = []  # every order request that passed auth
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request
        self.faults: list[Fault] = []
        self._ids = itertools.count(1000)
        self._trade_ids = itertools.count(1)
        self.order_arrived = asyncio.Event()
        self.url = ""
        self._runner: web.AppRunner | None = None

    # -- running ------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._faults])
        r = app.router
        r.add_get("/api/v3/ping", self._ping)
        r.add_get("/api/v3/time", self._time)
        r.add_get("/api/v3/exchangeInfo", self._exchange_info)
        r.add_get("/api/v3/ticker/24hr", self._ticker)
        r.add_get("/api/v3/account", self._signed(self._account))
        r.add_post("/api/v3/order", self._signed(self._new_order))
        r.add_get("/api/v3/order", self._signed(self._get_order))
        r.add_delete("/api/v3/order", self._signed(self._cancel_order))
        r.add_get("/api/v3/openOrders", self._signed(self._open_orders))
        r.add_get("/api/v3/allOrders", self._signed(self._all_orders))
        r.add_get("/api/v3/myTrades", self._signed(self._my_trades))
        r.add_get("/sapi/v1/account/apiRestrictions", self._signed(self._restrictions))
        r.add_post("/fake/fault", self._add_fault)
        r.add_post("/fake/price", self._set_price_route)
        r.add_get("/fake/received", self._received)
        return app

    async def start(self, port: int = 0) -> str:
        self._runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        assert site._server is not None
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeBinance:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- test controls ----------------------------------------------------------------

    def fault(self, method: str, path: str, kind: str, **kw: Any) -> None:
        """Inject a fault into the next ``times`` matching requests."""
        self.faults.append(Fault(method.upper(), path, kind, **kw))

    def set_price(self, symbol: str, price: str) -> None:
        self.prices[symbol] = Decimal(price)
        for order in sorted(self.orders.values(), key=lambda o: o.order_id):
            if order.status == "NEW" and self._crossed(order):
                self._fill(order, order.price if order.type == "LIMIT" else self.prices[symbol])

    def fill_part_and_expire(self, client_order_id: str, qty: str) -> None:
        """A resting limit buy fills ``qty`` at its price, then expires (the rest is freed)."""
        (order,) = [o for o in self.orders.values() if o.client_order_id == client_order_id]
        assert order.status == "NEW" and order.type == "LIMIT" and order.side == "BUY"
        spec, part = self.symbols[order.symbol], Decimal(qty)
        spend, held = self._hold(order)
        self.locked[spend] -= held
        cost, fee = part * order.price, part * FEE_RATE
        self.free[spend] += held - cost
        self.free[spec["base"]] = self.free.get(spec["base"], Decimal(0)) + part - fee
        order.status, order.executed, order.quote = "EXPIRED", part, cost
        order.fills = [
            {
                "price": f"{order.price:f}",
                "qty": f"{part:f}",
                "commission": f"{fee:f}",
                "commissionAsset": spec["base"],
                "tradeId": next(self._trade_ids),
            }
        ]

    def add_order(self, client_order_id: str, qty: str, symbol: str = "BTCUSDT") -> Order:
        """A market buy the exchange made from a request whose reply never arrived."""
        params = {"symbol": symbol, "side": "BUY", "type": "MARKET", "quantity": qty}
        return self._place(params, client_order_id)

    def add_limit(self, client_order_id: str, side: str, qty: str, price: str) -> Order:
        """A resting BTCUSDT limit order the trader placed by hand, not through tvdesk."""
        params = {"symbol": "BTCUSDT", "side": side, "type": "LIMIT", "quantity": qty}
        return self._place({**params, "price": price}, client_order_id)

    def placed(self, client_order_id: str) -> int:
        """How many order requests with this client order id passed authentication."""
        return sum(1 for r in self.received if r["clientOrderId"] == client_order_id)

    def created(self) -> list[Order]:
        return sorted(self.orders.values(), key=lambda o: o.order_id)

    # -- plumbing -----------------------------------------------------------------------

    @staticmethod
    def _json(body: Any, status: int = 200) -> web.Response:
        return web.Response(status=status, text=json.dumps(body), content_type="application/json")

    def _take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.method == method and fault.path == path and fault.times > 0:
                fault.times -= 1
                if fault.times == 0:
                    self.faults.remove(fault)
                return fault
        return None

    @web.middleware
    async def _faults(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append((request.method, request.path))
        fault = self._take_fault(request.method, request.path)
        if fault is not None and fault.kind == "status":
            return web.Response(status=fault.status, text="Service Unavailable")
        if fault is not None and fault.kind == "error":
            return self._json({"code": fault.code, "msg": fault.msg}, 400)
        response = await handler(request)
        if fault is not None and fault.kind == "slow":
            await asyncio.sleep(fault.delay_s)  # the order exists; the reply comes too late
        if fault is not None and fault.kind == "hang":
            await asyncio.Event().wait()  # until the client goes away
        return response

    def _signed(self, handler: Any) -> Any:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            try:
                params = await self._verify(request)
                return await handler(params)
            except BinanceError as exc:
                return self._json({"code": exc.code, "msg": exc.msg}, exc.status)

        return wrapped

    async def _verify(self, request: web.Request) -> dict[str, str]:
        if request.headers.get("X-MBX-APIKEY") != self.api_key:
            raise BinanceError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        query, body = request.rel_url.raw_query_string, await request.text()
        total, signature = _strip_signature(query + body)
        expected = hmac.new(self.secret.encode(), total.encode(), hashlib.sha256).hexdigest()
        if signature is None or not hmac.compare_digest(signature, expected):
            raise BinanceError(-1022, "Signature for this request is not valid.")
        params = dict(parse_qsl(query)) | dict(parse_qsl(body))
        timestamp, window = int(params.get("timestamp", 0)), int(params.get("recvWindow", 5000))
        now = _ms()
        if timestamp > now + 1000 or now - timestamp > window:
            raise BinanceError(-1021, "Timestamp for this request is outside of the recvWindow.")
        return params

    async def _ping(self, _: web.Request) -> web.Response:
        return self._json({})

    async def _time(self, _: web.Request) -> web.Response:
        return self._json({"serverTime": _ms()})

    async def _received(self, _: web.Request) -> web.Response:
        return self._json(self.received)

    # -- public -------------------------------------------------------------------------

    async def _exchange_info(self, _: web.Request) -> web.Response:
        return self._json(
            {
                "timezone": "UTC",
                "serverTime": _ms(),
                "rateLimits": [],
                "exchangeFilters": [],
                "symbols": [_symbol_info(name, spec) for name, spec in self.symbols.items()],
            }
        )

    async def _ticker(self, request: web.Request) -> web.Response:
        symbol = request.query.get("symbol", "")
        if symbol not in self.symbols:
            return self._json({"code": -1121, "msg": "Invalid symbol."}, 400)
        price = f"{self.prices[symbol]:f}"
        return self._json(
            {
                "symbol": symbol,
                "lastPrice": price,
                "bidPrice": price,
                "askPrice": price,
                "openPrice": price,
                "highPrice": price,
                "lowPrice": price,
                "volume": "1000",
                "quoteVolume": "50000000",
                "priceChange": "0",
                "priceChangePercent": "0",
                "weightedAvgPrice": price,
                "openTime": _ms() - 86_400_000,
                "closeTime": _ms(),
                "count": 1,
            }
        )

    # -- signed -------------------------------------------------------------------------

    async def _account(self, _: dict[str, str]) -> web.Response:
        assets = sorted(set(self.free) | set(self.locked))
        return self._json(
            {
                "makerCommission": 10,
                "takerCommission": 10,
                "canTrade": True,
                "canWithdraw": self.can_withdraw,
                "canDeposit": True,
                "accountType": "SPOT",
                "updateTime": _ms(),
                "permissions": ["SPOT"],
                "balances": [
                    {
                        "asset": a,
                        "free": f"{self.free.get(a, Decimal(0)):f}",
                        "locked": f"{self.locked.get(a, Decimal(0)):f}",
                    }
                    for a in assets
                ],
            }
        )

    async def _restrictions(self, _: dict[str, str]) -> web.Response:
        return self._json(
            {
                "ipRestrict": False,
                "createTime": _ms(),
                "enableReading": True,
                "enableSpotAndMarginTrading": True,
                "enableWithdrawals": self.can_withdraw,
            }
        )

    async def _new_order(self, p: dict[str, str]) -> web.Response:
        cid = p.get("newClientOrderId", "")
        self.received.append(
            {"clientOrderId": cid, "at": time.time(), "mono_ns": time.monotonic_ns(), "params": p}
        )
        self._log(
            {
                "event": "order",
                "clientOrderId": cid,
                "at": time.time(),
                "mono_ns": time.monotonic_ns(),
            }
        )
        self.order_arrived.set()
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.hold is not None:
                await self.hold.wait()
            if self.order_delay_s:
                await asyncio.sleep(self.order_delay_s)
            order = self._place(p, cid)
        except BinanceError as exc:
            return self._json({"code": exc.code, "msg": exc.msg}, exc.status)
        finally:
            self.in_flight -= 1
        self._log(
            {
                "event": "created",
                "clientOrderId": cid,
                "orderId": order.order_id,
                "status": order.status,
            }
        )
        return self._json(order.json(full=True))

    def _place(self, p: dict[str, str], cid: str) -> Order:
        symbol = p.get("symbol", "")
        spec = self.symbols.get(symbol)
        if spec is None:
            raise BinanceError(-1121, "Invalid symbol.")
        if any(o.client_order_id == cid and o.status == "NEW" for o in self.orders.values()):
            raise BinanceError(-2010, "Duplicate order sent.")
        kind, side = p.get("type", ""), p.get("side", "")
        qty = Decimal(p.get("quantity", "0"))
        price = Decimal(p.get("price", "0"))
        stop = Decimal(p.get("stopPrice", "0"))
        _check(
            qty >= Decimal(spec["min_qty"])
            and qty <= Decimal(spec["max_qty"])
            and (qty % Decimal(spec["step"])) == 0,
            "LOT_SIZE",
        )
        if kind == "LIMIT":
            _check(price > 0 and price % Decimal(spec["tick"]) == 0, "PRICE_FILTER")
        reference = price if kind == "LIMIT" else stop if stop else self.prices[symbol]
        _check(qty * reference >= Decimal(spec["min_notional"]), "NOTIONAL")
        order = Order(next(self._ids), cid, symbol, side, kind, qty, price, stop, _ms())
        spend, amount = self._hold(order)
        if self.free.get(spend, Decimal(0)) < amount:
            raise BinanceError(-2010, "Account has insufficient balance for requested action.")
        self.orders[order.order_id] = order
        self.free[spend] -= amount
        self.locked[spend] = self.locked.get(spend, Decimal(0)) + amount
        if kind == "MARKET" or self._crossed(order):
            self._fill(order, self.prices[symbol])
        return order

    def _hold(self, order: Order) -> tuple[str, Decimal]:
        spec = self.symbols[order.symbol]
        if order.side == "SELL":
            return spec["base"], order.qty
        price = order.price if order.type == "LIMIT" else self.prices[order.symbol]
        return spec["quote"], order.qty * price

    def _crossed(self, order: Order) -> bool:
        last = self.prices[order.symbol]
        if order.type == "LIMIT":
            return last <= order.price if order.side == "BUY" else last >= order.price
        if order.type == "STOP_LOSS":
            return last <= order.stop_price if order.side == "SELL" else last >= order.stop_price
        if order.type == "TAKE_PROFIT":
            return last >= order.stop_price if order.side == "SELL" else last <= order.stop_price
        return False

    def _fill(self, order: Order, price: Decimal) -> None:
        spec = self.symbols[order.symbol]
        spend, held = self._hold(order)
        self.locked[spend] -= held
        cost = order.qty * price
        if order.side == "BUY":
            fee, fee_asset = order.qty * FEE_RATE, spec["base"]
            self.free[spend] += held - cost  # a limit bought cheaper gives the rest back
            self.free[spec["base"]] = self.free.get(spec["base"], Decimal(0)) + order.qty - fee
        else:
            fee, fee_asset = cost * FEE_RATE, spec["quote"]
            self.free[spec["quote"]] = self.free.get(spec["quote"], Decimal(0)) + cost - fee
        order.status, order.executed, order.quote = "FILLED", order.qty, cost
        order.fills = [
            {
                "price": f"{price:f}",
                "qty": f"{order.qty:f}",
                "commission": f"{fee:f}",
                "commissionAsset": fee_asset,
                "tradeId": next(self._trade_ids),
            }
        ]

    def _find(self, p: dict[str, str]) -> Order:
        cid, oid = p.get("origClientOrderId"), p.get("orderId")
        for order in self.orders.values():
            if order.symbol == p.get("symbol") and (
                (cid is not None and order.client_order_id == cid)
                or (oid is not None and str(order.order_id) == oid)
            ):
                return order
        raise BinanceError(-2013, "Order does not exist.")

    async def _get_order(self, p: dict[str, str]) -> web.Response:
        return self._json(self._find(p).json())

    async def _cancel_order(self, p: dict[str, str]) -> web.Response:
        try:
            order = self._find(p)
        except BinanceError:
            raise BinanceError(-2011, "Unknown order sent.") from None
        if order.status != "NEW":
            raise BinanceError(-2011, "Unknown order sent.")
        spend, held = self._hold(order)
        self.locked[spend] -= held
        self.free[spend] += held
        order.status = "CANCELED"
        return self._json(order.json())

    async def _open_orders(self, p: dict[str, str]) -> web.Response:
        return self._json(
            [
                o.json()
                for o in self.created()
                if o.status == "NEW" and p.get("symbol") in (None, o.symbol)
            ]
        )

    async def _all_orders(self, p: dict[str, str]) -> web.Response:
        return self._json([o.json() for o in self.created() if o.symbol == p.get("symbol")])

    async def _my_trades(self, p: dict[str, str]) -> web.Response:
        order = self._find(p)
        spec = self.symbols[order.symbol]
        return self._json(
            [
                {
                    "symbol": order.symbol,
                    "id": f["tradeId"],
                    "orderId": order.order_id,
                    "orderListId": -1,
                    "price": f["price"],
                    "qty": f["qty"],
                    "quoteQty": f"{Decimal(f['price']) * Decimal(f['qty']):f}",
                    "commission": f["commission"],
                    "commissionAsset": f["commissionAsset"],
                    "time": order.time_ms,
                    "isBuyer": order.side == "BUY",
                    "isMaker": False,
                    "isBestMatch": True,
                    "base": spec["base"],
                }
                for f in order.fills
            ]
        )

    # -- control over HTTP (the process mode) ------------------------------------------

    async def _add_fault(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.fault(body.pop("method"), body.pop("path"), body.pop("kind"), **body)
        return self._json({"ok": True})

    async def _set_price_route(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.set_price(body["symbol"], body["price"])
        return self._json({"ok": True})

    def _log(self, entry: dict[str, Any]) -> None:
        if self.log_path is not None:
            with open(self.log_path, "a", encoding="utf-8") as out:
                out.write(json.dumps(entry) + "\n")


def _ms() -> int:
    return int(time.time() * 1000)


def _check(ok: bool, name: str) -> None:
    if not ok:
        raise BinanceError(-1013, f"Filter failure: {name}")


def _strip_signature(total: str) -> tuple[str, str | None]:
    parts = total.split("&")
    signature = next((p.split("=", 1)[1] for p in parts if p.startswith("signature=")), None)
    return "&".join(p for p in parts if not p.startswith("signature=")), signature


def _symbol_info(name: str, spec: dict[str, str]) -> dict[str, Any]:
    return {
        "symbol": name,
        "status": "TRADING",
        "baseAsset": spec["base"],
        "baseAssetPrecision": 8,
        "quoteAsset": spec["quote"],
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": ORDER_TYPES,
        "icebergAllowed": True,
        "ocoAllowed": True,
        "otoAllowed": True,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": True,
        "cancelReplaceAllowed": True,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": spec["tick"],
                "maxPrice": "1000000.00",
                "tickSize": spec["tick"],
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": spec["min_qty"],
                "maxQty": spec["max_qty"],
                "stepSize": spec["step"],
            },
            {"filterType": "ICEBERG_PARTS", "limit": 10},
            {
                "filterType": "MARKET_LOT_SIZE",
                "minQty": "0.00000000",
                "maxQty": "100.0",
                "stepSize": "0.00000000",
            },
            {
                "filterType": "NOTIONAL",
                "minNotional": spec["min_notional"],
                "applyMinToMarket": True,
                "maxNotional": "9000000.00",
                "applyMaxToMarket": False,
                "avgPriceMins": 5,
            },
            {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
        ],
        "permissions": [],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    }


async def _serve(port: int, log_path: Path | None) -> None:
    fake = FakeBinance(log_path=log_path)
    url = await fake.start(port)
    print(f"fake binance on {url}", flush=True)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--log", type=Path, help="append every order request here (JSON lines)")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.port, args.log))


if __name__ == "__main__":
    main()
