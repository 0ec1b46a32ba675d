"""Live perpetual positions carry the exchange's own figures, read by ccxt's real signed
``fetch_positions`` from the loopback OKX (BTC-USDT-SWAP, 1 contract = 0.01 BTC).

tvdesk's fills define its position; the exchange's mark, unrealised P&L, liquidation price
and leverage are shown beside it, and a size the exchange holds that tvdesk's fills do not
explain is said beside the position and warned about once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.kit.fake_okx import API_KEY, API_PASSWORD, API_SECRET
from tests.kit.fake_okx_positions import FakeOkxPositions
from tests.kit.live import FAST, until
from tests.kit.paper import PaperDesk, paper_settings
from tvdesk.brokers import ledger
from tvdesk.brokers.exchange import OrderState
from tvdesk.config.paths import resolve_paths
from tvdesk.config.schema import Settings, SymbolRule
from tvdesk.core.events import ExchangeWarning
from tvdesk.store.journal import Journal

PERP = "BTC/USDT:USDT"
POSITIONS = "/api/v5/account/positions"


def okx_swap_settings(url: str) -> Settings:
    s = paper_settings(max_orders_per_minute=0, max_notional=0)
    exchange = replace(s.exchange, default="okx", url=url, market_type="swap")
    return replace(
        s, mode="live", exchange=exchange, symbols=[SymbolRule("BTCUSDT.P", "okx", PERP)]
    )


def tvdesk_bought(data_dir: Path, qty: str, price: str, symbol: str = PERP) -> None:
    """tvdesk's own fill, written by the live ledger exactly as when the exchange reports it."""
    paths = resolve_paths(data_dir)
    paths.ensure()
    journal = Journal(paths.journal_file)
    journal.open()
    order = ledger.LiveOrder(
        "TVD1SEED", "01SEEDALERT", "okx", symbol, "buy", "market", Decimal(qty), Decimal(price)
    )
    state = OrderState("42", "filled", Decimal(qty), Decimal(price), Decimal(0), "USDT", True)

    def write(conn: Any) -> None:
        ledger.insert_submitting(conn, order, 1.0)
        ledger.record(conn, order.client_order_id, state, 1.0)

    try:
        journal.run_sync(write)
    finally:
        journal.close()


class OkxDesk(PaperDesk):
    """A running engine in live mode on the loopback OKX's perpetual."""

    def __init__(self, data_dir: Path, fake: FakeOkxPositions) -> None:
        super().__init__(data_dir, okx_swap_settings(fake.url))
        self.keystore.set("okx_api_key", API_KEY)
        self.keystore.set("okx_api_secret", API_SECRET)
        self.keystore.set("okx_api_password", API_PASSWORD)
        self.engine.live_tuning = FAST

    async def perp(self) -> dict[str, Any]:
        (row,) = [p for p in await self.engine.positions("live") if p["symbol"] == PERP]
        return row


@pytest.fixture
async def fake() -> AsyncIterator[FakeOkxPositions]:
    prices = {"BTC-USDT": "50000", "BTC-USDT-SWAP": "50000"}
    async with FakeOkxPositions(prices=prices) as exchange:
        yield exchange


async def read_once_more(desk: OkxDesk, fake: FakeOkxPositions) -> None:
    """Wait for the background reader's next look at the exchange's positions."""
    seen = len(fake.position_requests)
    await until(desk, lambda: len(fake.position_requests) > seen)
    await until(desk, lambda: len(fake.position_requests) > seen + 1)  # that one's reply used


async def test_a_live_perpetual_shows_the_exchange_mark_pnl_liquidation_and_contracts(
    tmp_path, fake
):
    tvdesk_bought(tmp_path, "0.01", "50000")
    fake.hold("1", entry="50000", mark="51000", leverage="3", liquidation="33612.5")
    async with OkxDesk(tmp_path, fake) as desk:
        await until(desk, lambda: fake.position_requests)
        await read_once_more(desk, fake)
        row = await desk.perp()

    # Asked only for the market tvdesk holds, as a perpetual.
    assert fake.position_requests[0]["instId"] == "BTC-USDT-SWAP"
    assert (row["side"], row["qty"], row["avg_price"]) == ("long", Decimal("0.01"), 50000)
    assert row["contracts"] == 1  # 0.01 BTC at 0.01 BTC a contract
    assert row["mark"] == Decimal("51000")
    assert row["unrealized_pnl"] == Decimal("10")  # OKX's upl: (51,000 − 50,000) × 0.01
    assert row["liquidation"] == Decimal("33612.5")  # the exchange's, not tvdesk's estimate
    assert row["leverage"] == Decimal("3")
    held = row["on_exchange"]
    assert (held.side, held.qty, held.contracts) == ("long", Decimal("0.01"), 1)
    assert row["exchange_note"] is None
    assert not [e for e in desk.events if isinstance(e, ExchangeWarning)]


async def test_a_size_tvdesk_did_not_trade_is_said_beside_the_position_and_warned_once(
    tmp_path, fake
):
    tvdesk_bought(tmp_path, "0.01", "50000")
    # The trader bought one more contract by hand: the exchange holds 0.02 BTC.
    fake.hold("2", entry="50500", mark="51000", liquidation="26000")
    async with OkxDesk(tmp_path, fake) as desk:

        def warnings() -> list[ExchangeWarning]:
            return [e for e in desk.events if isinstance(e, ExchangeWarning)]

        await until(desk, warnings)
        for _ in range(3):  # more reads of the same difference warn no more
            await read_once_more(desk, fake)
        row = await desk.perp()

    (warning,) = warnings()
    assert warning.exchange == "okx"
    assert "tvdesk's fills hold long 0.01 BTC, okx holds long 0.02 BTC (2 ct)" in warning.message
    assert row["exchange_note"] == warning.message
    assert row["qty"] == Decimal("0.01")  # tvdesk's position is still what its fills built
    assert row["contracts"] == 1
    # tvdesk's 0.01 at the exchange's mark, not the exchange's P&L on 0.02 at its own entry.
    assert row["unrealized_pnl"] == Decimal("10")
    assert row["on_exchange"].unrealized_pnl == Decimal("10")  # (51,000 − 50,500) × 0.02
    assert row["liquidation"] == Decimal("26000")


async def test_a_position_the_exchange_no_longer_holds_is_said(tmp_path, fake):
    tvdesk_bought(tmp_path, "0.01", "50000")
    async with OkxDesk(tmp_path, fake) as desk:  # liquidated, or closed by hand
        await until(desk, lambda: fake.position_requests)
        await read_once_more(desk, fake)
        row = await desk.perp()
    assert row["exchange_note"].startswith(
        "BTC/USDT:USDT: tvdesk's fills hold long 0.01 BTC, okx holds nothing"
    )
    assert row["on_exchange"].side == "flat"
    assert row["mark"] is None  # no mark without a position: nothing is made up


async def test_a_failed_read_is_said_instead_of_old_figures(tmp_path, fake):
    tvdesk_bought(tmp_path, "0.01", "50000")
    fake.fault("GET", POSITIONS, "error", code="50001", msg="Service temporarily unavailable")
    fake.faults[-1].times = 10_000
    async with OkxDesk(tmp_path, fake) as desk:
        await until(desk, lambda: len([r for r in fake.requests if r["path"] == POSITIONS]) > 1)
        row = await desk.perp()
    assert row["on_exchange"] is None
    assert row["exchange_note"].startswith("okx positions not read: ")
    assert "Service temporarily unavailable" in row["exchange_note"]
    assert row["mark"] is None
