"""Gate's stop-loss / take-profit (price orders), checked: tvdesk's protection code through
ccxt with the transport replaced, replies in Gate's documented v4 shapes
(``SpotPriceTriggeredOrder``: no client id of its own; ``fired_order_id`` once triggered).

tvdesk refused them before (``venues/gate.py``); now one is placed, found again by the id
Gate answered with in every state, cancelled where Gate keeps it, and one whose reply was
lost is never placed twice.
"""

from __future__ import annotations

import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import ccxt
import pytest

from tests.brokers.test_perp_resend import swap_market
from tests.kit.capture import ALERT, CID, STOP_CID, captured, spot_market
from tests.kit.clock import FakeClock
from tvdesk.brokers.errors import PermanentError
from tvdesk.brokers.exchange import LiveTuning, OrderState, order_state
from tvdesk.brokers.ledger import LiveOrder
from tvdesk.brokers.protect import protect
from tvdesk.brokers.retry import CircuitBreaker
from tvdesk.brokers.sender import OrderSender
from tvdesk.brokers.venues import venue_for
from tvdesk.store.journal import Journal

SYMBOL = "BTC/USDT"
PRICE_ORDERS = "/api/v4/spot/price_orders"
PRICE_ID = 1432329  # Gate's id for the price order: an int in its replies
FIRED_ID = "95282841887"  # the spot order a triggered price order placed
STOP_TEXT = venue_for("gate").client_order_id(STOP_CID)
ENTRY = LiveOrder(CID, ALERT, "gate", SYMBOL, "buy", "market", Decimal("0.002"), Decimal(50000))
FILLED = OrderState("123", "filled", Decimal("0.002"), Decimal(50000), None, None, True)


def price_order(status: str, *, made: float | None = None, pid: int = PRICE_ID) -> dict:
    """A spot price order as Gate returns it (GET /spot/price_orders/{id} and the lists)."""
    made = time.time() if made is None else made
    return {
        "trigger": {"price": "45000", "rule": "<=", "expiration": 86400},
        "put": {
            "type": "market", "side": "sell", "price": "0", "amount": "0.002",
            "account": "normal", "time_in_force": "ioc", "auto_borrow": False,
            "auto_repay": False, "text": "api",
        },
        "id": pid, "user": 6392049, "market": "BTC_USDT", "ctime": int(made),
        "ftime": 0 if status == "open" else int(made) + 5,
        "fired_order_id": int(FIRED_ID) if status == "finish" else 0,
        "status": status, "reason": "",
    }  # fmt: skip


def fired_order() -> dict[str, Any]:
    """The market sell the stop placed when it triggered, as GET /spot/orders/{id} has it."""
    now = time.time()
    return {
        "id": FIRED_ID, "text": "api", "create_time": str(int(now)),
        "update_time": str(int(now)), "create_time_ms": int(now * 1000),
        "update_time_ms": int(now * 1000), "status": "closed", "currency_pair": "BTC_USDT",
        "type": "market", "account": "spot", "side": "sell", "amount": "0.002", "price": "0",
        "time_in_force": "ioc", "iceberg": "0", "left": "0", "filled_amount": "0.002",
        "fill_price": "89.98", "filled_total": "89.98", "avg_deal_price": "44990",
        "fee": "0.17996", "fee_currency": "USDT", "finish_as": "filled",
    }  # fmt: skip


class Gate:
    """Gate's price orders, as the canned side of the capture: one store, every route."""

    def __init__(self, orders: list[dict[str, Any]] | None = None) -> None:
        self.orders = {o["id"]: o for o in orders or []}
        self.lose_reply = False  # the placing's reply never arrives (a timeout)

    def __call__(self, method: str, path: str, fields: dict[str, Any]) -> Any:
        if path == "/api/v4/account/detail":  # ccxt asks whether the account is unified
            return 200, {"user_id": 6392049, "key": {"mode": 1}}
        if path == PRICE_ORDERS and method == "POST":
            self.orders[PRICE_ID] = price_order("open")
            if self.lose_reply:
                raise ccxt.RequestTimeout(f"gate POST {path} request timeout")  # as ccxt's own
            return 201, {"id": PRICE_ID}
        if path == PRICE_ORDERS:
            wanted = ("open",) if fields["status"] == "open" else ("cancelled", "finish")
            return 200, [o for o in self.orders.values() if o["status"] in wanted]
        if path.startswith(PRICE_ORDERS + "/"):
            found = self.orders.get(int(path.rsplit("/", 1)[1]))
            if found is None:
                return 404, {"label": "ORDER_NOT_FOUND", "message": "Order not found"}
            if method == "DELETE":
                found["status"] = "cancelled"
            return 200, found
        if path == f"/api/v4/spot/orders/{FIRED_ID}":
            return 200, fired_order()
        if path.startswith("/api/v4/spot/orders/"):  # not a spot order: a price order's id
            return 404, {"label": "ORDER_NOT_FOUND", "message": "Order not found"}
        return None


