"""Coinbase Advanced Trade (spot), checked: tvdesk's order code through ccxt, transport replaced.

Replies are in the shapes Coinbase documents (``/api/v3/brokerage/orders``,
``/orders/historical/batch``). Before ``venues/coinbase.py`` ccxt sent its own
``ccxt-<uuid>`` as ``client_order_id``, so no lookup ever found tvdesk's order (a fill stayed
"open", an order whose reply timed out was placed again), and refused every market buy.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import ccxt
import pytest

from tests.kit.capture import CID, Capture, captured, spot_market
from tests.kit.clock import FakeClock
from tvdesk.brokers.errors import OrderRefused
from tvdesk.brokers.exchange import LiveTuning, order_state
from tvdesk.brokers.ledger import LiveOrder
from tvdesk.brokers.retry import CircuitBreaker
from tvdesk.brokers.sender import OrderSender
from tvdesk.store.journal import Journal

SYMBOL = "BTC/USD"
CREATE = "/api/v3/brokerage/orders"
LIST = "/api/v3/brokerage/orders/historical/batch"


def order(cid: str, status: str, filled: str, **more: Any) -> dict[str, Any]:
    """One order as Coinbase lists it."""
    config = more.pop("config", {"limit_limit_gtc": {"base_size": "0.002", "limit_price": "49000"}})
    return {
        "order_id": "0000-1",
        "product_id": "BTC-USD",
        "side": "BUY",
        "client_order_id": cid,
        "status": status,
        "order_configuration": config,
        "filled_size": filled,
        "average_filled_price": "49000" if filled != "0" else "0",
        "total_fees": "0.1",
        "created_time": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "order_type": more.pop("order_type", "LIMIT"),
        **more,
    }


def exchange(orders: list[dict[str, Any]]) -> Any:
    """Coinbase with these orders; a create is accepted and remembered under the id it got."""

    def answer(method: str, path: str, fields: dict[str, Any]) -> tuple[int, Any] | None:
        if path == CREATE and method == "POST":
            mine = {"order_id": "0000-9", "product_id": "BTC-USD", "side": fields["side"]}
            orders.append(order(fields["client_order_id"], "FILLED", "0.002", **mine))
            created = {**mine, "client_order_id": fields["client_order_id"]}
            return 200, {"success": True, "order_id": "0000-9", "success_response": created}
        if path == LIST:
            wanted = fields.get("order_status")
            listed = [o for o in orders if wanted in (None, o["status"])]
            return 200, {"orders": listed, "has_next": False, "cursor": ""}
        return None

    return answer


async def coinbase(orders: list[dict[str, Any]], **kw: Any) -> tuple[Any, Capture]:
    return await captured("coinbase", [spot_market(SYMBOL, "BTC-USD")], exchange(orders), **kw)


async def test_tvdesks_client_order_id_reaches_coinbases_client_order_id():
    client, capture = await coinbase([])
    try:
        await client.create(SYMBOL, "limit", "buy", Decimal("0.002"), Decimal(49000), CID)
    finally:
        await client.close()
    (sent,) = capture.to(CREATE)
    assert sent.fields["client_order_id"] == CID


async def test_a_market_buy_sends_its_cost_at_the_market_price():
    client, capture = await coinbase([])
    try:
        # 50000 is the market price the engine read (the order's reference price).
        await client.create(SYMBOL, "market", "buy", Decimal("0.002"), Decimal(50000), CID)
    finally:
        await client.close()
    (sent,) = capture.to(CREATE)
    assert sent.fields["order_configuration"] == {"market_market_ioc": {"quote_size": "100"}}


async def test_a_market_buy_below_the_minimum_value_is_refused_before_sending():
    client, capture = await coinbase([])
    try:
        with pytest.raises(OrderRefused, match=r"0\.5 USD is below the minimum order value 1"):
            await client.create(SYMBOL, "market", "buy", Decimal("0.00001"), Decimal(50000), CID)
    finally:
        await client.close()
    assert capture.sent == []


STOP = {
    "stop_limit_stop_limit_gtc": {
        "base_size": "0.002",
        "limit_price": "44000",
        "stop_price": "45000",
        "stop_direction": "STOP_DIRECTION_STOP_DOWN",
    }
}


def states() -> dict[str, Any]:
    """The canned replies, made when a test runs (their times are "now": a lookup
    only searches orders made since the send, however late the test runs)."""
    return {
        "open": (order(CID, "OPEN", "0"), "open", "0"),
        "filled": (order(CID, "FILLED", "0.002"), "filled", "0.002"),
        "partly filled then canceled": (order(CID, "CANCELLED", "0.0008"), "canceled", "0.0008"),
        "canceled": (order(CID, "CANCELLED", "0"), "canceled", "0"),
        "stop-limit, untriggered": (
            order(CID, "OPEN", "0", config=STOP, order_type="STOP_LIMIT"),
            "open",
            "0",
        ),
    }


STATE_NAMES = list(states())


@pytest.mark.parametrize("state", STATE_NAMES)
async def test_the_lookup_finds_the_order_in_every_state(state: str):
    mine, status, filled = states()[state]
    others = [order("ccxt-1111", "OPEN", "0"), order("tvdOTHER", "FILLED", "0.002")]
    client, _ = await coinbase([*others, mine])
    try:
        found = await client.find(CID, SYMBOL, time.time())
    finally:
        await client.close()
    assert found is not None
    state_ = order_state(found)
    assert (state_.status, state_.filled) == (status, Decimal(filled))


async def test_an_order_whose_reply_timed_out_is_found_not_placed_twice(tmp_path: Path):
    orders: list[dict[str, Any]] = []
    accept = exchange(orders)
    lost = [True]  # Coinbase takes the first order; its reply never arrives

    def answer(method: str, path: str, fields: dict[str, Any]) -> tuple[int, Any] | None:
        reply = accept(method, path, fields)
        if path == CREATE and lost.pop() if lost else False:
            raise ccxt.RequestTimeout(f"coinbase POST {path} request timeout")  # as ccxt's own
        return reply

    client, capture = await captured("coinbase", [spot_market(SYMBOL, "BTC-USD")], answer)
    journal = Journal(tmp_path / "journal.sqlite3")
    journal.open()
    tuning = LiveTuning(recv_window_ms=0, settle_margin_s=0, backoff_base_s=0, retries=1)
    sender = OrderSender(
        journal, FakeClock(), tuning, CircuitBreaker(5, 60, time.monotonic, lambda *_: None)
    )
    entry = LiveOrder(
        CID, CID[3:], "coinbase", SYMBOL, "buy", "market", Decimal("0.002"), Decimal(50000)
    )
    try:
        state, _ = await sender.place(client, entry)
    finally:
        await client.close()
        journal.close()
    assert len(capture.to(CREATE)) == 1
    assert (state.status, state.filled) == ("filled", Decimal("0.002"))
