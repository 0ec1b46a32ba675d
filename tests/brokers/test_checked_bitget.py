"""Bitget (classic spot and USDT-M futures), checked: tvdesk's order code through ccxt with
the transport replaced.

Replies in Bitget's v2 shapes. A classic-spot market buy's ``size`` is the quote coin to
spend, which ccxt refused to work out without a price before ``venues/bitget.py``; a futures
stop-loss is a plan order (``pos_loss``), listed only with ``planType=profit_loss``.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import pytest

from tests.kit.capture import CID, STOP_CID, captured, spot_market
from tvdesk.brokers.exchange import order_state

SPOT, SWAP = "BTC/USDT", "BTC/USDT:USDT"
CREATE = "/api/v2/spot/trade/place-order"
NOT_FOUND = (
    400,
    {
        "code": "40109",
        "msg": "The data of the order cannot be found, please confirm the order number",
        "data": None,
    },
)


def swap_market() -> dict[str, Any]:
    market = spot_market(SWAP, "BTCUSDT")
    market.update(type="swap", spot=False, swap=True, contract=True, linear=True, inverse=False,
                  settle="USDT", settleId="USDT", contractSize=1.0)  # fmt: skip
    return market


def order(cid: str, status: str, filled: str, **more: Any) -> dict[str, Any]:
    """An order as ``orderInfo`` (spot, ``status``) or ``order/detail`` (futures, ``state``)."""
    now = str(int(time.time() * 1000))
    return {
        "symbol": "BTCUSDT",
        "orderId": "1111461743123927040",
        "clientOid": cid,
        "price": "49000",
        "size": "0.002",
        "orderType": "limit",
        "side": "buy",
        more.pop("status_field", "status"): status,
        "priceAvg": "49000" if filled != "0" else "0",
        "baseVolume": filled,
        "quoteVolume": str(Decimal(filled) * 49000),
        "enterPointSource": "API",
        "orderSource": "normal",
        "cTime": now,
        "uTime": now,
        **more,
    }


def plan(cid: str, status: str) -> dict[str, Any]:
    """A futures stop-loss as ``orders-plan-pending`` / ``-history`` list it."""
    now = str(int(time.time() * 1000))
    return {
        "planType": "pos_loss", "symbol": "BTCUSDT", "size": "0.002", "orderId": "2222",
        "clientOid": cid, "price": "0", "executePrice": "0", "triggerPrice": "45000",
        "triggerType": "mark_price", "planStatus": status, "side": "sell", "posSide": "net",
        "marginCoin": "USDT", "marginMode": "crossed", "tradeSide": "close",
        "orderType": "market", "cTime": now, "uTime": now,
    }  # fmt: skip


def answer_with(orders: list[dict[str, Any]], plans: list[dict[str, Any]] = ()) -> Any:
    def answer(method: str, path: str, fields: dict[str, Any]) -> tuple[int, Any] | None:
        if path == "/api/v3/account/settings":  # ccxt's probe: a classic account is refused
            return 400, {"code": "40084", "msg": "not a unified trading account", "data": None}
        if path == CREATE:
            return 200, {
                "code": "00000",
                "msg": "success",
                "data": {"orderId": "1001", "clientOid": fields["clientOid"]},
            }
        mine = [o for o in orders if o["clientOid"] == fields.get("clientOid")]
        if path == "/api/v2/spot/trade/orderInfo":
            return (200, {"code": "00000", "msg": "success", "data": mine}) if mine else NOT_FOUND
        if path == "/api/v2/mix/order/detail":
            return (
                (200, {"code": "00000", "msg": "success", "data": mine[0]}) if mine else NOT_FOUND
            )
        if path.startswith("/api/v2/mix/order/orders-plan-"):
            assert fields["planType"] == "profit_loss"
            live = path.endswith("pending")
            listed = [p for p in plans if (p["planStatus"] == "live") == live]
            return 200, {
                "code": "00000",
                "msg": "success",
                "data": {"entrustedList": listed, "endId": None},
            }
        return None

    return answer


async def test_a_spot_market_buy_sends_its_cost_under_clientoid():
    client, capture = await captured("bitget", [spot_market(SPOT, "BTCUSDT")], answer_with([]))
    try:
        # 50000 is the market price the engine read (the order's reference price).
        await client.create(SPOT, "market", "buy", Decimal("0.002"), Decimal(50000), CID)
    finally:
        await client.close()
    (sent,) = capture.to(CREATE)
    assert sent.fields["clientOid"] == CID
    assert (sent.fields["orderType"], sent.fields["size"]) == ("market", "100")


def states() -> dict[str, Any]:
    """The canned replies, made when a test runs (their times are "now": a lookup
    only searches orders made since the send, however late the test runs)."""
    return {
        "open": (order(CID, "live", "0"), "open", "0"),
        "filled": (order(CID, "filled", "0.002"), "filled", "0.002"),
        "partly filled then canceled": (order(CID, "cancelled", "0.0008"), "canceled", "0.0008"),
        "canceled": (order(CID, "cancelled", "0"), "canceled", "0"),
    }


STATE_NAMES = list(states())


@pytest.mark.parametrize("state", STATE_NAMES)
async def test_the_spot_lookup_finds_the_order_in_every_state(state: str):
    mine, status, filled = states()[state]
    markets = [spot_market(SPOT, "BTCUSDT")]
    client, _ = await captured(
        "bitget", markets, answer_with([order("tvdOTHER", "live", "0"), mine])
    )
    try:
        found = await client.find(CID, SPOT, time.time())
    finally:
        await client.close()
    assert found is not None
    got = order_state(found)
    assert (got.status, got.filled) == (status, Decimal(filled))


@pytest.mark.parametrize(
    ("status", "state"), [("live", "open"), ("cancelled", "canceled"), ("executed", "filled")]
)
async def test_a_futures_stop_loss_is_found_among_the_plan_orders(status: str, state: str):
    client, capture = await captured(
        "bitget", [swap_market()], answer_with([], [plan(STOP_CID, status)])
    )
    try:
        found = await client.find(STOP_CID, SWAP, time.time())
    finally:
        await client.close()
    assert found is not None and order_state(found).status == state
    assert any(s.path.startswith("/api/v2/mix/order/orders-plan-") for s in capture.sent)


async def test_a_futures_order_is_found_by_clientoid_first():
    detail = order(CID, "partially_filled", "0.0008", status_field="state", posSide="net")
    client, capture = await captured("bitget", [swap_market()], answer_with([detail]))
    try:
        found = await client.find(CID, SWAP, time.time())
    finally:
        await client.close()
    assert found is not None and order_state(found).status == "partially_filled"
    assert [s.path for s in capture.sent if s.path.startswith("/api/v2")] == [
        "/api/v2/mix/order/detail"
    ]
