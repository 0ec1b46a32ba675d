"""Perpetuals, checked against ccxt's own request building (DESIGN.md "Exchanges": checked).

tvdesk's live order code (conform → leverage/margin set-up → order params → create, and the
stop-loss plan) drives real ccxt exchanges whose transport is replaced: each test reads the
request ccxt signed and would have sent. Markets are ccxt's own structures, set directly.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tvdesk.brokers.base import OrderRequest, Refusal
from tvdesk.brokers.exchange import Credentials, ExchangeClient, LiveTuning, OrderState
from tvdesk.brokers.ledger import LiveOrder
from tvdesk.brokers.perps import PerpSetup, order_params
from tvdesk.brokers.precision import conform
from tvdesk.brokers.protect import plan
from tvdesk.core.ids import client_order_id
from tvdesk.core.symbols import Mapping

SYMBOL = "BTC/USDT:USDT"
ALERT = "01HZZZZZZZZZZZZZZZZZZZZZZZ"
CID = client_order_id(ALERT)
# exchange -> (market id, contractSize, amount step, the request field holding the size)
MARKETS = {
    "okx": ("BTC-USDT-SWAP", "0.01", "1", "sz"),
    "gate": ("BTC_USDT", "0.0001", "1", "size"),
    "kucoinfutures": ("XBTUSDTM", "0.001", "1", "size"),
    "bybit": ("BTCUSDT", "1", "0.001", "qty"),
    "binanceusdm": ("BTCUSDT", "1", "0.001", "quantity"),
}
CONTRACTS = {
    "okx": "1",
    "gate": "100",
    "kucoinfutures": "10",
    "bybit": "0.01",
    "binanceusdm": "0.01",
}
# A reply each exchange's order parser takes (tvdesk reads only what it needs).
REPLIES: dict[str, Any] = {
    "okx": {"code": "0", "msg": "", "data": [{"ordId": "1", "clOrdId": CID, "sCode": "0"}]},
    "gate": {"id": 1, "contract": "BTC_USDT", "size": 100, "left": 100, "status": "open"},
    "kucoinfutures": {"code": "200000", "data": {"orderId": "1"}},
    "bybit": {"retCode": 0, "retMsg": "OK", "result": {"orderId": "1"}, "retExtInfo": {}},
    "binanceusdm": {"orderId": 1, "symbol": "BTCUSDT", "status": "NEW", "origQty": "0.01"},
}


def market(exchange: str) -> dict[str, Any]:
    mid, size, step, _ = MARKETS[exchange]
    info: dict[str, Any] = {"symbol": mid, "instId": mid, "name": mid}
    if exchange == "binanceusdm":
        info["orderTypes"] = ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT_MARKET"]
    return {
        "id": mid,
        "symbol": SYMBOL,
        "base": "BTC",
        "quote": "USDT",
        "settle": "USDT",
        "baseId": "BTC",
        "quoteId": "USDT",
        "settleId": "USDT",
        "type": "swap",
        "spot": False,
        "margin": False,
        "swap": True,
        "future": False,
        "option": False,
        "contract": True,
        "linear": True,
        "inverse": False,
        "active": True,
        "contractSize": float(size),
        "precision": {"amount": float(step), "price": 0.1},
        "limits": {
            "amount": {"min": float(step), "max": None},
            "price": {"min": None, "max": None},
            "cost": {"min": None, "max": None},
            "leverage": {"min": 1, "max": 125},
        },
        "info": info,
    }


class Capture:
    """Stands in for ccxt's HTTP transport: records each request, answers from a table."""

    def __init__(self, exchange: str) -> None:
        self.exchange = exchange
        self.sent: list[tuple[str, str, dict[str, Any]]] = []

    async def fetch(self, url: str, method: str = "GET", headers: Any = None, body: Any = None):
        parts = urlsplit(url)
        fields: dict[str, Any] = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        if body:
            try:
                loaded = json.loads(body)
            except ValueError:
                loaded = {k: v[-1] for k, v in parse_qs(body).items()}
            fields.update(loaded[0] if isinstance(loaded, list) else loaded)
        self.sent.append((method, parts.path, fields))
        if self.exchange == "bybit" and "query-api" in parts.path:
            return {"retCode": 0, "result": {"unified": 1, "uta": 1}}
        if self.exchange == "bybit" and "account/info" in parts.path:
            return {"retCode": 0, "result": {"unifiedMarginStatus": 4}}
        return REPLIES[self.exchange]

    def orders(self) -> list[dict[str, Any]]:
        words = ("order", "Order")
        return [f for _, path, f in self.sent if any(w in path for w in words)]

    def paths(self) -> list[str]:
        return [path for _, path, _ in self.sent]