async def place_stop(tmp_path: Path, gate: Gate) -> tuple[Any, Any]:
    """tvdesk's protection for a filled buy (stop-loss 45000) through ccxt to the capture."""
    client, capture = await captured("gate", [spot_market(SYMBOL, "BTC_USDT")], gate)
    # An order not found at once never will be (the clock does not move here).
    client.tuning = replace(client.tuning, recv_window_ms=0, settle_margin_s=0)
    journal = Journal(tmp_path / "journal.sqlite3")
    journal.open()
    tuning = LiveTuning(recv_window_ms=0, settle_margin_s=0, backoff_base_s=0, retries=1)
    sender = OrderSender(
        journal, FakeClock(), tuning, CircuitBreaker(5, 60, time.monotonic, lambda *_: None)
    )
    try:
        done = await protect(sender, client, ENTRY, FILLED, Decimal(45000), None)
    finally:
        await client.close()
        journal.close()
    return done, capture


async def test_a_stop_loss_is_placed_as_a_price_order_and_read_back_by_its_id(tmp_path):
    done, capture = await place_stop(tmp_path, Gate())
    assert [(ok, text) for _, ok, text in done.trail][-1] == (
        True,
        f"live stop-loss sell 0.002 BTC/USDT @ 45000 open (gate order {PRICE_ID}); "
        "tvdesk follows it until it closes",
    )
    assert done.summary == "stop-loss sell 0.002 @ 45000 placed"
    (sent,) = capture.to(PRICE_ORDERS, "POST")
    assert sent.fields["market"] == "BTC_USDT"
    assert sent.fields["trigger"] == {
        "price": "45000",
        "rule": "<=",  # a sell stop: when the price falls to 45000
        "expiration": 86400,
        "text": STOP_TEXT,  # ccxt sends tvdesk's id; Gate documents none here
    }
    put = sent.fields["put"]
    assert (put["type"], put["side"], put["amount"], put["time_in_force"]) == (
        "market",
        "sell",
        "0.002",
        "ioc",
    )
    # Gate's reply is only {"id": ...}: the order is read back by that id, not by tvdesk's.
    assert [s.method for s in capture.to(f"{PRICE_ORDERS}/{PRICE_ID}")] == ["GET"]


STATES = {  # Gate's status -> what tvdesk records (status, filled, average price)
    "open": ("open", "0", None),
    "finish": ("filled", "0.002", "44990"),  # triggered: the fired order's fill
    "cancelled": ("canceled", "0", None),
    "failed": ("canceled", "0", None),  # triggered, but Gate could not place the order
    "expired": ("canceled", "0", None),  # not triggered within its expiration
}


@pytest.mark.parametrize("status", list(STATES))
async def test_a_stop_is_found_by_its_recorded_id_in_every_state(status: str):
    gate = Gate([price_order(status)])
    client, capture = await captured("gate", [spot_market(SYMBOL, "BTC_USDT")], gate)
    try:
        found = await client.find(STOP_CID, SYMBOL, time.time(), order_id=str(PRICE_ID))
    finally:
        await client.close()
    assert found is not None
    got = order_state(found)
    want_status, filled, average = STATES[status]
    assert (got.status, got.filled, got.exchange_order_id) == (
        want_status,
        Decimal(filled),
        str(PRICE_ID),  # the id tvdesk keeps, also once it fired an order
    )
    assert got.average == (Decimal(average) if average else None)
    if status == "finish":
        assert (got.fee, got.fee_currency) == (Decimal("0.17996"), "USDT")
    assert capture.to(f"{PRICE_ORDERS}/{PRICE_ID}")  # asked where Gate keeps it


async def test_a_stop_gate_no_longer_knows_is_absent():
    client, _ = await captured("gate", [spot_market(SYMBOL, "BTC_USDT")], Gate())
    try:
        assert await client.find(STOP_CID, SYMBOL, time.time(), order_id="999") is None
    finally:
        await client.close()


