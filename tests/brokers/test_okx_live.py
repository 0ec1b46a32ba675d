"""`tvdesk --headless --mode live --exchange okx` trading on the fake OKX v5, both processes.

The same scenarios as on Bybit (``test_bybit_live``), against OKX's protocol: the base64
HMAC with the passphrase, ``clOrdId``, orders sent through ``/api/v5/trade/batch-orders``
(ccxt's default), a partial fill then cancel reported as ``canceled`` with ``accFillSz``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.brokers.test_bybit_live import (
    SECRET,
    a_503_is_retried_once_the_order_is_known_absent,
    a_held_reply_is_found_not_placed_twice,
    a_kill_9_mid_order_is_settled_after_the_restart,
    a_market_buy_fills_exactly_once,
    a_partial_fill_then_cancel_is_recorded_as_such,
    live,
)
from tests.kit.engine_proc import Engines
from tests.kit.fake_exchange import FakeProcess
from tests.kit.fake_okx import API_KEY, API_PASSWORD, API_SECRET

KEYS = {
    "TVDESK_OKX_API_KEY": API_KEY,
    "TVDESK_OKX_API_SECRET": API_SECRET,
    "TVDESK_OKX_API_PASSWORD": API_PASSWORD,
}
CREATE = "/api/v5/trade/batch-orders"


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeProcess]:
    process = FakeProcess("okx", tmp_path / "fake-orders.jsonl")
    yield process
    process.stop()


@pytest.fixture
def engines(tmp_path: Path) -> Iterator[Engines]:
    started = Engines(tmp_path, SECRET)
    yield started
    started.cleanup()


def test_a_spot_market_buy_fills_once_in_the_base_coin_under_clordid(
    engines: Engines, fake: FakeProcess
):
    engine = live(engines, fake, "okx", KEYS)
    assert "LIVE mode on okx" in engine.stderr()

    sent = a_market_buy_fills_exactly_once(engine, fake, "okx")

    assert sent["clOrdId"].startswith("tvd") and sent["clOrdId"].isalnum()
    assert (sent["tdMode"], sent["tgtCcy"], sent["sz"]) == ("cash", "base_ccy", "0.001")
    assert engine.terminate() == 0
    logged = engine.stdout() + engine.stderr()
    assert API_KEY not in logged and API_SECRET not in logged and API_PASSWORD not in logged


def test_a_reply_held_past_the_timeout_is_found_and_not_placed_twice(
    engines: Engines, fake: FakeProcess
):
    engine = live(engines, fake, "okx", KEYS)
    a_held_reply_is_found_not_placed_twice(engine, fake, "okx", CREATE)


def test_a_partial_fill_then_cancel_is_found_and_recorded_not_placed_again(
    engines: Engines, fake: FakeProcess
):
    engine = live(engines, fake, "okx", KEYS)
    a_partial_fill_then_cancel_is_recorded_as_such(engine, fake, "okx", CREATE)


def test_a_503_is_sent_again_only_after_okxs_30_s_request_lifetime(
    engines: Engines, fake: FakeProcess
):
    engine = live(engines, fake, "okx", KEYS)
    a_503_is_retried_once_the_order_is_known_absent(engine, fake, "okx", CREATE)
    (first, second) = [r for r in fake.requests() if r["path"] == CREATE]
    assert second["at"] - first["at"] >= 30  # OKX may still take a request 30 s old


def test_kill_9_mid_order_then_restart_records_it_once(engines: Engines, fake: FakeProcess):
    a_kill_9_mid_order_is_settled_after_the_restart(engines, fake, "okx", CREATE, KEYS)


def test_a_wrong_passphrase_stays_in_paper_with_okxs_words(engines: Engines, fake: FakeProcess):
    wrong = "notThePassphrase1"
    engine = live(engines, fake, "okx", {**KEYS, "TVDESK_OKX_API_PASSWORD": wrong})

    stderr = engine.stderr()
    assert "the okx balance check failed" in stderr
    assert "Invalid OK-ACCESS-PASSPHRASE" in stderr
    assert engine.get("/health")[1]["mode"] == "paper"
    assert engine.terminate() == 0
    assert wrong not in engine.stderr() + engine.stdout()
