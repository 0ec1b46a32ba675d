"""A loopback exchange that speaks OKX's v5 REST protocol, for what ccxt calls.

Public: ``/api/v5/public/time``, ``/api/v5/public/instruments`` (spot BTC-USDT and the
perpetual BTC-USDT-SWAP, ``ctVal`` 0.01 BTC, with OKX's own filters),
``/api/v5/market/ticker``. Signed (headers ``OK-ACCESS-KEY``, ``OK-ACCESS-PASSPHRASE``,
``OK-ACCESS-TIMESTAMP`` as ISO 8601 and ``OK-ACCESS-SIGN``, the base64 HMAC-SHA256 of
timestamp + method + request path with its query + body; the timestamp within 30 s):
``/api/v5/asset/currencies``, ``/api/v5/account/balance``, ``/api/v5/trade/order``
(POST and GET by ``ordId`` or ``clOrdId``), ``/api/v5/trade/batch-orders``,
``/api/v5/trade/orders-pending``, ``/api/v5/trade/orders-history`` (by ``state``),
``/api/v5/trade/cancel-order``, ``/api/v5/trade/fills``, ``/api/v5/trade/order-algo``
(POST: a stop-loss / take-profit rests ``live`` under its ``algoClOrdId``, never
triggering; GET by ``algoId`` or ``algoClOrdId``).
Auth failures are HTTP 401 with OKX's codes (50111 key, 50105 passphrase, 50113
signature, 50102 timestamp).

A spot market order on a thin book fills part and is ``canceled`` with ``accFillSz`` set,
as OKX reports it. Only spot orders are matched; the swap market is listed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from tests.kit.fake_exchange import FakeExchange, Order, Refused, Spec, ms, num, serve

API_KEY = "okxKey2b6f9d1e-7c3a-4e8b-a5d0-f4c2e1b9a7d3"
API_SECRET = "OKXSECRET8F3A1C6E9B2D5F7A0C4E8B1D3F6A9C2E"
API_PASSWORD = "okxPass7Vq!"

SPOT = {
    # OKX's own BTC-USDT spot filters.
    "BTC-USDT": Spec(
        "BTC", "USDT", Decimal("0.00000001"), Decimal("0.00001"), Decimal("0.1"), Decimal("0")
    ),
}
SWAP = {
    "instType": "SWAP",
    "instId": "BTC-USDT-SWAP",
    "uly": "BTC-USDT",
    "instFamily": "BTC-USDT",
    "baseCcy": "",
    "quoteCcy": "",
    "settleCcy": "USDT",
    "ctVal": "0.01",
    "ctMult": "1",
    "ctValCcy": "BTC",
    "ctType": "linear",
    "listTime": "1611916828000",
    "expTime": "",
    "lever": "100",
    "tickSz": "0.1",
    "lotSz": "0.01",
    "minSz": "0.01",
    "maxLmtSz": "100000000",
    "maxMktSz": "12000",
    "state": "live",
}
_STATE = {
    "new": "live",
    "partial": "partially_filled",
    "filled": "filled",
    "canceled": "canceled",
    "partial_canceled": "canceled",
}


class FakeOkx(FakeExchange):
    name = "okx"

    def __init__(
        self,
        *,
        api_key: str = API_KEY,
        secret: str = API_SECRET,
        password: str = API_PASSWORD,
        prices: dict[str, str] | None = None,
        balances: dict[str, str] | None = None,
        log_path: Path | None = None,
    ) -> None:
        super().__init__(
            SPOT,
            prices=prices or {"BTC-USDT": "50000"},
            balances=balances or {"USDT": "100000", "BTC": "1"},
            log_path=log_path,
        )
        self.api_key, self.secret, self.password = api_key, secret, password
        self.algos: list[dict[str, Any]] = []  # stop-loss / take-profit (algo) orders

    def routes(self, r: web.UrlDispatcher) -> None:
        r.add_get("/api/v5/public/time", self._time)
        r.add_get("/api/v5/public/instruments", self._instruments)
        r.add_get("/api/v5/market/ticker", self._ticker)
        r.add_get("/api/v5/asset/currencies", self._signed(self._currencies))
        r.add_get("/api/v5/account/balance", self._signed(self._balance))
        r.add_post("/api/v5/trade/order", self._signed(self._create_one))
        r.add_post("/api/v5/trade/batch-orders", self._signed(self._create_batch))
        r.add_get("/api/v5/trade/order", self._signed(self._get_order))
        r.add_get("/api/v5/trade/orders-pending", self._signed(self._pending))
        r.add_get("/api/v5/trade/orders-history", self._signed(self._history))
        r.add_post("/api/v5/trade/cancel-order", self._signed(self._cancel))
        r.add_get("/api/v5/trade/fills", self._signed(self._fills))
        r.add_get("/api/v5/trade/fills-history", self._signed(self._fills))
        r.add_get("/api/v5/trade/order-algo", self._signed(self._algo))
        r.add_post("/api/v5/trade/order-algo", self._signed(self._create_algo))

    # -- the protocol ----------------------------------------------------------------------

    def error_body(self, code: str, msg: str) -> dict[str, Any]:
        return {"code": code, "msg": msg, "data": []}

    def ok(self, data: list[Any]) -> web.Response:
        return self.reply({"code": "0", "msg": "", "data": data})

    def insufficient(self) -> Refused:
        return Refused("51008", "Order failed. Insufficient USDT balance in account.")

    def _signed(self, handler: Any) -> Any:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            return await handler(await self._verify(request))

        return wrapped

    async def _verify(self, request: web.Request) -> Any:
        h = request.headers
        if h.get("OK-ACCESS-KEY") != self.api_key:
            raise Refused("50111", "Invalid OK-ACCESS-KEY", 401)
        if h.get("OK-ACCESS-PASSPHRASE") != self.password:
            raise Refused("50105", "Invalid OK-ACCESS-PASSPHRASE", 401)
        timestamp, body = h.get("OK-ACCESS-TIMESTAMP", ""), await request.text()
        origin = timestamp + request.method + request.raw_path + body
        digest = hmac.new(self.secret.encode(), origin.encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(h.get("OK-ACCESS-SIGN", ""), base64.b64encode(digest).decode()):
            raise Refused("50113", "Invalid Sign", 401)
        try:
            sent = datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        except ValueError:
            raise Refused("50112", "Invalid OK-ACCESS-TIMESTAMP", 401) from None
        if abs(ms() - sent.timestamp() * 1000) > 30_000:
            raise Refused("50102", "Timestamp request expired", 401)
        if request.method == "GET":
            return dict(parse_qsl(request.rel_url.raw_query_string))
        return json.loads(body or "{}")

    # -- public ------------------------------------------------------------------------------

    async def _time(self, _: web.Request) -> web.Response:
        return self.ok([{"ts": str(ms())}])

    async def _instruments(self, request: web.Request) -> web.Response:
        kind = request.query.get("instType")
        if kind == "SPOT":
            return self.ok([_spot_info(name, spec) for name, spec in SPOT.items()])
        return self.ok([SWAP] if kind == "SWAP" else [])

    async def _ticker(self, request: web.Request) -> web.Response:
        inst = request.query.get("instId", "")
        if inst not in self.prices:
            raise Refused("51001", "Instrument ID does not exist")
        price = num(self.prices[inst])
        return self.ok(
            [
                {
                    "instType": "SPOT",
                    "instId": inst,
                    "last": price,
                    "lastSz": "0.001",
                    "askPx": price,
                    "askSz": "1",
                    "bidPx": price,
                    "bidSz": "1",
                    "open24h": price,
                    "high24h": price,
                    "low24h": price,
                    "volCcy24h": "50000000",
                    "vol24h": "1000",
                    "sodUtc0": price,
                    "sodUtc8": price,
                    "ts": str(ms()),
                }
            ]
        )

    # -- signed: the account -----------------------------------------------------------------

    async def _currencies(self, _: dict[str, str]) -> web.Response:
        return self.ok([])

    async def _balance(self, _: dict[str, str]) -> web.Response:
        details = [
            {
                "ccy": coin,
                "eq": num(self.free.get(coin, Decimal(0)) + self.locked.get(coin, Decimal(0))),
                "cashBal": num(self.free.get(coin, Decimal(0)) + self.locked.get(coin, Decimal(0))),
                "availBal": num(self.free.get(coin, Decimal(0))),
                "frozenBal": num(self.locked.get(coin, Decimal(0))),
                "availEq": "",
                "uTime": str(ms()),
            }
            for coin in sorted(set(self.free) | set(self.locked))
        ]
        return self.ok([{"uTime": str(ms()), "totalEq": "100000", "details": details}])

    # -- signed: orders ------------------------------------------------------------------------

    async def _create_one(self, p: dict[str, Any]) -> web.Response:
        return self._answer([self._create(p)])

    async def _create_batch(self, orders: list[dict[str, Any]]) -> web.Response:
        return self._answer([self._create(p) for p in orders])

    def _answer(self, results: list[dict[str, Any]]) -> web.Response:
        failed = [r for r in results if r["sCode"] != "0"]
        if not failed:
            return self.ok(results)
        msg = "All operations failed" if len(failed) == len(results) else ""
        return self.reply({"code": "1" if msg else "2", "msg": msg, "data": results})

    def _create(self, p: dict[str, Any]) -> dict[str, Any]:
        cid = str(p.get("clOrdId", ""))
        self.arrived(cid, p)
        try:
            order = self._place(p, cid)
        except Refused as exc:
            return {"ordId": "", "clOrdId": cid, "tag": "", "sCode": exc.code, "sMsg": exc.msg}
        return {"ordId": order.order_id, "clOrdId": cid, "tag": "", "sCode": "0", "sMsg": ""}

    def _place(self, p: dict[str, Any], cid: str) -> Order:
        inst = str(p.get("instId", ""))
        spec = SPOT.get(inst)
        if spec is None:
            raise Refused("51001", "Instrument ID does not exist")
        if p.get("tdMode") != "cash":
            raise Refused("51000", "Parameter tdMode error")
        if cid and (not cid.isalnum() or len(cid) > 32):
            raise Refused("51000", "Parameter clOrdId error")
        if cid and any(o.client_order_id == cid for o in self.orders.values()):
            raise Refused("51016", "Duplicated client order ID")
        side, kind = str(p.get("side")), str(p.get("ordType"))
        qty, price = Decimal(str(p.get("sz", "0"))), Decimal(str(p.get("px", "0")))
        if kind == "market" and side == "buy" and p.get("tgtCcy", "quote_ccy") == "quote_ccy":
            qty = (qty / self.prices[inst]).quantize(spec.step, rounding="ROUND_DOWN")
        elif qty % spec.step:
            raise Refused("51000", "Parameter sz error")
        if qty < spec.min_qty:
            raise Refused("51020", "Order amount should be greater than the min available amount.")
        if kind == "limit" and (price <= 0 or price % spec.tick):
            raise Refused("51000", "Parameter px error")
        return self.place(inst, side, kind, qty, price, cid)

    def _matching(self, p: dict[str, str], wanted: Any) -> list[dict[str, Any]]:
        return [
            _order_json(o)
            for o in reversed(self.created())
            if wanted(o)
            and p.get("instId") in (None, o.symbol)
            and p.get("state") in (None, _STATE[o.status])
            and o.created_ms >= int(p.get("begin", 0))
        ]

    async def _get_order(self, p: dict[str, str]) -> web.Response:
        found = self._matching(
            p,
            lambda o: o.order_id == p.get("ordId") or o.client_order_id == p.get("clOrdId"),
        )
        if not found:
            raise Refused("51603", "Order does not exist")
        return self.ok(found[:1])

    async def _pending(self, p: dict[str, str]) -> web.Response:
        return self.ok(self._matching(p, lambda o: o.is_open))

    async def _history(self, p: dict[str, str]) -> web.Response:
        if "instType" not in p:
            raise Refused("51000", "Parameter instType error")
        return self.ok(self._matching(p, lambda o: not o.is_open))

    async def _create_algo(self, p: dict[str, Any]) -> web.Response:
        cid = str(p.get("algoClOrdId", ""))
        self.arrived(cid, p)
        if cid and (not cid.isalnum() or len(cid) > 32):
            raise Refused("51000", "Parameter algoClOrdId error")
        algo = {"algoId": str(next(self._ids)), "algoClOrdId": cid, "sCode": "0", "sMsg": ""}
        self.algos.append({**p, **algo, "state": "live", "cTime": str(ms()), "uTime": str(ms())})
        return self.ok([{**algo, "clOrdId": ""}])

    async def _algo(self, p: dict[str, str]) -> web.Response:
        wanted = (p.get("algoId"), p.get("algoClOrdId"))
        for algo in self.algos:
            if wanted[0] == algo["algoId"] or (wanted[1] and wanted[1] == algo["algoClOrdId"]):
                return self.ok([algo])
        raise Refused("51603", "Order does not exist")

    async def _cancel(self, p: dict[str, Any]) -> web.Response:
        found = [
            o
            for o in self.orders.values()
            if o.order_id == p.get("ordId") or o.client_order_id == p.get("clOrdId")
        ]
        if not found or not found[0].is_open:
            raise Refused("51400", "Order cancellation failed as the order does not exist.")
        self.cancel(found[0])
        o = found[0]
        return self.ok([{"ordId": o.order_id, "clOrdId": o.client_order_id, "sCode": "0"}])

    async def _fills(self, p: dict[str, str]) -> web.Response:
        return self.ok(
            [
                {
                    "instType": "SPOT",
                    "instId": o.symbol,
                    "tradeId": f"t{o.order_id}",
                    "ordId": o.order_id,
                    "clOrdId": o.client_order_id,
                    "billId": f"b{o.order_id}",
                    "fillPx": num(o.average),
                    "fillSz": num(o.filled),
                    "side": o.side,
                    "execType": "T",
                    "feeCcy": o.fee_asset,
                    "fee": num(-o.fee),
                    "ts": str(o.updated_ms),
                }
                for o in self.created()
                if o.filled and p.get("ordId") in (None, o.order_id)
            ]
        )


def _spot_info(name: str, spec: Spec) -> dict[str, Any]:
    return {
        "instType": "SPOT",
        "instId": name,
        "uly": "",
        "instFamily": "",
        "baseCcy": spec.base,
        "quoteCcy": spec.quote,
        "settleCcy": "",
        "ctVal": "",
        "ctMult": "",
        "ctValCcy": "",
        "listTime": "1606468572000",
        "lever": "10",
        "tickSz": num(spec.tick),
        "lotSz": num(spec.step),
        "minSz": num(spec.min_qty),
        "maxLmtSz": "9999999999",
        "maxMktSz": "1000000",
        "state": "live",
    }


def _order_json(o: Order) -> dict[str, Any]:
    return {
        "instType": "SPOT",
        "instId": o.symbol,
        "ordId": o.order_id,
        "clOrdId": o.client_order_id,
        "tag": "",
        "px": num(o.price) if o.kind == "limit" else "",
        "sz": num(o.qty),
        "ordType": o.kind,
        "side": o.side,
        "tdMode": "cash",
        "tgtCcy": "base_ccy" if o.kind == "market" else "",
        "accFillSz": num(o.filled),
        "fillPx": num(o.average) if o.filled else "",
        "avgPx": num(o.average) if o.filled else "",
        "state": _STATE[o.status],
        "fee": num(-o.fee),
        "feeCcy": o.fee_asset,
        "cancelSource": "14" if o.status == "partial_canceled" else "",
        "cTime": str(o.created_ms),
        "uTime": str(o.updated_ms),
        "fillTime": str(o.updated_ms) if o.filled else "",
    }


if __name__ == "__main__":
    serve(FakeOkx(), __doc__ or "fake okx")
