"""A live reversal on OKX's perpetual (tvdesk/brokers/reversal.py's contract, through a real
engine and the fake OKX v5): a 0.05 BTC long (5 contracts) turned into a 0.03 BTC short by a
0.08 BTC sell goes as a reduce-only sell of 5 contracts, then a sell of 3 that opens the
short; in long/short mode the first names ``posSide`` long, the second short.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.brokers.test_bybit_live import SECRET
from tests.brokers.test_okx_swap_live import OKX
from tests.kit import perp_reversals
from tests.kit.engine_proc import Engines
from tests.kit.fake_exchange import FakeProcess
from tests.kit.perp_live import book, set_hedge_mode


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


def sent(legs: list[dict]) -> list[tuple]:
    return [(o["side"], o["sz"], o.get("reduceOnly"), o.get("posSide")) for o in legs]


def held(fake: FakeProcess) -> list[tuple[str, str]]:
    return [(p["posSide"], p["pos"]) for p in book(fake)["positions"]]


def test_a_sell_bigger_than_the_long_closes_reduce_only_then_opens_the_short(engines, fake):
    legs = perp_reversals.a_long_reversed_by_a_bigger_sell(engines, fake, OKX)
    assert sent(legs) == [("sell", "5", True, None), ("sell", "3", None, None)]
    assert held(fake) == [("net", "-3")]


def test_a_sync_to_a_short_target_reverses_in_two_orders(engines, fake):
    legs = perp_reversals.a_long_synced_to_a_short(engines, fake, OKX)
    assert sent(legs) == [("sell", "5", True, None), ("sell", "3", None, None)]
    assert held(fake) == [("net", "-3")]


def test_in_long_short_mode_the_legs_close_the_long_and_open_the_short(engines, fake):
    set_hedge_mode(OKX, fake)
    legs = perp_reversals.a_long_reversed_by_a_bigger_sell(
        engines, fake, OKX, position_mode="hedge"
    )
    assert sent(legs) == [("sell", "5", None, "long"), ("sell", "3", None, "short")]
    assert held(fake) == [("short", "3")]


def test_a_kill_9_between_the_legs_then_restart_sends_each_once(engines, fake):
    legs = perp_reversals.a_kill_9_between_the_legs_sends_each_once(engines, fake, OKX)
    assert sent(legs) == [("sell", "5", True, None), ("sell", "3", None, None)]
    assert held(fake) == [("net", "-3")]
