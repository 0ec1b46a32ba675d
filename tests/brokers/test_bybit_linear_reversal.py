"""A live reversal on Bybit's linear perpetual (tvdesk/brokers/reversal.py's contract, through
a real engine and the fake Bybit v5): a 0.05 BTC long turned into a 0.03 BTC short by a
0.08 BTC sell goes as a reduce-only Sell of 0.05, then a Sell of 0.03 that opens the short;
in hedge mode the first names ``positionIdx`` 1 (the long), the second 2 (the short).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.brokers.test_bybit_linear_live import BYBIT
from tests.brokers.test_bybit_live import SECRET
from tests.kit import perp_reversals
from tests.kit.engine_proc import Engines
from tests.kit.fake_exchange import FakeProcess
from tests.kit.perp_live import book, set_hedge_mode


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


def sent(legs: list[dict]) -> list[tuple]:
    return [(o["side"], o["qty"], o.get("reduceOnly"), o.get("positionIdx")) for o in legs]


def held(fake: FakeProcess) -> list[tuple[str, str]]:
    return [(p["side"], p["size"]) for p in book(fake)["positions"]]


def test_a_sell_bigger_than_the_long_closes_reduce_only_then_opens_the_short(engines, fake):
    legs = perp_reversals.a_long_reversed_by_a_bigger_sell(engines, fake, BYBIT)
    assert sent(legs) == [("Sell", "0.05", "True", None), ("Sell", "0.03", None, None)]
    assert held(fake) == [("Sell", "0.03")]


def test_a_sync_to_a_short_target_reverses_in_two_orders(engines, fake):
    legs = perp_reversals.a_long_synced_to_a_short(engines, fake, BYBIT)
    assert sent(legs) == [("Sell", "0.05", "True", None), ("Sell", "0.03", None, None)]
    assert held(fake) == [("Sell", "0.03")]


def test_in_hedge_mode_the_legs_close_the_long_side_and_open_the_short_side(engines, fake):
    set_hedge_mode(BYBIT, fake)
    legs = perp_reversals.a_long_reversed_by_a_bigger_sell(
        engines, fake, BYBIT, position_mode="hedge"
    )
    assert sent(legs) == [("Sell", "0.05", "True", "1"), ("Sell", "0.03", None, "2")]
    assert held(fake) == [("Sell", "0.03")]


def test_a_kill_9_between_the_legs_then_restart_sends_each_once(engines, fake):
    legs = perp_reversals.a_kill_9_between_the_legs_sends_each_once(engines, fake, BYBIT)
    assert sent(legs) == [("Sell", "0.05", "True", None), ("Sell", "0.03", None, None)]
    assert held(fake) == [("Sell", "0.03")]