async def client_for(exchange: str, hedge: bool = False) -> tuple[ExchangeClient, Capture]:
    creds = Credentials("key0123456789", "secret0123456789", "pass0123")
    client = ExchangeClient(
        exchange, creds, market_type="swap", tuning=LiveTuning(rate_limit=False)
    )
    await client.open()
    client.api.set_markets([market(exchange)])
    client.markets_loaded_at = 0.0
    capture = Capture(exchange)
    client.api.fetch = capture.fetch
    client.position_mode = "hedge" if hedge else "oneway"
    return client, capture


def request(
    exchange: str, side: str = "buy", *, reduce_only: bool = False, leverage: str | None = "5"
) -> OrderRequest:
    mapping = Mapping(exchange, SYMBOL, "BTC", "USDT", Decimal(1), "table")
    return OrderRequest(
        ALERT,
        CID,
        mapping,
        side,
        "market",
        Decimal("0.01"),
        Decimal(50000),
        reduce_only=reduce_only,
        leverage=Decimal(leverage) if leverage else None,
        margin_mode="isolated" if leverage and exchange != "kucoinfutures" else "",
    )


async def send(client: ExchangeClient, setup: PerpSetup, req: OrderRequest) -> None:
    """tvdesk's live path for one order, as LiveBroker.execute runs it."""
    await setup.prepare(client, req)
    market_ = client.market(SYMBOL)
    assert market_ is not None
    qty, _, _ = conform(client, market_, req.side, "market", req.qty, req.price)
    assert qty == req.qty  # coins in, coins out: only ccxt's amount is in contracts
    params = order_params(
        client, SYMBOL, req.side, reduce_only=req.reduce_only, leverage=req.leverage
    )
    reply = await client.create(SYMBOL, "market", req.side, qty, None, CID, params)
    assert reply["id"] == "1"


@pytest.mark.parametrize("exchange", list(MARKETS))
async def test_a_coin_quantity_is_sent_as_the_right_number_of_contracts(exchange: str):
    client, capture = await client_for(exchange)
    try:
        await send(client, PerpSetup(), request(exchange, leverage=None))
    finally:
        await client.close()
    (order,) = capture.orders()
    field = MARKETS[exchange][3]
    assert Decimal(str(order[field])) == Decimal(CONTRACTS[exchange])


@pytest.mark.parametrize("exchange", list(MARKETS))
async def test_leverage_and_margin_mode_are_set_once_before_the_first_order(exchange: str):
    client, capture = await client_for(exchange)
    setup = PerpSetup()
    try:
        await send(client, setup, request(exchange))
        first = capture.paths()
        await send(client, setup, request(exchange))
    finally:
        await client.close()
    setups = [p for p in first if "leverage" in p.lower() or "margin" in p.lower()]
    order_at = next(i for i, p in enumerate(first) if "order" in p.lower())
    if exchange == "kucoinfutures":  # the order carries its leverage
        assert capture.orders()[0]["leverage"] in (5, "5")
    else:
        assert setups, first
        assert all(first.index(p) < order_at for p in setups)
    again = capture.paths()[len(first) :]
    assert [p for p in again if "leverage" in p.lower() or "margin" in p.lower()] == []


async def test_okx_sets_margin_mode_and_leverage_in_one_call():
    client, capture = await client_for("okx")
    try:
        await send(client, PerpSetup(), request("okx"))
    finally:
        await client.close()
    (call,) = [f for _, p, f in capture.sent if p.endswith("/account/set-leverage")]
    assert (str(call["lever"]), call["mgnMode"], call["instId"]) == (
        "5",
        "isolated",
        "BTC-USDT-SWAP",
    )


