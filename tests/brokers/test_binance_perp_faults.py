"""Exactly once on Binance USDⓈ-M when things go wrong, both processes real: a reply held
past tvdesk's timeout, a 503, a partial fill then cancel, kill -9 mid-order (the entry, and
the stop-loss, which Binance keeps with its algo orders), and a restart with stop-loss and
take-profit resting (found again, and followed until one triggers).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from tests.brokers.test_binance_perp_live import (
    ALGO,
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

HELD_S = 12.0  # past tvdesk's request timeout (10 s): the order exists, its reply is lost


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


def words(record: dict) -> str:
    return "\n".join(str(entry.get("detail", "")) for entry in record["trail"])


def test_a_reply_held_past_the_timeout_is_found_and_the_short_not_placed_twice(
    engines: Engines, fake: FuturesProcess
):
    engine = live(engines, fake)
    fake.fault(method="POST", path=ORDER, kind="slow", delay_s=HELD_S)

    record = trade(engine, "held", "sell", "0.01")

    assert record["outcome"] == "filled", record["reason"]
    assert "did not answer in time" in words(record)
    assert f"found tvd{record['alert_id']} at binanceusdm: placed once" in words(record)
    assert [p["newClientOrderId"] for p in sent(fake)] == [f"tvd{record['alert_id']}"]
    assert position(fake) == Decimal("-0.01")


def test_a_503_is_looked_up_then_sent_again_once(engines: Engines, fake: FuturesProcess):
    engine = live(engines, fake)
    fake.fault(method="POST", path=ORDER, kind="status", status=503)

    record = trade(engine, "busy", "buy", "0.01")

    assert record["outcome"] == "filled", record["reason"]
    assert "attempt 1: binanceusdm is not available (HTTP 503)" in words(record)
    assert "nothing was placed" in words(record)
    assert len(fake.orders()) == 1 and position(fake) == Decimal("0.01")


def test_a_partial_fill_then_cancel_is_recorded_as_such_and_not_placed_again(
    engines: Engines, fake: FuturesProcess
):
    engine = live(engines, fake)
    # A thin book: 0.004 of the 0.01 fills, Binance expires the rest; the reply is lost.
    fake.fault(method="POST", path=ORDER, kind="slow", delay_s=HELD_S, fill="0.004")

    record = trade(engine, "thin", "buy", "0.01")

    (order,) = record["orders"]
    assert (order["status"], Decimal(order["filled"])) == ("canceled", Decimal("0.004"))
    assert record["outcome"] == "filled", record["reason"]
    assert "canceled after 0.004 filled" in record["reason"]
    assert len(sent(fake)) == 1 and position(fake) == Decimal("0.004")


def test_kill_9_mid_order_then_restart_records_it_once(engines: Engines, fake: FuturesProcess):
    engine = live(engines, fake)
    fake.fault(method="POST", path=ORDER, kind="hang")  # made, never answered
    alert_id = send(engine, "in-flight", "sell", "0.01")
    until(lambda: fake.entries("created"), engine)
    engine.kill()
    assert export(engine)[alert_id]["orders"][0]["status"] == "submitting"

    restarted = live(engines, fake)
    record = wait_decided(restarted, [alert_id])[alert_id]

    assert record["outcome"] == "filled", record["reason"]
    assert [e["clientOrderId"] for e in fake.entries("order")] == [f"tvd{alert_id}"]
    assert position(fake) == Decimal("-0.01")


def test_kill_9_while_the_stop_loss_is_placed_then_restart_places_it_once(
    engines: Engines, fake: FuturesProcess
):
    engine = live(engines, fake)
    fake.fault(method="POST", path=ALGO, kind="hang")  # the stop-loss is made, never answered
    alert_id = send(engine, "guarded", "buy", "0.01", stop_loss="45000", take_profit="60000")
    cid = f"tvd{alert_id}"
    until(lambda: any(e["clientOrderId"] == f"{cid}1" for e in fake.entries("created")), engine)
    engine.kill()

    restarted = live(engines, fake)
    record = wait_decided(restarted, [alert_id])[alert_id]
    until(lambda: len(export(restarted)[alert_id]["orders"]) == 3, restarted)

    assert record["outcome"] == "filled", record["reason"]
    placed = [p["clientAlgoId"] for p in sent(fake, ALGO)]
    assert sorted(placed) == [f"{cid}1", f"{cid}2"]  # each once: none placed twice
    statuses = {o["client_order_id"]: o["status"] for o in export(restarted)[alert_id]["orders"]}
    assert statuses == {cid: "filled", f"{cid}1": "open", f"{cid}2": "open"}


def test_resting_stops_are_found_after_a_restart_and_followed_until_one_triggers(
    engines: Engines, fake: FuturesProcess
):
    engine = live(engines, fake)
    entry = trade(engine, "protected", "buy", "0.01", stop_loss="45000", take_profit="60000")
    assert entry["outcome"] == "filled", entry["reason"]
    assert engine.terminate() == 0
    cid, before = f"tvd{entry['alert_id']}", len(fake.calls())

    restarted = live(engines, fake)

    def asked_after_restart() -> bool:
        return any(c["params"].get("clientAlgoId") == f"{cid}1" for c in fake.calls()[before:])

    until(asked_after_restart, restarted)
    fake.set_price("44000")  # the stop-loss triggers: a reduce-only market sell

    def orders() -> dict[str, dict]:
        return {o["client_order_id"]: o for o in export(restarted)[entry["alert_id"]]["orders"]}

    until(lambda: orders()[f"{cid}1"]["status"] == "filled", restarted)
    until(lambda: orders()[f"{cid}2"]["status"] == "canceled", restarted)

    assert Decimal(orders()[f"{cid}1"]["filled"]) == Decimal("0.01")
    assert Decimal(orders()[f"{cid}1"]["avg_price"]) == Decimal("44000")
    assert position(fake) == 0
    assert [a["algoStatus"] for a in fake.state()["algos"]] == ["FINISHED", "CANCELED"]
    assert len(sent(fake, ALGO)) == 2  # nothing placed again after the restart
