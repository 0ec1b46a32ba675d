"""Exactly once on OKX's perpetual (BTC-USDT-SWAP, sz in contracts of 0.01 BTC) with the
exchange misbehaving: a reply held past tvdesk's timeout, a 503, a partial fill then cancel
(OKX: ``canceled`` with ``accFillSz``), kill -9 mid-order then a restart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.brokers.test_bybit_live import SECRET
from tests.brokers.test_okx_swap_live import OKX
from tests.kit import perp_faults
from tests.kit.engine_proc import Engines
from tests.kit.fake_exchange import FakeProcess


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


def contracts(held: dict) -> list[tuple[str, str]]:
    return [(p["posSide"], p["pos"]) for p in held["positions"]]


def test_a_reply_held_past_the_timeout_is_found_and_not_placed_twice(engines, fake):
    held = perp_faults.held_reply_is_found_not_placed_twice(engines, fake, OKX, "5")
    assert contracts(held) == [("net", "5")]


def test_a_503_is_sent_again_only_once_okx_can_no_longer_take_the_first(engines, fake):
    held = perp_faults.a_503_is_sent_again_once_known_absent(engines, fake, OKX, "5")
    assert contracts(held) == [("net", "5")]
    first, second = [r for r in fake.requests() if r["path"] == OKX.create]
    assert second["at"] - first["at"] >= 30  # OKX may still take a request 30 s old


def test_a_partial_fill_then_cancel_is_found_and_not_placed_again(engines, fake):
    held = perp_faults.partial_fill_then_cancel_is_found_not_placed_again(
        engines, fake, OKX, "5", part="2"
    )
    assert contracts(held) == [("net", "2")]  # 2 contracts: the 0.02 BTC that filled


def test_kill_9_mid_order_then_restart_records_it_once(engines, fake):
    held = perp_faults.kill_9_mid_order_is_settled_after_the_restart(engines, fake, OKX, "5")
    assert contracts(held) == [("net", "5")]
