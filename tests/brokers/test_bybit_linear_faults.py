"""Exactly once on Bybit's linear perpetual (BTCUSDT, qty in BTC) with the exchange
misbehaving: a reply held past tvdesk's timeout, a 503, a partial fill then cancel (Bybit:
``Cancelled`` with ``cumExecQty``, found in the order history), kill -9 mid-order then a
restart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.brokers.test_bybit_linear_live import BYBIT
from tests.brokers.test_bybit_live import SECRET
from tests.kit import perp_faults
from tests.kit.engine_proc import Engines
from tests.kit.fake_exchange import FakeProcess


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


def contracts(held: dict) -> list[tuple[str, str]]:
    return [(p["side"], p["size"]) for p in held["positions"]]


def test_a_reply_held_past_the_timeout_is_found_and_not_placed_twice(engines, fake):
    held = perp_faults.held_reply_is_found_not_placed_twice(engines, fake, BYBIT, "0.05")
    assert contracts(held) == [("Buy", "0.05")]


def test_a_503_is_looked_up_then_sent_again_once(engines, fake):
    held = perp_faults.a_503_is_sent_again_once_known_absent(engines, fake, BYBIT, "0.05")
    assert contracts(held) == [("Buy", "0.05")]


def test_a_partial_fill_then_cancel_is_found_and_not_placed_again(engines, fake):
    held = perp_faults.partial_fill_then_cancel_is_found_not_placed_again(
        engines, fake, BYBIT, "0.05", part="0.02"
    )
    assert contracts(held) == [("Buy", "0.02")]


def test_kill_9_mid_order_then_restart_records_it_once(engines, fake):
    held = perp_faults.kill_9_mid_order_is_settled_after_the_restart(engines, fake, BYBIT, "0.05")
    assert contracts(held) == [("Buy", "0.05")]
