"""Paper perpetuals through the real engine (DESIGN.md "Perpetual futures"): a sell from
flat opens a short, a bigger buy reverses it in one order, ``market_position: flat`` closes,
and the journal, the export and the positions query show it all."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from tests.kit.paper import PaperDesk, paper_settings
from tvdesk.config.schema import Settings

PERP = "BTC/USDT:USDT"


def swap_settings() -> Settings:
    s = paper_settings(max_notional=0)
    return replace(
        s,
        exchange=replace(s.exchange, market_type="swap"),
        paper=replace(s.paper, fee_rate=Decimal("0.001"), slippage_bps=Decimal(0)),
    )


async def test_a_short_a_reversal_and_a_close_fill_with_their_pnl_and_fees(tmp_path: Path):
    async with PaperDesk(tmp_path, swap_settings()) as desk:
        short = await desk.trade(symbol="BINANCE:BTCUSDT.P", side="sell", qty="0.01")
        assert short.outcome == "filled", short.reason
        assert short.reason == (
            f"paper sell 0.01 {PERP} filled @ 50000, fee 0.5 USDT; "
            "position short 0.01 @ 50000, 1×, margin 500 USDT"
        )
        held = await desk.position(PERP)
        assert (held["side"], held["qty"], held["avg_price"], held["margin"]) == (
            "short",
            Decimal("-0.01"),
            50000,
            500,
        )
        assert await desk.balances() == {"USDT": Decimal("9499.5")}  # 10,000 − 500 − 0.5

        reverse = await desk.trade(
            symbol="BINANCE:BTCUSDT.P", side="buy", qty="0.02", price="49000"
        )
        assert reverse.outcome == "filled", reverse.reason
        # closing 0.01 short: (50,000 − 49,000) × 0.01 = 10, fee on 0.02: 0.98
        assert reverse.reason == (
            f"paper buy 0.02 {PERP} filled @ 49000, fee 0.98 USDT; "
            "position long 0.01 @ 49000, 1×, margin 490 USDT"
        )
        (mark,) = [p for p in await desk.engine.positions("paper") if p["symbol"] == PERP]
        assert (mark["side"], mark["qty"], mark["mark"], mark["unrealized_pnl"]) == (
            "long",
            Decimal("0.01"),
            49000,
            0,
        )
        assert mark["leverage"] == 1 and mark["liquidation"] is None  # a 1× long

        close = await desk.trade(
            symbol="BINANCE:BTCUSDT.P",
            side="sell",
            qty=None,
            market_position="flat",
            price="49500",
        )
        assert close.outcome == "filled", close.reason
        # (49,500 − 49,000) × 0.01 = 5, fee 0.495; all margin back
        assert close.reason.endswith("position flat, realised 13.025 USDT in all")
        held = await desk.position(PERP)
        assert (held["side"], held["qty"], held["realized_pnl"]) == ("flat", 0, Decimal("13.025"))
        # −0.5 + (10 − 0.98) + (5 − 0.495): every fee paid, nothing made up
        assert await desk.balances() == {"USDT": Decimal("10013.025")}

        records = desk.export()
        sides = [
            (o["side"], o["qty"], o["status"], o["avg_price"])
            for alert_id in (short.alert_id, reverse.alert_id, close.alert_id)
            for o in records[alert_id]["orders"]
        ]
        assert sides == [
            ("sell", "0.01", "filled", "50000"),
            ("buy", "0.02", "filled", "49000"),
            ("sell", "0.01", "filled", "49500"),
        ]
        assert all(records[a.alert_id]["symbol"] == "BINANCE:BTCUSDT.P" for a in (short, close))


async def test_a_short_is_kept_across_a_restart_with_its_margin_and_leverage(tmp_path: Path):
    settings = swap_settings()
    async with PaperDesk(tmp_path, settings) as desk:
        opened = await desk.trade(
            symbol="BTCUSDT.P", side=None, position_size="-0.02", price="50000"
        )
        assert opened.outcome == "filled", opened.reason
    async with PaperDesk(tmp_path, settings) as desk:
        (short,) = [p for p in await desk.engine.positions("paper") if p["symbol"] == PERP]
        assert (short["side"], short["qty"], short["margin"], short["mark"]) == (
            "short",
            Decimal("-0.02"),
            1000,
            50000,
        )
        # (50,000 + 50,000) / 1.005: a 1× short is liquidated when the price doubles, roughly
        assert short["liquidation"] == Decimal(100000) / Decimal("1.005")
        cover = await desk.trade(symbol="BTCUSDT.P", side="buy", qty="0.02", price="45000")
        assert cover.outcome == "filled", cover.reason
        # (50,000 − 45,000) × 0.02 = 100, minus fees 1 and 0.9
        assert (await desk.position(PERP))["realized_pnl"] == Decimal("98.1")


async def test_flatten_buys_back_a_short(tmp_path: Path):
    async with PaperDesk(tmp_path, swap_settings()) as desk:
        short = await desk.trade(symbol="BTCUSDT.P", side="sell", qty="0.01", price="50000")
        assert short.outcome == "filled", short.reason

        (flatten,) = await desk.engine.flatten()

        closed = await desk.outcome(flatten)
        assert closed.outcome == "filled", closed.reason
        assert closed.reason.startswith(f"paper buy 0.01 {PERP} filled @ 50000")
        assert (await desk.position(PERP))["qty"] == 0
