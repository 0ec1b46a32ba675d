"""`tvdesk --headless --mode live --exchange bybit` trading the linear perpetual BTCUSDT on the
fake Bybit v5 (tests/kit/fake_bybit_linear.py), both real processes, ccxt's signed requests.

Bybit's linear ``qty`` is in BTC (one contract is one coin): 0.05 BTC goes out as 0.05. The
unified account's margin mode and the market's leverage are set before the first order and
not again while they stay the same; a sell from flat opens a short; an exit is
``reduceOnly``; hedge mode names the side by ``positionIdx`` (1 long, 2 short). A
stop-loss / take-profit is a conditional order (``triggerPrice``) under ``orderLinkId``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.brokers.test_bybit_live import SECRET
from tests.brokers.test_paper_process import export, wait_decided
from tests.kit.engine_proc import Engines
from tests.kit.fake_bybit import API_KEY, API_SECRET
from tests.kit.fake_exchange import FakeProcess
from tests.kit.perp_live import (
    Venue,
    book,
    dec,
    orders_sent,
    restart,
    send,
    set_hedge_mode,
    start,
    trail,
)

BYBIT = Venue(
    "bybit",
    "bybit_linear",
    {"TVDESK_BYBIT_API_KEY": API_KEY, "TVDESK_BYBIT_API_SECRET": API_SECRET},
    "/v5/order/create",
    "qty",
    "orderLinkId",
)


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeProcess]:
    process = FakeProcess(BYBIT.fake, tmp_path / "fake-orders.jsonl")
    yield process
    process.stop()


@pytest.fixture
def engines(tmp_path: Path) -> Iterator[Engines]:
    started = Engines(tmp_path, SECRET)
    yield started
    started.cleanup()


def filled(engine, alert_id: str) -> dict:
    record = wait_decided(engine, [alert_id])[alert_id]
    assert record["outcome"] == "filled", record["reason"]
    return record


def test_a_long_goes_in_coins_after_margin_mode_and_leverage_set_once(engines, fake):
    engine = start(engines, fake, BYBIT)
    first = filled(engine, send(engine, BYBIT, "long-1", side="buy", qty="0.05"))
    filled(engine, send(engine, BYBIT, "long-2", side="buy", qty="0.02"))

    a, b = orders_sent(fake)
    assert (a["category"], a["symbol"], a["side"], a["orderType"]) == (
        "linear", "BTCUSDT", "Buy", "Market",
    )  # fmt: skip
    assert (a["qty"], b["qty"]) == ("0.05", "0.02")
    assert "reduceOnly" not in a and "positionIdx" not in a
    assert a["orderLinkId"] == f"tvd{first['alert_id']}"
    held = book(fake)
    assert [s["path"] for s in held["setups"]] == ["set-margin-mode", "set-leverage"]
    margin, leverage = held["setups"]
    assert margin["setMarginMode"] == "REGULAR_MARGIN"
    assert (leverage["buyLeverage"], leverage["sellLeverage"]) == ("3", "3")
    paths = [r["path"] for r in fake.requests()]
    assert paths.index("/v5/position/set-leverage") < paths.index(BYBIT.create)
    (position,) = held["positions"]
    assert (position["side"], position["size"], position["leverage"]) == ("Buy", "0.07", "3")
    (order,) = first["orders"]
    assert (dec(order["qty"]), dec(order["filled"])) == (dec("0.05"), dec("0.05"))
    assert "leverage 3× set on bybit BTC/USDT:USDT" in trail(first)


def test_a_sell_from_flat_opens_a_short_and_flat_closes_it_reduce_only(engines, fake):
    engine = start(engines, fake, BYBIT)
    filled(engine, send(engine, BYBIT, "short", side="sell", qty="0.05"))
    assert [(p["side"], p["size"]) for p in book(fake)["positions"]] == [("Sell", "0.05")]

    flat = filled(engine, send(engine, BYBIT, "flat", side=None, qty=None, market_position="flat"))

    opened, closed = orders_sent(fake)
    assert (opened["side"], opened["qty"]) == ("Sell", "0.05") and "reduceOnly" not in opened
    assert (closed["side"], closed["qty"], closed["reduceOnly"]) == ("Buy", "0.05", "True")
    assert book(fake)["positions"] == []
    assert "perpetual: reduce-only" in trail(flat)


def test_stop_loss_and_take_profit_rest_as_conditional_orders_found_after_a_restart_and_lifted(
    engines, fake
):
    engine = start(engines, fake, BYBIT)
    entry = filled(
        engine,
        send(
            engine, BYBIT, "guarded", side="buy", qty="0.05", stop_loss="45000", take_profit="55000"
        ),
    )
    cid = f"tvd{entry['alert_id']}"
    _, stop, take = orders_sent(fake)
    assert (stop["orderLinkId"], take["orderLinkId"]) == (f"{cid}1", f"{cid}2")
    for order, trigger, direction in ((stop, "45000", "2"), (take, "55000", "1")):
        assert (order["side"], order["qty"], order["reduceOnly"]) == ("Sell", "0.05", "True")
        assert (order["triggerPrice"], order["triggerDirection"]) == (trigger, direction)
    engine.terminate()

    restarted = restart(engines, fake, BYBIT)
    since = time.time()
    deadline = since + 30  # the order watch looks open orders up every 5 s
    while not any(r["path"] == "/v5/order/realtime" and r["at"] > since for r in fake.requests()):
        assert time.time() < deadline, restarted.stderr()
        time.sleep(0.1)
    orders = {o["client_order_id"]: o for o in export(restarted)[entry["alert_id"]]["orders"]}
    assert orders[f"{cid}1"]["status"] == orders[f"{cid}2"]["status"] == "open"
    assert len(orders_sent(fake)) == 3  # nothing placed again

    flat = filled(
        restarted, send(restarted, BYBIT, "exit", side=None, qty=None, market_position="flat")
    )

    *_, exit_ = orders_sent(fake)
    assert (exit_["side"], exit_["qty"], exit_["reduceOnly"]) == ("Sell", "0.05", "True")
    assert book(fake)["positions"] == []
    assert f"cancelled stop-loss {cid}1" in trail(flat)
    assert f"cancelled take-profit {cid}2" in trail(flat)
    orders = {o["client_order_id"]: o for o in export(restarted)[entry["alert_id"]]["orders"]}
    assert orders[f"{cid}1"]["status"] == orders[f"{cid}2"]["status"] == "canceled"


def test_hedge_mode_names_the_side_by_position_idx(engines, fake):
    set_hedge_mode(BYBIT, fake)
    engine = start(engines, fake, BYBIT, position_mode="hedge")
    filled(engine, send(engine, BYBIT, "long", side="buy", qty="0.05", stop_loss="45000"))
    filled(engine, send(engine, BYBIT, "exit-long", side=None, qty=None, market_position="flat"))
    filled(engine, send(engine, BYBIT, "short", side="sell", qty="0.03"))
    assert [(p["positionIdx"], p["size"]) for p in book(fake)["positions"]] == [(2, "0.03")]
    filled(engine, send(engine, BYBIT, "exit-short", side=None, qty=None, market_position="flat"))

    sent = [
        (o["side"], o["qty"], o.get("positionIdx"), o.get("reduceOnly")) for o in orders_sent(fake)
    ]
    assert sent == [
        ("Buy", "0.05", "1", None),  # opens the long side
        ("Sell", "0.05", "1", "True"),  # its stop-loss closes the long side
        ("Sell", "0.05", "1", "True"),  # the exit closes the long side
        ("Sell", "0.03", "2", None),  # opens the short side
        ("Buy", "0.03", "2", "True"),  # closes it
    ]
    assert book(fake)["positions"] == [] and book(fake)["hedge"] is True
