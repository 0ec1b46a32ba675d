"""Closing an isolated OKX perpetual after a restart: the kill switch's flatten and an exit.

On OKX every order names its margin mode (``tdMode``) and ccxt sends cross unless told; a
reduce-only cross order finds no cross position to reduce beside the isolated one and OKX
refuses it. A restarted engine has set nothing on the market yet, so a close must name the
configured margin mode without setting leverage first (changing it with a position open is
what exchanges refuse), both real processes, every request ccxt's signed one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.brokers.test_bybit_live import SECRET
from tests.brokers.test_okx_swap_live import OKX, SET_LEVERAGE, filled
from tests.kit.engine_proc import EngineProcess, Engines, run_cli
from tests.kit.fake_exchange import FakeProcess
from tests.kit.perp_live import book, orders_sent, restart, send, start, trail

ISOLATED = {"leverage": "5", "margin_mode": "isolated", "extra": "max_leverage = 5"}
OPENED = [{"lever": 5, "mgnMode": "isolated", "instId": "BTC-USDT-SWAP", "posSide": "net"}]


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


def control(engine: EngineProcess, *args: str) -> dict[str, Any]:
    """``tvdesk kill --flatten`` and friends, as the trader types them."""
    result = run_cli(
        *args, "--json", "--data-dir", str(engine.data_dir), env={"TVDESK_WEBHOOK_SECRET": SECRET}
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def an_isolated_long_then_a_restart(engines: Engines, fake: FakeProcess) -> EngineProcess:
    engine = start(engines, fake, OKX, **ISOLATED)
    filled(engine, send(engine, OKX, "iso-long", side="buy", qty="0.05"))
    ((position),) = book(fake)["positions"]
    assert (position["mgnMode"], position["pos"]) == ("isolated", "5")
    assert book(fake)["setups"] == OPENED
    engine.terminate()
    return restart(engines, fake, OKX)


def leverage_calls(fake: FakeProcess) -> int:
    return [r["path"] for r in fake.requests()].count(SET_LEVERAGE)


def test_the_kill_switch_flatten_after_a_restart_closes_the_isolated_long(engines, fake):
    restarted = an_isolated_long_then_a_restart(engines, fake)

    answer = control(restarted, "kill", "--flatten")
    assert answer["kill_switch"] is True
    (flatten_id,) = answer["flatten_alerts"]
    record = filled(restarted, flatten_id)

    _, close = orders_sent(fake)
    assert (close["side"], close["sz"], close["tdMode"], close["reduceOnly"]) == (
        "sell",
        "5",
        "isolated",
        True,
    )
    assert book(fake)["positions"] == []  # flat: nothing left open at OKX
    assert book(fake)["setups"] == OPENED and leverage_calls(fake) == 1  # none for the close
    assert "perpetual: reduce-only, isolated margin" in trail(record)
    assert "set on okx" not in trail(record)


def test_an_exit_after_a_restart_trades_isolated_and_sets_no_leverage(engines, fake):
    restarted = an_isolated_long_then_a_restart(engines, fake)

    record = filled(
        restarted, send(restarted, OKX, "exit", side=None, qty=None, market_position="flat")
    )

    _, close = orders_sent(fake)
    assert (close["side"], close["sz"], close["tdMode"], close["reduceOnly"]) == (
        "sell",
        "5",
        "isolated",
        True,
    )
    assert book(fake)["positions"] == []
    assert book(fake)["setups"] == OPENED and leverage_calls(fake) == 1
    assert "set on okx" not in trail(record)
