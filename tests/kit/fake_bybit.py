"""A loopback exchange that speaks Bybit's v5 REST protocol, for what ccxt calls.

Public: ``/v5/market/time``, ``/v5/market/instruments-info`` (spot BTCUSDT and the linear
perpetual BTCUSDT, with Bybit's own filters), ``/v5/market/tickers``. Signed (headers
``X-BAPI-API-KEY``, ``X-BAPI-TIMESTAMP``, ``X-BAPI-RECV-WINDOW`` and ``X-BAPI-SIGN``, the
hex HMAC-SHA256 of timestamp + key + recv window + query string or JSON body; the
timestamp inside the window): ``/v5/user/query-api``, ``/v5/account/info``,
``/v5/asset/coin/query-info``, ``/v5/account/wallet-balance``, ``/v5/order/create``,
``/v5/order/realtime`` (open orders only), ``/v5/order/history`` (finished ones),
``/v5/order/cancel``, ``/v5/execution/list``. A bad key is retCode 10003, a bad signature
10004, a stale timestamp 10002, as Bybit answers them (HTTP 200, the code in the body).

Spot market orders are sized as on Bybit's unified account: a buy's ``qty`` is in the
quote coin unless ``marketUnit`` is ``baseCoin``. A spot order that filled partly and was
then canceled is ``PartiallyFilledCanceled``. Only spot orders are matched; the linear
market is listed (perpetual orders are the perps work's).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from tests.kit.fake_exchange import FakeExchange, Order, Refused, Spec, ms, num, serve

API_KEY = "bybitKey4Rt8Vn2Lq6Wz0"
API_SECRET = "bybitSecret9Hc3Jd7Kf1Mp5Sx2Ty8Gb4Nv6Qw0"

SPOT = {
    # Bybit's own BTCUSDT spot filters.
    "BTCUSDT": Spec(
        "BTC", "USDT", Decimal("0.000001"), Decimal("0.000048"), Decimal("0.01"), Decimal("1")
    ),
}
LINEAR = {
    "BTCUSDT": {
        "symbol": "BTCUSDT",
        "contractType": "LinearPerpetual",
        "status": "Trading",
        "baseCoin": "BTC",
        "quoteCoin": "USDT",
        "settleCoin": "USDT",
        "launchTime": "1585526400000",
        "deliveryTime": "0",
        "priceScale": "2",
        "leverageFilter": {"minLeverage": "1", "maxLeverage": "100.00", "leverageStep": "0.01"},
        "priceFilter": {"minPrice": "0.10", "maxPrice": "1999999.80", "tickSize": "0.10"},
        "lotSizeFilter": {
            "maxOrderQty": "1190.000",
            "minOrderQty": "0.001",
            "qtyStep": "0.001",
            "postOnlyMaxOrderQty": "1190.000",
            "maxMktOrderQty": "119.000",
            "minNotionalValue": "5",
        },
        "unifiedMarginTrade": True,
        "fundingInterval": 480,
    }
}
_STATUS = {
    "new": "New",
    "partial": "PartiallyFilled",
    "filled": "Filled",
    "canceled": "Cancelled",
    "partial_canceled": "PartiallyFilledCanceled",
}


class FakeBybit(FakeExchange):
    name = "bybit"

    def __init__(
        self,
        *,
        api_key: str = API_KEY,
        secret: str = API_SECRET,
        prices: dict[str, str] | None = None,
        balances: dict[str, str] | None = None,
        log_path: Path | None = None,
    ) -> None:
        super().__init__(
            SPOT,
            prices=prices or {"BTCUSDT": "50000"},
            balances=balances or {"USDT": "100000", "BTC": "1"},
            log_path=log_path,
        )
        self.api_key, self.secret = api_key, secret

    def routes(self, r: web.UrlDispatcher) -> None:
        r.add_get("/v5/market/time", self._time)
        r.add_get("/v5/market/instruments-info", self._instruments)
        r.add_get("/v5/market/tickers", self._tickers)
        r.add_get("/v5/user/query-api", self._signed(self._query_api))
        r.add_get("/v5/account/info", self._signed(self._account_info))
        r.add_get("/v5/asset/coin/query-info", self._signed(self._coins))
        r.add_get("/v5/account/wallet-balance", self._signed(self._wallet))
        r.add_post("/v5/order/create", self._signed(self._create))
        r.add_get("/v5/order/realtime", self._signed(self._realtime))
        r.add_get("/v5/order/history", self._signed(self._history))
        r.add_post("/v5/order/cancel", self._signed(self._cancel))
        r.add_get("/v5/execution/list", self._signed(self._executions))

    # -- the protocol ----------------------------------------------------------------------

    def error_body(self, code: str, msg: str) -> dict[str, Any]:
        return {"retCode": int(code), "retMsg": msg, "result": {}, "retExtInfo": {}, "time": ms()}

    def ok(self, result: Any) -> web.Response:
        body = {"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": ms()}
        return self.reply(body)

    def insufficient(self) -> Refused:
        return Refused("170131", "Insufficient balance.")

    def _signed(self, handler: Any) -> Any:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            return await handler(await self._verify(request))

        return wrapped

    async def _verify(self, request: web.Request) -> dict[str, str]:
        h = request.headers
        if h.get("X-BAPI-API-KEY") != self.api_key:
            raise Refused("10003", "API key is invalid.")
        timestamp, window = h.get("X-BAPI-TIMESTAMP", ""), h.get("X-BAPI-RECV-WINDOW", "5000")
        body = await request.text()
        payload = request.rel_url.raw_query_string if request.method == "GET" else body
        origin = timestamp + self.api_key + window + payload
        expected = hmac.new(self.secret.encode(), origin.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(h.get("X-BAPI-SIGN", ""), expected):
            raise Refused("10004", "error sign! origin_string[" + origin + "]")
        now = ms()
        if not timestamp.isdigit() or not now - int(window) <= int(timestamp) < now + 1000:
            raise Refused(
                "10002",
                "invalid request, please check your server timestamp or recv_window param. "
                f"req_timestamp[{timestamp}],server_timestamp[{now}],recv_window[{window}]",
            )
        if request.method == "GET":
            return dict(parse_qsl(payload))
        return {k: str(v) for k, v in json.loads(body or "{}").items()}

    # -- public ------------------------------------------------------------------------------

    async def _time(self, _: web.Request) -> web.Response:
        now = ms()
        return self.ok({"timeSecond": str(now // 1000), "timeNano": str(now * 1_000_000)})

    async def _instruments(self, request: web.Request) -> web.Response:
        category = request.query.get("category")
        if category == "spot":
            rows = [_spot_info(name, spec) for name, spec in SPOT.items()]
        elif category == "linear" and request.query.get("status") != "PreLaunch":
            rows = list(LINEAR.values())
        else:
            rows = []
        return self.ok({"category": category, "list": rows, "nextPageCursor": ""})

    async def _tickers(self, request: web.Request) -> web.Response:
        symbol, category = request.query.get("symbol", ""), request.query.get("category")
        if symbol not in self.prices:
            raise Refused("10001", "Not supported symbols")
        price = num(self.prices[symbol])
        row = {
            "symbol": symbol,
            "bid1Price": price,
            "bid1Size": "1",
            "ask1Price": price,
            "ask1Size": "1",
            "lastPrice": price,
            "prevPrice24h": price,
            "price24hPcnt": "0",
            "highPrice24h": price,
            "lowPrice24h": price,
            "turnover24h": "50000000",
            "volume24h": "1000",
        }
        return self.ok({"category": category, "list": [row]})

    # -- signed: the account -----------------------------------------------------------------

    async def _query_api(self, _: dict[str, str]) -> web.Response:
        return self.ok(
            {
                "id": "13770661",
                "note": "tvdesk",
                "apiKey": self.api_key,
                "readOnly": 0,
                "secret": "",
                "permissions": {"Spot": ["SpotTrade"], "Wallet": [], "ContractTrade": []},
                "ips": ["*"],
                "type": 1,
                "unified": 0,
                "uta": 1,
                "userID": 24600000,
                "isMaster": True,
            }
        )

    async def _account_info(self, _: dict[str, str]) -> web.Response:
        return self.ok(
            {
                "marginMode": "REGULAR_MARGIN",
                "updatedTime": str(ms()),
                "unifiedMarginStatus": 6,
                "dcpStatus": "OFF",
                "timeWindow": 10,
                "smpGroup": 0,
                "isMasterTrader": False,
                "spotHedgingStatus": "OFF",
            }
        )

    async def _coins(self, _: dict[str, str]) -> web.Response:
        rows = [
            {"name": coin, "coin": coin, "remainAmount": "150", "chains": []}
            for coin in ("BTC", "USDT")
        ]
        return self.ok({"rows": rows})

    async def _wallet(self, p: dict[str, str]) -> web.Response:
        if p.get("accountType") != "UNIFIED":
            raise Refused("10001", "accountType only support UNIFIED.")
        coins = [
            {
                "coin": coin,
                "walletBalance": num(self.free.get(coin, Decimal(0)) + self.locked.get(coin, 0)),
                "locked": num(self.locked.get(coin, Decimal(0))),
                "equity": num(self.free.get(coin, Decimal(0)) + self.locked.get(coin, 0)),
                "totalOrderIM": "0",
                "totalPositionIM": "0",
                "borrowAmount": "",
                "accruedInterest": "",
                "availableToWithdraw": "",
            }
            for coin in sorted(set(self.free) | set(self.locked))
        ]
        return self.ok({"list": [{"accountType": "UNIFIED", "coin": coins}]})

    # -- signed: orders ------------------------------------------------------------------------

    async def _create(self, p: dict[str, str]) -> web.Response:
        cid = p.get("orderLinkId", "")
        self.arrived(cid, p)
        symbol, category = p.get("symbol", ""), p.get("category")
        if category != "spot":
            raise Refused("10001", f"category {category} is not simulated by this fake")
        spec = SPOT.get(symbol)
        if spec is None:
            raise Refused("170121", "Invalid symbol.")
        if cid and any(o.client_order_id == cid for o in self.orders.values()):
            raise Refused("170141", "Duplicate clientOrderId.")
        side, kind = p.get("side", "").lower(), p.get("orderType", "").lower()
        qty, price = Decimal(p.get("qty", "0")), Decimal(p.get("price", "0"))
        if kind == "market" and side == "buy" and p.get("marketUnit", "quoteCoin") == "quoteCoin":
            qty = qty / self.prices[symbol]  # qty was the USDT to spend
            if qty * self.prices[symbol] < spec.min_cost:
                raise Refused("170140", "Order value exceeded lower limit.")
            qty = qty.quantize(spec.step, rounding="ROUND_DOWN")
        elif qty % spec.step:
            raise Refused("170137", "Order quantity has too many decimals.")
        if qty < spec.min_qty:
            raise Refused("170136", "Order quantity exceeded lower limit.")
        if kind == "limit" and (price <= 0 or price % spec.tick):
            raise Refused("170134", "Order price has too many decimals.")
        reference = price if kind == "limit" else self.prices[symbol]
        if qty * reference < spec.min_cost:
            raise Refused("170140", "Order value exceeded lower limit.")
        order = self.place(symbol, side, kind, qty, price, cid)
        return self.ok({"orderId": order.order_id, "orderLinkId": cid})

    def _matching(self, p: dict[str, str], wanted: Any) -> list[dict[str, Any]]:
        rows = []
        for order in reversed(self.created()):
            if (
                wanted(order)
                and p.get("symbol") in (None, order.symbol)
                and p.get("orderId") in (None, order.order_id)
                and p.get("orderLinkId") in (None, order.client_order_id)
                and p.get("orderStatus") in (None, _STATUS[order.status])
                and order.created_ms >= int(p.get("startTime", 0))
            ):
                rows.append(_order_json(order, SPOT[order.symbol]))
        return rows

    async def _realtime(self, p: dict[str, str]) -> web.Response:
        rows = self._matching(p, lambda o: o.is_open)
        return self.ok({"category": p.get("category"), "list": rows, "nextPageCursor": ""})

    async def _history(self, p: dict[str, str]) -> web.Response:
        rows = self._matching(p, lambda o: not o.is_open)
        return self.ok({"category": p.get("category"), "list": rows, "nextPageCursor": ""})

    async def _cancel(self, p: dict[str, str]) -> web.Response:
        found = [
            o
            for o in self.orders.values()
            if o.order_id == p.get("orderId") or o.client_order_id == p.get("orderLinkId")
        ]
        if not found or not found[0].is_open:
            raise Refused("170213", "Order does not exist.")
        self.cancel(found[0])
        return self.ok({"orderId": found[0].order_id, "orderLinkId": found[0].client_order_id})

    async def _executions(self, p: dict[str, str]) -> web.Response:
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
                "feeCurrency": o.fee_asset,
                "execTime": str(o.updated_ms),
                "isMaker": False,
            }
            for o in self.created()
            if o.filled and p.get("orderId") in (None, o.order_id)
        ]
        return self.ok({"category": p.get("category"), "list": rows, "nextPageCursor": ""})


def _spot_info(name: str, spec: Spec) -> dict[str, Any]:
    return {
        "symbol": name,
        "baseCoin": spec.base,
        "quoteCoin": spec.quote,
        "innovation": "0",
        "status": "Trading",
        "marginTrading": "utaOnly",
        "lotSizeFilter": {
            "basePrecision": num(spec.step),
            "quotePrecision": "0.00000001",
            "minOrderQty": num(spec.min_qty),
            "maxOrderQty": "71.73956243",
            "minOrderAmt": num(spec.min_cost),
            "maxOrderAmt": "2000000",
        },
        "priceFilter": {"tickSize": num(spec.tick)},
    }


def _order_json(order: Order, spec: Spec) -> dict[str, Any]:
    return {
        "orderId": order.order_id,
        "orderLinkId": order.client_order_id,
        "symbol": order.symbol,
        "side": order.side.capitalize(),
        "orderType": order.kind.capitalize(),
        "price": num(order.price),
        "qty": num(order.qty),
        "marketUnit": "baseCoin" if order.kind == "market" else "",
        "timeInForce": "IOC" if order.kind == "market" else "GTC",
        "orderStatus": _STATUS[order.status],
        "cancelType": "UNKNOWN",
        "avgPrice": num(order.average) if order.filled else "",
        "leavesQty": num(order.qty - order.filled) if order.is_open else "0",
        "leavesValue": "0",
        "cumExecQty": num(order.filled),
        "cumExecValue": num(order.cost),
        "cumExecFee": num(order.fee),
        "cumFeeDetail": {order.fee_asset: num(order.fee)} if order.filled else {},
        "triggerPrice": "0.00",
        "reduceOnly": False,
        "closeOnTrigger": False,
        "createdTime": str(order.created_ms),
        "updatedTime": str(order.updated_ms),
        "positionIdx": 0,
        "isLeverage": "0",
        "orderFilter": "Order",
        "feeCurrency": spec.base if order.side == "buy" else spec.quote,
    }


if __name__ == "__main__":
    serve(FakeBybit(), __doc__ or "fake bybit")
