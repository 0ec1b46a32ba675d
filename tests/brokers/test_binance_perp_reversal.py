"""A live reversal on Binance USDⓈ-M (a sell bigger than the long held), both processes real.

The contract (DESIGN.md "Perpetual futures"; issue 15): one alert, two orders. First the
closing part, reduce-only, for exactly the size held; then the opening order for the rest,
without reduce-only. In hedge mode the two go to the two position sides. Each order is sent
exactly once, also when tvdesk is killed with the closing part in flight.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from tests.brokers.test_binance_perp_live import (
    LEVERAGE,
    ORDER,
    SECRET,
    live,
    position,
    send,
    sent,
    trade,
    until,
)
from tests.brokers.test_paper_process import export, wait_decided
from tests.kit.engine_proc import Engines
from tests.kit.fake_binance_futures import FuturesProcess


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FuturesProcess]:
    process = FuturesProcess(tmp_path / "fake-orders.jsonl")
    yield process
    process.stop()


@pytest.fixture
def engines(tmp_path: Path) -> Iterator[Engines]:
    started = Engines(tmp_path, SECRET)
    yield started
    started.cleanup()


def test_a_sell_bigger_than_the_long_closes_it_reduce_only_then_opens_the_short(
    engines: Engines, fake: FuturesProcess
):
    engine = live(engines, fake, leverage="5")
    trade(engine, "long", "buy", "0.01")

    reversal = trade(engine, "reverse", "sell", "0.03")

    assert reversal["outcome"] == "filled", reversal["reason"]
    closing, opening = sent(fake)[1:]
    assert (closing["side"], closing["quantity"], closing.get("reduceOnly")) == (
        "SELL",
        "0.01",
        "true",
    )
    assert (opening["side"], opening["quantity"], "reduceOnly" in opening) == (
        "SELL",
        "0.02",
        False,
    )
    cids = [closing["newClientOrderId"], opening["newClientOrderId"]]
    assert len(set(cids)) == 2
    assert all(c.startswith(f"tvd{reversal['alert_id']}") for c in cids)
    assert position(fake) == Decimal("-0.02")
    orders = reversal["orders"]
    assert [o["status"] for o in orders] == ["filled", "filled"]
    assert sum(Decimal(o["filled"]) for o in orders) == Decimal("0.03")
    assert [c["leverage"] for c in sent(fake, LEVERAGE)] == ["5"]  # set once, not per order


def test_a_reversal_in_hedge_mode_closes_the_long_side_then_opens_the_short_side(
    engines: Engines, fake: FuturesProcess
):
    fake.hedge_mode()
    engine = live(engines, fake, position_mode='"hedge"')
    trade(engine, "long", "buy", "0.01")

    reversal = trade(engine, "reverse", "sell", "0.03")

    assert reversal["outcome"] == "filled", reversal["reason"]
    legs = [(p["side"], p["positionSide"], p["quantity"], "reduceOnly" in p) for p in sent(fake)]
    assert legs[1:] == [("SELL", "LONG", "0.01", False), ("SELL", "SHORT", "0.02", False)]
    assert (position(fake, "LONG"), position(fake, "SHORT")) == (0, Decimal("-0.02"))


def test_kill_9_with_the_closing_part_in_flight_sends_each_part_once(
    engines: Engines, fake: FuturesProcess
):
    engine = live(engines, fake)
    trade(engine, "long", "buy", "0.01")
    fake.fault(method="POST", path=ORDER, kind="hang")  # the closing part: made, never answered
    alert_id = send(engine, "reverse", "sell", "0.03")
    until(lambda: len(fake.entries("created")) == 2, engine)
    engine.kill()

    restarted = live(engines, fake)
    record = wait_decided(restarted, [alert_id])[alert_id]
    until(lambda: len(export(restarted)[alert_id]["orders"]) == 2, restarted)

    assert record["outcome"] == "filled", record["reason"]
    cids = [e["clientOrderId"] for e in fake.entries("order")][1:]
    assert len(cids) == 2 and len(set(cids)) == 2  # each part sent once
    assert position(fake) == Decimal("-0.02")
