"""`tvdesk --headless --mode live --exchange binanceusdm` trading BTCUSDT.P on the fake
Binance USDⓈ-M (``tests/kit/fake_binance_futures.py``), both real processes.

Every request is ccxt's real signed one; the fake checks Binance's HMAC, keeps positions as
Binance does (one-way or hedge) and refuses what Binance refuses (a reduce-only order that
would open, a position side that does not match the account's mode, a stop type on the
order endpoint). Each test checks what reached the exchange and what the trader sees.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.brokers.test_paper_process import export, paper_alert, wait_decided, write_settings
from tests.kit.engine_proc import EngineProcess, Engines
from tests.kit.fake_binance_futures import API_KEY, API_SECRET, FuturesProcess

SECRET = secrets.token_urlsafe(32)
KEYS = {"TVDESK_BINANCEUSDM_API_KEY": API_KEY, "TVDESK_BINANCEUSDM_API_SECRET": API_SECRET}
ORDER, ALGO = "/fapi/v1/order", "/fapi/v1/algoOrder"
LEVERAGE, MARGIN = "/fapi/v1/leverage", "/fapi/v1/marginType"


def settings(**exchange: str) -> str:
    exchange = {"market_type": '"swap"', **exchange}
    extra = "\n".join(f"{key} = {value}" for key, value in exchange.items() if value)
    return f"""
[exchange]
{extra}

[risk]
max_orders_per_minute = 0
max_notional = 0
max_leverage = 10

[[symbols]]
tv = "BTCUSDT.P"
exchange = "binanceusdm"
symbol = "BTC/USDT:USDT"
"""


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


def live(engines: Engines, fake: FuturesProcess, **exchange: str) -> EngineProcess:
    write_settings(engines.root / "data", settings(**exchange))
    args = ("--mode", "live", "--exchange", "binanceusdm", "--exchange-url", fake.url)
    return engines.start("data", *args, env=KEYS)


def send(engine: EngineProcess, ref: str, side: str, qty: str = "0.01", **fields: Any) -> str:
    alert = paper_alert(ref, symbol="BINANCE:BTCUSDT.P", side=side, qty=qty, **fields)
    code, reply = engine.post_signed(alert)
    assert code == 200, reply
    return reply["alert_id"]


def trade(engine: EngineProcess, ref: str, side: str, qty: str = "0.01", **fields: Any) -> dict:
    """Send one alert and wait until it is decided; its export record."""
    alert_id = send(engine, ref, side, qty, **fields)
    return wait_decided(engine, [alert_id])[alert_id]


def sent(fake: FuturesProcess, path: str = ORDER) -> list[dict[str, str]]:
    """The params of every POST to ``path`` that passed Binance's signature check."""
    return [c["params"] for c in fake.calls(path) if c["method"] == "POST"]


def position(fake: FuturesProcess, side: str = "BOTH") -> Decimal:
    held = fake.state()["positions"].get(f"BTCUSDT:{side}")
    return Decimal(held[0]) if held else Decimal(0)


