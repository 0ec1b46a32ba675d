"""Faults on a perpetual's order, shared by the OKX swap and Bybit linear fault tests.

Each scenario sends one 0.05 BTC long (3× leverage set first) through a real live engine
while the fake exchange process misbehaves once, and checks at the exchange (orders it
took, the position it holds, the leverage calls) and in the journal that it was placed
exactly once, at its full size in the exchange's unit, whatever went wrong.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.brokers.test_bybit_live import HELD_S
from tests.brokers.test_paper_process import export, wait_decided
from tests.kit.engine_proc import Engines
from tests.kit.fake_exchange import FakeProcess
from tests.kit.perp_live import Venue, book, orders_sent, restart, send, start, trail, wait_created


def _one_order(record: dict[str, Any]) -> dict[str, Any]:
    (order,) = record["orders"]
    assert order["mode"] == "live" and order["client_order_id"] == f"tvd{record['alert_id']}"
    return order


def _placed_once(fake: FakeProcess, venue: Venue, cid: str, size: str) -> None:
    sent = orders_sent(fake)
    assert [o[venue.id_field] for o in sent] == [cid]
    assert sent[0][venue.size_field] == size
    assert len(fake.orders()) == 1
    leverage_calls = [
        s for s in book(fake)["setups"] if s.get("path", "set-leverage") == "set-leverage"
    ]
    assert len(leverage_calls) == 1  # set before the order, not again for its lookup or retry


def held_reply_is_found_not_placed_twice(
    engines: Engines, fake: FakeProcess, venue: Venue, size: str
) -> dict[str, Any]:
    engine = start(engines, fake, venue)
    fake.fault(method="POST", path=venue.create, kind="slow", delay_s=HELD_S)
    alert_id = send(engine, venue, "held", side="buy", qty="0.05")
    record = wait_decided(engine, [alert_id])[alert_id]
    assert record["outcome"] == "filled", record["reason"]
    order = _one_order(record)
    assert (order["status"], Decimal(order["filled"])) == ("filled", Decimal("0.05"))
    words = trail(record)
    assert "did not answer in time" in words
    assert f"found tvd{alert_id} at {venue.exchange}: placed once" in words
    _placed_once(fake, venue, f"tvd{alert_id}", size)
    return book(fake)


def a_503_is_sent_again_once_known_absent(
    engines: Engines, fake: FakeProcess, venue: Venue, size: str
) -> dict[str, Any]:
    engine = start(engines, fake, venue)
    fake.fault(method="POST", path=venue.create, kind="status", status=503)
    alert_id = send(engine, venue, "busy", side="buy", qty="0.05")
    record = wait_decided(engine, [alert_id])[alert_id]
    assert record["outcome"] == "filled", record["reason"]
    words = trail(record)
    assert f"attempt 1: {venue.exchange} is not available (HTTP 503)" in words
    assert "nothing was placed" in words
    _placed_once(fake, venue, f"tvd{alert_id}", size)
    return book(fake)


def partial_fill_then_cancel_is_found_not_placed_again(
    engines: Engines, fake: FakeProcess, venue: Venue, size: str, part: str
) -> dict[str, Any]:
    """``part``: what fills, in the exchange's unit; 0.02 BTC of the 0.05."""
    engine = start(engines, fake, venue)
    fake.fault(method="POST", path=venue.create, kind="slow", delay_s=HELD_S, fill=part)
    alert_id = send(engine, venue, "thin", side="buy", qty="0.05")
    record = wait_decided(engine, [alert_id])[alert_id]
    order = _one_order(record)
    assert (order["status"], Decimal(order["filled"])) == ("canceled", Decimal("0.02"))
    assert record["outcome"] == "filled", record["reason"]  # what it bought is a position
    assert "canceled after 0.02 filled" in record["reason"]
    _placed_once(fake, venue, f"tvd{alert_id}", size)
    return book(fake)


def kill_9_mid_order_is_settled_after_the_restart(
    engines: Engines, fake: FakeProcess, venue: Venue, size: str
) -> dict[str, Any]:
    engine = start(engines, fake, venue)
    fake.fault(method="POST", path=venue.create, kind="hang")  # made, never answered
    alert_id = send(engine, venue, "in-flight", side="buy", qty="0.05")
    wait_created(fake, f"tvd{alert_id}", engine)
    engine.kill()
    assert export(engine)[alert_id]["orders"][0]["status"] == "submitting"

    restarted = restart(engines, fake, venue)
    record = wait_decided(restarted, [alert_id])[alert_id]
    assert record["outcome"] == "filled", record["reason"]
    assert _one_order(record)["status"] == "filled"
    assert [e["clientOrderId"] for e in fake.entries("order")] == [f"tvd{alert_id}"]
    _placed_once(fake, venue, f"tvd{alert_id}", size)
    return book(fake)
