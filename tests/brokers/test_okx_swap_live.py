"""`tvdesk --headless --mode live --exchange okx` trading the perpetual BTC-USDT-SWAP on the
fake OKX v5 (tests/kit/fake_okx_swap.py), both real processes, every request ccxt's signed one.

One contract is 0.01 BTC: an alert's 0.05 BTC goes out as ``sz`` 5. Leverage and margin mode
go in one ``set-leverage`` call before the first order on the market, never again while they
stay the same. A sell from flat opens a short; an exit is reduce-only in net mode and names
the position side (``posSide``) in long/short mode, where OKX takes no ``reduceOnly``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.brokers.test_bybit_live import SECRET
from tests.brokers.test_paper_process import export, wait_decided
from tests.kit.engine_proc import Engines
from tests.kit.fake_exchange import FakeProcess
from tests.kit.fake_okx import API_KEY, API_PASSWORD, API_SECRET
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

OKX = Venue(
    "okx",
    "okx_swap",
    {
        "TVDESK_OKX_API_KEY": API_KEY,
        "TVDESK_OKX_API_SECRET": API_SECRET,
        "TVDESK_OKX_API_PASSWORD": API_PASSWORD,
    },
    "/api/v5/trade/batch-orders",
    "sz",
    "clOrdId",
)
SET_LEVERAGE = "/api/v5/account/set-leverage"


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeProcess]:
    process = FakeProcess(OKX.fake, tmp_path / "fake-orders.jsonl")
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


def test_a_long_goes_in_contracts_after_one_leverage_call_not_repeated(engines, fake):
    engine = start(engines, fake, OKX)
    first = filled(engine, send(engine, OKX, "long-1", side="buy", qty="0.05"))
    second = filled(engine, send(engine, OKX, "long-2", side="buy", qty="0.02"))

    a, b = orders_sent(fake)
    assert (a["instId"], a["side"], a["sz"], a["tdMode"]) == ("BTC-USDT-SWAP", "buy", "5", "cross")
    assert (b["sz"], b["tdMode"]) == ("2", "cross")
    assert "reduceOnly" not in a and "posSide" not in a  # opens, net mode
    assert a["clOrdId"] == f"tvd{first['alert_id']}" and b["clOrdId"] == f"tvd{second['alert_id']}"
    held = book(fake)
    assert held["setups"] == [{"lever": 3, "mgnMode": "cross", "instId": "BTC-USDT-SWAP"}]
    paths = [r["path"] for r in fake.requests()]
    assert paths.count(SET_LEVERAGE) == 1
    assert paths.index(SET_LEVERAGE) < paths.index(OKX.create)  # before the first order
    (position,) = held["positions"]
    assert (position["posSide"], position["pos"], position["lever"]) == ("net", "7", "3")
    (order,) = first["orders"]
    assert (dec(order["qty"]), dec(order["filled"])) == (dec("0.05"), dec("0.05"))
    assert "leverage 3× set on okx BTC/USDT:USDT" in trail(first)
    assert "leverage" not in trail(second).replace("leverage 3×, cross margin", "")


def test_a_sell_from_flat_opens_a_short_and_flat_closes_it_reduce_only(engines, fake):
    engine = start(engines, fake, OKX)
    filled(engine, send(engine, OKX, "short", side="sell", qty="0.05"))
    assert [(p["posSide"], p["pos"]) for p in book(fake)["positions"]] == [("net", "-5")]

    flat = filled(engine, send(engine, OKX, "flat", side=None, qty=None, market_position="flat"))

    opened, closed = orders_sent(fake)
    assert (opened["side"], opened["sz"]) == ("sell", "5") and "reduceOnly" not in opened
    assert (closed["side"], closed["sz"], closed["reduceOnly"]) == ("buy", "5", True)
    assert book(fake)["positions"] == []
    assert "perpetual: reduce-only" in trail(flat)


def test_stop_loss_and_take_profit_rest_as_algo_orders_found_after_a_restart_and_lifted_by_the_exit(
    engines, fake
):
    engine = start(engines, fake, OKX)
    entry = filled(
        engine,
        send(
            engine, OKX, "guarded", side="buy", qty="0.05", stop_loss="45000", take_profit="55000"
        ),
    )
    cid = f"tvd{entry['alert_id']}"
    _, stop, take = orders_sent(fake)
    for algo, label, trigger in ((stop, "sl", "45000"), (take, "tp", "55000")):
        assert (algo["ordType"], algo["side"], algo["sz"], algo["tdMode"]) == (
            "conditional", "sell", "5", "cross",
        )  # fmt: skip
        assert algo[f"{label}TriggerPx"] == trigger and algo[f"{label}OrdPx"] == "-1"
        assert algo["reduceOnly"] is True
    assert (stop["algoClOrdId"], take["algoClOrdId"]) == (f"{cid}1", f"{cid}2")
    assert (
        "stop-loss sell 0.05 @ 45000 placed; take-profit sell 0.05 @ 55000 placed"
        in (entry["reason"])
    )
    engine.terminate()

    restarted = restart(engines, fake, OKX)
    since = time.time()
    deadline = since + 30  # the order watch looks open orders up every 5 s
    while not any(
        r["path"] == "/api/v5/trade/order-algo" and r["method"] == "GET" and r["at"] > since
        for r in fake.requests()
    ):
        assert time.time() < deadline, restarted.stderr()
        time.sleep(0.1)
    orders = {o["client_order_id"]: o for o in export(restarted)[entry["alert_id"]]["orders"]}
    assert orders[f"{cid}1"]["status"] == orders[f"{cid}2"]["status"] == "open"
    assert len(orders_sent(fake)) == 3  # nothing placed again

    flat = filled(
        restarted, send(restarted, OKX, "exit", side=None, qty=None, market_position="flat")
    )

    *_, exit_ = orders_sent(fake)
    assert (exit_["side"], exit_["sz"], exit_["reduceOnly"]) == ("sell", "5", True)
    assert book(fake)["positions"] == []
    assert f"cancelled stop-loss {cid}1" in trail(flat)
    assert f"cancelled take-profit {cid}2" in trail(flat)
    orders = {o["client_order_id"]: o for o in export(restarted)[entry["alert_id"]]["orders"]}
    assert orders[f"{cid}1"]["status"] == orders[f"{cid}2"]["status"] == "canceled"


def test_isolated_margin_is_set_with_the_leverage_and_every_order_trades_isolated(engines, fake):
    engine = start(
        engines, fake, OKX, leverage="5", margin_mode="isolated", extra="max_leverage = 5"
    )
    filled(engine, send(engine, OKX, "iso", side="buy", qty="0.05", stop_loss="45000"))

    assert book(fake)["setups"] == [
        {"lever": 5, "mgnMode": "isolated", "instId": "BTC-USDT-SWAP", "posSide": "net"}
    ]
    entry, stop = orders_sent(fake)
    # Cross is ccxt's default: an order without the margin mode would open a cross position
    # at the account's cross leverage beside the isolated one the trader chose.
    assert entry["tdMode"] == stop["tdMode"] == "isolated"
    ((position),) = book(fake)["positions"]
    assert (position["mgnMode"], position["lever"], position["pos"]) == ("isolated", "5", "5")


def test_hedge_mode_names_the_position_side_and_sends_no_reduce_only(engines, fake):
    set_hedge_mode(OKX, fake)
    engine = start(engines, fake, OKX, position_mode="hedge")
    filled(engine, send(engine, OKX, "long", side="buy", qty="0.05", stop_loss="45000"))
    filled(engine, send(engine, OKX, "exit-long", side=None, qty=None, market_position="flat"))
    filled(engine, send(engine, OKX, "short", side="sell", qty="0.03"))
    assert [(p["posSide"], p["pos"]) for p in book(fake)["positions"]] == [("short", "3")]
    filled(engine, send(engine, OKX, "exit-short", side=None, qty=None, market_position="flat"))

    sent = [(o["side"], o["sz"], o.get("posSide"), o.get("reduceOnly")) for o in orders_sent(fake)]
    assert sent == [
        ("buy", "5", "long", None),  # opens the long
        ("sell", "5", "long", None),  # its stop-loss closes the long
        ("sell", "5", "long", None),  # the exit closes the long
        ("sell", "3", "short", None),  # opens the short
        ("buy", "3", "short", None),  # closes it
    ]
    assert book(fake)["positions"] == [] and book(fake)["posMode"] == "long_short_mode"


def test_isolated_in_long_short_mode_sets_the_leverage_of_each_side(engines, fake):
    set_hedge_mode(OKX, fake)
    engine = start(
        engines,
        fake,
        OKX,
        leverage="5",
        margin_mode="isolated",
        position_mode="hedge",
        extra="max_leverage = 5",
    )
    filled(engine, send(engine, OKX, "iso-long", side="buy", qty="0.05"))

    # OKX asks isolated leverage per side in long/short mode (posSide "net" is refused there).
    assert book(fake)["setups"] == [
        {"lever": 5, "mgnMode": "isolated", "instId": "BTC-USDT-SWAP", "posSide": side}
        for side in ("long", "short")
    ]
    (entry,) = orders_sent(fake)
    assert (entry["tdMode"], entry["posSide"], entry["sz"]) == ("isolated", "long", "5")
    ((position),) = book(fake)["positions"]
    assert (position["mgnMode"], position["posSide"], position["lever"]) == (
        "isolated",
        "long",
        "5",
    )