def until(check: Any, engine: EngineProcess, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, engine.stderr()[-3000:]
        time.sleep(0.05)


def test_a_long_goes_in_contracts_with_leverage_and_margin_mode_set_once_before_it(
    engines: Engines, fake: FuturesProcess
):
    engine = live(engines, fake, leverage="5", margin_mode='"isolated"')
    assert "LIVE mode on binanceusdm" in engine.stderr()

    first = trade(engine, "long-1", "buy", "0.01")
    second = trade(engine, "long-2", "buy", "0.005")

    assert first["outcome"] == "filled", first["reason"]
    assert "filled @ 50000, fee 0.25 USDT" in first["reason"]  # 0.05 % of 500 USDT
    assert second["outcome"] == "filled", second["reason"]
    (opened, added) = sent(fake)
    assert (opened["side"], opened["type"], opened["quantity"]) == ("BUY", "MARKET", "0.01")
    assert opened["newClientOrderId"] == f"tvd{first['alert_id']}"
    assert "reduceOnly" not in opened and "positionSide" not in opened
    assert added["quantity"] == "0.005"
    # Set once, before the first order on the market, and not with every order.
    paths = [c["path"] for c in fake.calls() if c["method"] == "POST"]
    assert paths == [MARGIN, LEVERAGE, ORDER, ORDER]
    assert [c["marginType"] for c in sent(fake, MARGIN)] == ["ISOLATED"]
    assert [c["leverage"] for c in sent(fake, LEVERAGE)] == ["5"]
    state = fake.state()
    assert (state["leverage"]["BTCUSDT"], state["marginType"]["BTCUSDT"]) == (5, "ISOLATED")
    assert position(fake) == Decimal("0.015")
    assert engine.terminate() == 0
    shown = engine.stdout() + engine.stderr()
    assert API_KEY not in shown and API_SECRET not in shown


def test_an_alerts_own_leverage_is_set_before_its_order_and_only_when_it_changes(
    engines: Engines, fake: FuturesProcess
):
    engine = live(engines, fake, leverage="5")

    trade(engine, "at-5", "buy", "0.01")
    raised = trade(engine, "at-8", "buy", "0.01", leverage="8")
    trade(engine, "still-8", "buy", "0.01", leverage="8")
    refused = trade(engine, "at-20", "buy", "0.01", leverage="20")

    assert raised["outcome"] == "filled", raised["reason"]
    assert [c["leverage"] for c in sent(fake, LEVERAGE)] == ["5", "8"]
    assert sent(fake, MARGIN) == []  # margin_mode unset: the account's own is left alone
    assert refused["outcome"] == "rejected"
    assert "leverage 20 in the alert is above risk.max_leverage 10" in refused["reason"]
    assert len(sent(fake)) == 3 and fake.state()["leverage"]["BTCUSDT"] == 8


def test_a_sell_from_flat_opens_a_short_and_flat_closes_it_reduce_only(
    engines: Engines, fake: FuturesProcess
):
    engine = live(engines, fake)

    short = trade(engine, "short", "sell", "0.01")
    assert short["outcome"] == "filled", short["reason"]
    assert position(fake) == Decimal("-0.01")
    fake.set_price("49000")
    flat = trade(engine, "flat", "buy", "0.01", market_position="flat")

    assert flat["outcome"] == "filled", flat["reason"]
    (opened, closed) = sent(fake)
    assert (opened["side"], opened["quantity"], "reduceOnly" in opened) == ("SELL", "0.01", False)
    assert (closed["side"], closed["quantity"], closed["reduceOnly"]) == ("BUY", "0.01", "true")
    assert closed["newClientOrderId"] == f"tvd{flat['alert_id']}"
    assert position(fake) == Decimal(0)
    # 10 USDT earned on the short, less 0.25 + 0.245 USDT of fees, is the wallet's.
    assert Decimal(fake.state()["wallet"]) == Decimal("100009.505")


def test_hedge_mode_names_the_position_side_and_never_sends_reduce_only(
    engines: Engines, fake: FuturesProcess
):
    fake.hedge_mode()
    engine = live(engines, fake, position_mode='"hedge"')

    long = trade(engine, "long", "buy", "0.01")
    exit_ = trade(engine, "exit", "sell", "0.01", market_position="flat")
    short = trade(engine, "short", "sell", "0.02")

    for record in (long, exit_, short):
        assert record["outcome"] == "filled", record["reason"]
    sides = [(p["side"], p["positionSide"], p["quantity"], "reduceOnly" in p) for p in sent(fake)]
    assert sides == [
        ("BUY", "LONG", "0.01", False),
        ("SELL", "LONG", "0.01", False),  # closes the long: the side says so
        ("SELL", "SHORT", "0.02", False),
    ]
    assert (position(fake, "LONG"), position(fake, "SHORT")) == (0, Decimal("-0.02"))


def test_one_way_settings_on_a_hedge_mode_account_are_refused_with_binances_words(
    engines: Engines, fake: FuturesProcess
):
    fake.hedge_mode()
    engine = live(engines, fake)

    record = trade(engine, "mismatch", "buy", "0.01")

    assert record["outcome"] == "failed", record["reason"]  # refused at the exchange
    assert "Order's position side does not match user's setting" in record["reason"]
    assert position(fake, "LONG") == 0 and fake.orders() == []


def test_stop_loss_and_take_profit_rest_reduce_only_and_an_exit_lifts_them_first(
    engines: Engines, fake: FuturesProcess
):
    engine = live(engines, fake)

    entry = trade(engine, "protected", "buy", "0.01", stop_loss="45000", take_profit="60000")
    assert entry["outcome"] == "filled", entry["reason"]
    assert (
        "stop-loss sell 0.01 @ 45000 placed; take-profit sell 0.01 @ 60000 placed"
        in (entry["reason"])
    )
    stop, target = sent(fake, ALGO)
    cid = f"tvd{entry['alert_id']}"
    assert (stop["type"], stop["side"], stop["quantity"]) == ("STOP_MARKET", "SELL", "0.01")
    assert (stop["triggerPrice"], stop["reduceOnly"], stop["clientAlgoId"]) == (
        "45000",
        "true",
        f"{cid}1",
    )
    assert (target["type"], target["triggerPrice"], target["reduceOnly"]) == (
        "TAKE_PROFIT_MARKET",
        "60000",
        "true",
    )
    assert target["clientAlgoId"] == f"{cid}2"

    exit_ = trade(engine, "exit", "sell", "0.01", market_position="flat")

    assert exit_["outcome"] == "filled", exit_["reason"]
    assert [a["algoStatus"] for a in fake.state()["algos"]] == ["CANCELED", "CANCELED"]
    assert sent(fake)[-1]["reduceOnly"] == "true" and position(fake) == 0
    statuses = {
        o["client_order_id"]: o["status"] for o in export(engine)[entry["alert_id"]]["orders"]
    }
    assert statuses == {cid: "filled", f"{cid}1": "canceled", f"{cid}2": "canceled"}


def test_binanceusdm_trades_the_perpetual_without_market_type_set(
    engines: Engines, fake: FuturesProcess
):
    engine = live(engines, fake, market_type="")  # as a trader who only said --exchange

    record = trade(engine, "plain", "buy", "0.01")

    assert "LIVE mode on binanceusdm" in engine.stderr()
    assert record["outcome"] == "filled", record["reason"]
    assert position(fake) == Decimal("0.01")