async def test_cancelling_a_stop_goes_to_the_price_orders():
    gate = Gate([price_order("open")])
    client, capture = await captured("gate", [spot_market(SYMBOL, "BTC_USDT")], gate)
    try:
        reply = await client.cancel(str(PRICE_ID), SYMBOL)
    finally:
        await client.close()
    assert order_state(reply).status == "canceled"
    assert [s.method for s in capture.to(f"{PRICE_ORDERS}/{PRICE_ID}")] == ["DELETE"]
    assert gate.orders[PRICE_ID]["status"] == "cancelled"


async def test_a_stop_whose_reply_was_lost_is_not_placed_again(tmp_path):
    gate = Gate()
    gate.lose_reply = True  # Gate took it; tvdesk never heard which id it got
    done, capture = await place_stop(tmp_path, gate)
    assert len(capture.to(PRICE_ORDERS, "POST")) == 1
    assert done.summary.startswith("stop-loss not placed: ")
    assert "does not place it again; check the price orders on Gate" in done.summary


async def test_a_stop_whose_reply_was_lost_is_placed_again_once_surely_absent(tmp_path):
    old = price_order("open", made=time.time() - 3600, pid=7)  # set an hour ago, by hand
    gate = Gate([old])
    gate.lose_reply = True

    def lost_then_absent(method: str, path: str, fields: dict[str, Any]) -> Any:
        if path == PRICE_ORDERS and method == "POST" and gate.lose_reply:
            gate.lose_reply = False  # this request never reached Gate
            raise ccxt.RequestTimeout(f"gate POST {path} request timeout")
        return gate(method, path, fields)

    done, capture = await place_stop(tmp_path, lost_then_absent)  # type: ignore[arg-type]
    assert len(capture.to(PRICE_ORDERS, "POST")) == 2
    assert done.summary == "stop-loss sell 0.002 @ 45000 placed"


async def test_a_stop_carrying_tvdesks_id_is_found_without_gates_id():
    # Should Gate keep the id ccxt sends (trigger.text), the lists find it by that alone.
    mine = price_order("open")
    mine["trigger"]["text"] = STOP_TEXT
    client, _ = await captured("gate", [spot_market(SYMBOL, "BTC_USDT")], Gate([mine]))
    try:
        found = await client.find(STOP_CID, SYMBOL, time.time())
    finally:
        await client.close()
    assert found is not None and found["id"] == str(PRICE_ID)


async def test_an_unnamed_stop_made_since_is_reported_not_taken():
    client, _ = await captured(
        "gate", [spot_market(SYMBOL, "BTC_USDT")], Gate([price_order("open")])
    )
    try:
        with pytest.raises(PermanentError, match="may be this one"):
            await client.find(STOP_CID, SYMBOL, time.time())
    finally:
        await client.close()


async def test_an_entry_order_is_still_found_in_the_spot_lists_by_its_text():
    spot = {**fired_order(), "id": "12332324", "text": venue_for("gate").client_order_id(CID)}

    def answer(method: str, path: str, fields: dict[str, Any]) -> Any:
        if path == "/api/v4/spot/open_orders":
            return 200, []
        if path == "/api/v4/spot/orders" and fields.get("status") == "finished":
            return 200, [spot]
        return Gate()(method, path, fields)

    client, capture = await captured("gate", [spot_market(SYMBOL, "BTC_USDT")], answer)
    try:
        found = await client.find(CID, SYMBOL, time.time(), order_id="12332324")
    finally:
        await client.close()
    assert found is not None and order_state(found).status == "filled"
    assert not capture.to(PRICE_ORDERS)  # an entry is no price order


async def test_following_a_stop_by_its_recorded_id_sees_it_trigger_and_fill(tmp_path):
    # What the order watch asks every few seconds for an open stop, with the journal's id.
    gate = Gate([price_order("finish")])
    client, _ = await captured("gate", [spot_market(SYMBOL, "BTC_USDT")], gate)
    journal = Journal(tmp_path / "journal.sqlite3")
    journal.open()
    sender = OrderSender(
        journal, FakeClock(), LiveTuning(), CircuitBreaker(5, 60, time.monotonic, lambda *_: None)
    )
    stop = LiveOrder(
        STOP_CID, ALERT, "gate", SYMBOL, "sell", "stop_loss", Decimal("0.002"), Decimal(45000)
    )
    try:
        state = await sender.lookup(
            client, stop, time.time(), [], wait=False, order_id=str(PRICE_ID)
        )
    finally:
        await client.close()
        journal.close()
    assert state is not None
    assert (state.status, state.filled, state.average) == ("filled", Decimal("0.002"), 44990)