async def test_an_exchange_refusal_rejects_with_its_words():
    client, capture = await client_for("binanceusdm")
    import ccxt

    async def refuse(url: str, method: str = "GET", headers: Any = None, body: Any = None):
        raise ccxt.BadRequest('binanceusdm {"code":-4028,"msg":"Leverage 5 is not valid"}')

    client.api.fetch = refuse
    try:
        with pytest.raises(Refusal, match="Leverage 5 is not valid"):
            await send(client, PerpSetup(), request("binanceusdm"))
    finally:
        await client.close()
    assert capture.orders() == []


@pytest.mark.parametrize(
    ("exchange", "field", "value"),
    [
        ("okx", "reduceOnly", True),
        ("bybit", "reduceOnly", True),
        ("binanceusdm", "reduceOnly", "true"),
        ("gate", "reduce_only", True),
        ("kucoinfutures", "reduceOnly", True),
    ],
)
async def test_an_exit_is_reduce_only(exchange: str, field: str, value: Any):
    client, capture = await client_for(exchange)
    try:
        await send(client, PerpSetup(), request(exchange, "sell", reduce_only=True))
    finally:
        await client.close()
    order = capture.orders()[-1]
    assert order[field] == value


@pytest.mark.parametrize(
    ("exchange", "field", "entry", "exit_"),
    [
        ("binanceusdm", "positionSide", "LONG", "LONG"),
        ("okx", "posSide", "long", "long"),
        ("bybit", "positionIdx", 1, 1),
    ],
)
async def test_hedge_mode_names_the_position_side(exchange, field, entry, exit_):
    client, capture = await client_for(exchange, hedge=True)
    try:
        await send(client, PerpSetup(), request(exchange, "buy", leverage=None))
        await send(client, PerpSetup(), request(exchange, "sell", reduce_only=True))
        await send(client, PerpSetup(), request(exchange, "sell", leverage=None))
    finally:
        await client.close()
    opened, closed, short = capture.orders()[-3:]
    assert (opened[field], closed[field]) == (entry, exit_)
    assert short[field] in ("SHORT", "short", 2)
    if exchange != "bybit":  # Binance and OKX refuse reduceOnly in hedge mode
        assert "reduceOnly" not in closed


async def test_hedge_mode_is_refused_where_tvdesk_cannot_name_the_side():
    client, capture = await client_for("gate", hedge=True)
    try:
        with pytest.raises(Refusal, match='position_mode = "oneway"'):
            await send(client, PerpSetup(), request("gate", leverage=None))
    finally:
        await client.close()
    assert capture.orders() == []


async def test_a_size_below_one_contract_is_refused_with_both_numbers():
    client, _ = await client_for("okx")
    try:
        market_ = client.market(SYMBOL)
        assert market_ is not None
        with pytest.raises(Refusal) as caught:
            conform(client, market_, "buy", "market", Decimal("0.004"), Decimal(50000))
    finally:
        await client.close()
    assert "0.004 BTC is 0.4 contracts" in str(caught.value)
    assert "at least 0.01 BTC" in str(caught.value)


async def test_a_binance_usdm_stop_loss_is_stop_market_and_reduce_only():
    client, capture = await client_for("binanceusdm")
    entry = LiveOrder(CID, ALERT, "binanceusdm", SYMBOL, "buy", "market", Decimal("0.01"), None)
    state = OrderState("1", "filled", Decimal("0.01"), Decimal(50000), None, None, True)
    try:
        (stop,) = plan(client, entry, state, Decimal(45000), None)
        assert stop.order is not None, stop.refusal
        await client.create(SYMBOL, "market", "sell", stop.order.qty, None, CID, stop.params)
    finally:
        await client.close()
    (order,) = capture.orders()
    assert order["type"] == "STOP_MARKET"
    assert order["reduceOnly"] == "true"
    assert Decimal(order.get("stopPrice") or order.get("triggerPrice")) == 45000
