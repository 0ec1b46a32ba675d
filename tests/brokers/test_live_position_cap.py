"""Live, an exit, a position sync and flatten act on tvdesk's own position capped by what the
exchange actually holds: never more (a position the trader half-closed by hand is not
"closed" into a short), and the trader is told, in the log and the window.

A running engine on the loopback OKX's perpetual (tests/kit/fake_okx_reversals.py), whose
positions ccxt's signed ``fetch_positions`` reads in the background.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from tests.brokers.test_live_positions import OkxDesk, read_once_more, tvdesk_bought
from tests.kit.fake_okx_reversals import FakeOkxReversals
from tvdesk.core.events import ExchangeWarning

CAPPED = (
    "BTC/USDT:USDT: tvdesk's fills hold long 0.02 BTC, okx holds long 0.01 BTC (1 ct): "
    "exits, position sync and flatten act on 0.01 BTC"
)


@pytest.fixture
async def fake() -> AsyncIterator[FakeOkxReversals]:
    async with FakeOkxReversals() as exchange:
        yield exchange


async def test_an_exit_sells_only_what_the_exchange_still_holds_and_says_so(
    tmp_path: Path, fake: FakeOkxReversals, caplog: pytest.LogCaptureFixture
):
    tvdesk_bought(tmp_path, "0.02", "50000")
    fake.hold("1", entry="50000", mark="50000")  # half of it was closed by hand
    caplog.set_level(logging.WARNING)
    async with OkxDesk(tmp_path, fake) as desk:
        await read_once_more(desk, fake)
        decided = await desk.trade(symbol="BTCUSDT.P", side="sell", market_position="flat")
        warnings = [e.message for e in desk.events if isinstance(e, ExchangeWarning)]

    assert decided.outcome == "filled", decided.reason
    (sent,) = fake.swap_orders()
    # 1 contract, reduce-only: not the 2 tvdesk's fills hold, which would open a short.
    assert (sent["side"], sent["sz"], str(sent["reduceOnly"]).lower()) == ("sell", "1", "true")
    assert fake.net() == 0
    assert any(w.startswith(CAPPED) for w in warnings)
    assert any(r.getMessage().startswith(CAPPED) for r in caplog.records)


async def test_flatten_closes_only_what_the_exchange_holds(tmp_path: Path, fake: FakeOkxReversals):
    tvdesk_bought(tmp_path, "0.02", "50000")
    fake.hold("1", entry="50000", mark="50000")
    async with OkxDesk(tmp_path, fake) as desk:
        await read_once_more(desk, fake)
        (alert_id,) = await desk.engine.flatten()
        decided = await desk.outcome(alert_id)

    assert decided.outcome == "filled", decided.reason
    (sent,) = fake.swap_orders()
    assert (sent["side"], sent["sz"]) == ("sell", "1")
    assert fake.net() == 0


async def test_a_copy_read_before_tvdesks_last_fill_caps_nothing(
    tmp_path: Path, fake: FakeOkxReversals
):
    tvdesk_bought(tmp_path, "0.01", "50000")
    fake.hold("1", entry="50000", mark="50000")
    async with OkxDesk(tmp_path, fake) as desk:
        await read_once_more(desk, fake)  # the copy: 1 contract
        bought = await desk.trade(symbol="BTCUSDT.P", side="buy", qty="0.01", price="50000")
        assert bought.outcome == "filled", bought.reason
        # At once: the copy may still say 1 contract, read before this fill.
        decided = await desk.trade(symbol="BTCUSDT.P", side="sell", market_position="flat")
        position = await desk.perp()

    assert decided.outcome == "filled", decided.reason
    assert [(o["side"], o["sz"]) for o in fake.swap_orders()] == [("buy", "1"), ("sell", "2")]
    assert position["qty"] == Decimal(0)