# -- USDT perpetuals: the same, at /futures/usdt/price_orders ------------------------------

SWAP = "BTC/USDT:USDT"
FUTURES_PRICE_ORDERS = "/api/v4/futures/usdt/price_orders"
FUTURES_FIRED = 123456


def swap() -> dict[str, Any]:
    market = swap_market()
    return {**market, "id": "BTC_USDT", "settleId": "usdt", "contractSize": 0.0001}


def futures_price_order(status: str, finish_as: str) -> dict[str, Any]:
    """A USDT perpetual's price order as Gate returns it (``FuturesPriceTriggeredOrder``)."""
    now = int(time.time())
    return {
        "initial": {
            "contract": "BTC_USDT", "size": -200, "price": "0", "tif": "ioc", "text": "api",
            "iceberg": 0, "is_close": False, "is_reduce_only": True, "auto_size": "",
        },
        "trigger": {"strategy_type": 0, "price_type": 0, "price": "45000", "rule": 2,
                    "expiration": 0},
        "id": PRICE_ID, "user": 6392049, "create_time": now, "finish_time": now,
        "trade_id": FUTURES_FIRED if finish_as == "succeeded" else 0, "status": status,
        "finish_as": finish_as, "reason": "", "order_type": "close-long-order",
    }  # fmt: skip


def futures_answer(orders: dict[str, Any]) -> Any:
    def answer(method: str, path: str, fields: dict[str, Any]) -> Any:
        if path == "/api/v4/account/detail":
            return 200, {"user_id": 6392049, "key": {"mode": 1}}
        if path == FUTURES_PRICE_ORDERS and method == "POST":
            orders["now"] = futures_price_order("open", "")
            return 201, {"id": PRICE_ID}
        if path == f"{FUTURES_PRICE_ORDERS}/{PRICE_ID}":
            return 200, orders["now"]
        if path == f"/api/v4/futures/usdt/orders/{FUTURES_FIRED}":
            return 200, {
                "id": FUTURES_FIRED, "contract": "BTC_USDT", "size": -200, "left": 0,
                "price": "0", "fill_price": "44990", "tif": "ioc", "status": "finished",
                "finish_as": "filled", "create_time": time.time(), "is_reduce_only": True,
                "text": "api",
            }  # fmt: skip
        return None

    return answer


async def test_a_perpetual_stop_is_a_futures_price_order_found_by_its_id(tmp_path):
    orders: dict[str, Any] = {}
    client, capture = await captured("gate", [swap()], futures_answer(orders))
    client.tuning = replace(client.tuning, recv_window_ms=0, settle_margin_s=0)
    journal = Journal(tmp_path / "journal.sqlite3")
    journal.open()
    sender = OrderSender(
        journal, FakeClock(), LiveTuning(), CircuitBreaker(5, 60, time.monotonic, lambda *_: None)
    )
    long = LiveOrder(CID, ALERT, "gate", SWAP, "buy", "market", Decimal("0.02"), Decimal(50000))
    filled = OrderState("1", "filled", Decimal("0.02"), Decimal(50000), None, None, True)
    try:
        done = await protect(sender, client, long, filled, Decimal(45000), None)
        followed = {}
        for status, finish_as in (("finished", "succeeded"), ("finished", "cancelled")):
            orders["now"] = futures_price_order(status, finish_as)
            found = await client.find(STOP_CID, SWAP, time.time(), order_id=str(PRICE_ID))
            followed[finish_as] = found and order_state(found)
    finally:
        await client.close()
        journal.close()
    assert done.summary == "stop-loss sell 0.02 @ 45000 placed"
    (sent,) = capture.to(FUTURES_PRICE_ORDERS, "POST")
    assert sent.fields["initial"]["size"] == -200  # 0.02 BTC in 0.0001 BTC contracts, a sell
    assert sent.fields["initial"]["reduce_only"] is True  # it only ever closes the position
    assert (sent.fields["trigger"]["price"], sent.fields["trigger"]["rule"]) == ("45000", 2)
    triggered, cancelled = followed["succeeded"], followed["cancelled"]
    assert (triggered.status, triggered.filled, triggered.average) == (
        "filled",
        Decimal("0.02"),
        Decimal(44990),
    )
    assert (cancelled.status, cancelled.filled) == ("canceled", Decimal(0))
