"""Paper perpetuals sized in contracts (``qty_unit: contracts``): contracts × the market's
contract size, offline for the sizes tvdesk knows (OKX BTC-USDT-SWAP: 0.01 BTC), from the
exchange's public markets with ``[paper] price_source = "market"``, and refused with the
fix for a size it does not know. The position is shown in coins and contracts, with its
mark, unrealised P&L at the mark, fees, leverage and the liquidation estimate."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from tests.kit.fake_okx_reversals import FakeOkxReversals
from tests.kit.paper import PaperDesk, paper_settings
from tvdesk.config.schema import Settings

PERP = "BTC/USDT:USDT"


def okx_paper(**paper: object) -> Settings:
    s = paper_settings(max_notional=0)
    return replace(
        s,
        exchange=replace(s.exchange, default="okx", market_type="swap"),
        paper=replace(s.paper, fee_rate=Decimal("0.001"), slippage_bps=Decimal(0), **paper),
    )


@pytest.fixture
async def fake() -> AsyncIterator[FakeOkxReversals]:
    async with FakeOkxReversals() as exchange:
        yield exchange


async def test_contracts_become_coins_with_the_contract_size_known_offline(tmp_path: Path):
    async with PaperDesk(tmp_path, okx_paper()) as desk:
        short = await desk.trade(
            symbol="OKX:BTCUSDT.P",
            side="sell",
            qty="3",
            qty_unit="contracts",
            price="50000",
            leverage="2",
        )
        marked = await desk.trade(symbol="OKX:BTCUSDT.P", side="sell", qty="0.001", price="52000")
        (row,) = [p for p in await desk.engine.positions("paper") if p["symbol"] == PERP]
        trail = [t["detail"] for t in desk.export()[short.alert_id]["trail"]]

    assert short.outcome == "filled", short.reason
    assert "3 contracts × 0.01 BTC = 0.03 BTC" in trail
    # 0.03 BTC at 50,000: fee 1.5 USDT; 2×: margin 750 USDT.
    assert short.reason.startswith(f"paper sell 0.03 {PERP} filled @ 50000, fee 1.5 USDT")
    assert marked.outcome == "filled", marked.reason
    assert (row["side"], row["qty"], row["contracts"]) == (
        "short",
        Decimal("-0.031"),
        Decimal("-3.1"),
    )
    assert row["mark"] == 52000  # the last alert's price marks it
    # entry (0.03 × 50,000 + 0.001 × 52,000) / 0.031; unrealised (mark − entry) × qty
    entry = (Decimal("0.03") * 50000 + Decimal("0.001") * 52000) / Decimal("0.031")
    assert row["avg_price"] == entry
    assert row["unrealized_pnl"] == (52000 - entry) * Decimal("-0.031")
    assert row["leverage"] == 2 and row["liquidation"] is not None
    assert row["liquidation"] > 52000  # a 2× short: liquidated about 50 % above its entry
    assert row["realized_pnl"] == -(Decimal("1.5") + Decimal("0.052"))  # the fees so far


async def test_a_contract_size_paper_does_not_know_is_refused_with_the_fix(tmp_path: Path):
    async with PaperDesk(tmp_path, okx_paper()) as desk:
        refused = await desk.trade(
            symbol="OKX:SOLUSDT.P", side="buy", qty="1", qty_unit="contracts", price="150"
        )
    assert refused.outcome == "rejected"
    assert refused.reason == (
        "a size in contracts needs SOL/USDT:USDT's contract size, which the paper broker does "
        "not know on okx: send the quantity in coins (qty_unit base), or set [paper] "
        'price_source = "market" to read it from the exchange'
    )


async def test_with_market_data_the_exchange_markets_give_the_contract_size(
    tmp_path: Path, fake: FakeOkxReversals
):
    settings = okx_paper(price_source="market")
    settings = replace(settings, exchange=replace(settings.exchange, url=fake.url))
    async with PaperDesk(tmp_path, settings) as desk:
        bought = await desk.trade(
            symbol="OKX:BTCUSDT.P", side="buy", qty="2", qty_unit="contracts", price=None
        )
        (row,) = [p for p in await desk.engine.positions("paper") if p["symbol"] == PERP]

    assert bought.outcome == "filled", bought.reason
    assert bought.reason.startswith(f"paper buy 0.02 {PERP} filled @ 50000")
    assert (row["qty"], row["contracts"], row["mark"]) == (Decimal("0.02"), 2, 50000)
    assert fake.received == []  # paper: nothing was ever sent to the exchange
