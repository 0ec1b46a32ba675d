"""KuCoin (spot), checked: tvdesk's order code through ccxt with the transport replaced.

Replies in KuCoin's documented shapes. An order is found by ``clientOid`` in any state at
``/api/v1/order/client-order/{clientOid}``; a stop-loss or take-profit that has not
triggered is only at ``/api/v1/stop-order/queryOrderByClientOid``, which the lookup (and so
the order watch) never asked before ``venues/kucoin.py``.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import pytest

from tests.kit.capture import CID, STOP_CID, captured, spot_market
from tvdesk.brokers.exchange import order_state

SYMBOL = "BTC/USDT"
CREATE = "/api/v1/orders"
BY_CLIENT_ID = "/api/v1/order/client-order/"
STOP_BY_CLIENT_ID = "/api/v1/stop-order/queryOrderByClientOid"


def order(cid: str, active: bool, deal: str, cancelled: bool = False) -> dict[str, Any]:
    """One order as ``/api/v1/order/client-order/{clientOid}`` answers it."""
    return {
        "id": "5c35c02703aa673ceec2a168",
        "symbol": "BTC-USDT",
        "opType": "DEAL",
        "type": "limit",
        "side": "buy",
        "price": "49000",
        "size": "0.002",
        "funds": "0",
        "dealFunds": str(Decimal(deal) * 49000),
        "dealSize": deal,
        "fee": "0.1",
        "feeCurrency": "USDT",
        "stop": "",
        "stopTriggered": False,
        "stopPrice": "0",
        "timeInForce": "GTC",
        "clientOid": cid,
        "isActive": active,
        "cancelExist": cancelled,
        "createdAt": int(time.time() * 1000),
        "tradeType": "TRADE",
    }


def stop(cid: str, status: str) -> dict[str, Any]:
    """A stop order as ``/api/v1/stop-order/queryOrderByClientOid`` lists it."""
    return {
        "id": "vs8hoo8q2ceshiue003b67c0",
        "symbol": "BTC-USDT",
        "status": status,
        "type": "market",
        "side": "sell",
        "price": "0",
        "size": "0.002",
        "clientOid": cid,
        "stop": "loss",
        "stopPrice": "45000",
        "stopTriggered": False,
        "feeCurrency": "USDT",
        "createdAt": int(time.time() * 1000),
        "tradeType": "TRADE",
    }


def answer_with(orders: list[dict[str, Any]], stops: list[dict[str, Any]]) -> Any:
    def answer(method: str, path: str, fields: dict[str, Any]) -> tuple[int, Any] | None:
        if "account/mode" in path:  # classic account, not unified
            return 200, {"code": "200000", "data": {"selfAccountMode": "CLASSIC"}}
        if path == CREATE:
            return 200, {"code": "200000", "data": {"orderId": "5c35c02703aa673ceec2a168"}}
        if path.startswith(BY_CLIENT_ID):
            wanted = path.removeprefix(BY_CLIENT_ID)
            return 200, {
                "code": "200000",
                "data": next((o for o in orders if o["clientOid"] == wanted), None),
            }
        if path == STOP_BY_CLIENT_ID:
            return 200, {
                "code": "200000",
                "data": [s for s in stops if s["clientOid"] == fields["clientOid"]],
            }
        return None

    return answer


async def kucoin(orders: list[dict[str, Any]], stops: list[dict[str, Any]]) -> Any:
    return await captured("kucoin", [spot_market(SYMBOL, "BTC-USDT")], answer_with(orders, stops))


async def test_the_client_order_id_is_clientoid_and_a_market_buy_is_sized_in_coins():
    client, capture = await kucoin([], [])
    try:
        await client.create(SYMBOL, "market", "buy", Decimal("0.002"), Decimal(50000), CID)
    finally:
        await client.close()
    (sent,) = capture.to(CREATE)
    assert sent.fields["clientOid"] == CID and len(CID) <= 40
    assert (sent.fields["type"], sent.fields["size"]) == ("market", "0.002")


def states() -> dict[str, Any]:
    """The canned replies, made when a test runs (their times are "now": a lookup
    only searches orders made since the send, however late the test runs)."""
    return {
        "open": ([order(CID, True, "0")], [], "open", "0"),
        "filled": ([order(CID, False, "0.002")], [], "filled", "0.002"),
        "partly filled then canceled": (
            [order(CID, False, "0.0008", cancelled=True)],
            [],
            "canceled",
            "0.0008",
        ),
        "canceled": ([order(CID, False, "0", cancelled=True)], [], "canceled", "0"),
    }


STATE_NAMES = list(states())


@pytest.mark.parametrize("state", STATE_NAMES)
async def test_the_lookup_finds_the_order_in_every_state(state: str):
    orders, stops, status, filled = states()[state]
    client, _ = await kucoin([order("tvdOTHER", True, "0"), *orders], stops)
    try:
        found = await client.find(CID, SYMBOL, time.time())
    finally:
        await client.close()
    assert found is not None
    got = order_state(found)
    assert (got.status, got.filled) == (status, Decimal(filled))


@pytest.mark.parametrize(("status", "state"), [("NEW", "open"), ("CANCEL", "canceled")])
async def test_a_stop_loss_is_found_among_the_stop_orders(status: str, state: str):
    client, capture = await kucoin([], [stop(STOP_CID, status)])
    try:
        found = await client.find(STOP_CID, SYMBOL, time.time())
    finally:
        await client.close()
    assert found is not None and order_state(found).status == state
    assert capture.to(STOP_BY_CLIENT_ID)[0].fields["clientOid"] == STOP_CID


async def test_an_order_in_neither_place_is_absent():
    client, _ = await kucoin([order("tvdOTHER", True, "0")], [stop("tvdOTHER1", "NEW")])
    try:
        assert await client.find(CID, SYMBOL, time.time()) is None
    finally:
        await client.close()
