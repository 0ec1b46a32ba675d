"""Paper with no price in the alert (DESIGN.md, the "price" row): it fills at the market
price with ``[paper] price_source = "market"``, else at the last price it saw for that
market, else it refuses naming the missing price and how to add it. The trail says which
price it used and why."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.kit.fake_binance import FakeBinance
from tests.kit.paper import PaperDesk, paper_settings
from tvdesk.config.schema import Settings


def settings(url: str = "", price_source: str = "alert") -> Settings:
    s = paper_settings(max_notional=0)
    return replace(
        s,
        exchange=replace(s.exchange, url=url),
        paper=replace(
            s.paper, fee_rate=Decimal(0), slippage_bps=Decimal(0), price_source=price_source
        ),
    )


def record(desk: PaperDesk, alert_id: str) -> dict[str, Any]:
    return desk.export()[alert_id]


def price_line(desk: PaperDesk, alert_id: str) -> dict[str, Any]:
    (line,) = [t for t in record(desk, alert_id)["trail"] if t["step"] == "price"]
    return line


async def test_an_alert_without_a_price_fills_at_the_last_price_seen_and_says_so(tmp_path: Path):
    async with PaperDesk(tmp_path, settings()) as desk:
        assert (await desk.trade(qty="0.01", price="64000")).outcome == "filled"
        assert (await desk.trade(qty="0.01", price="64250.5")).outcome == "filled"

        decided = await desk.trade(qty="0.02", price=None)

        assert decided.outcome == "filled", decided.reason
        assert decided.reason == "paper buy 0.02 BTC/USDT filled @ 64250.5, fee 0 USDT"
        line = price_line(desk, decided.alert_id)
        assert (line["ok"], line["detail"]) == (
            True,
            "no price in the alert: paper fills at the last price seen for binance BTC/USDT, "
            "64,250.5",
        )
        (order,) = record(desk, decided.alert_id)["orders"]
        assert (order["qty"], order["avg_price"]) == ("0.02", "64250.5")


async def test_a_quote_amount_without_a_price_is_sized_at_the_last_price(tmp_path: Path):
    async with PaperDesk(tmp_path, settings()) as desk:
        await desk.trade(qty="0.01", price="50000")
        decided = await desk.trade(qty=None, notional="1000", price=None)
        assert decided.outcome == "filled", decided.reason
        assert decided.reason == "paper buy 0.02 BTC/USDT filled @ 50000, fee 0 USDT"


async def test_an_exit_without_a_price_sells_the_position_at_the_last_price(tmp_path: Path):
    async with PaperDesk(tmp_path, settings()) as desk:
        await desk.trade(qty="0.01", price="64250.5")
        decided = await desk.trade(qty=None, side="exit", price=None)
        assert decided.reason == "paper sell 0.01 BTC/USDT filled @ 64250.5, fee 0 USDT"
        position = await desk.position()
        assert position is None or position["qty"] == 0


async def test_with_no_price_ever_seen_the_refusal_names_the_price_and_the_fix(tmp_path: Path):
    async with PaperDesk(tmp_path, settings()) as desk:
        decided = await desk.trade(qty="0.01", price=None)
        assert decided.outcome == "rejected"
        assert decided.reason == (
            "no price in the alert, and paper has seen none for binance BTC/USDT yet: "
            "paper fills at the alert's price, or at the last price it saw for that market. "
            'Add "price": {{close}} to the alert (or set [paper] price_source = "market")'
        )
        # Refused where the price is decided, before sizing or the broker saw it.
        line = price_line(desk, decided.alert_id)
        assert (line["ok"], line["detail"]) == (False, decided.reason)
        assert record(desk, decided.alert_id)["orders"] == []


async def test_the_last_price_is_per_market_and_a_resting_limit_is_not_a_price(tmp_path: Path):
    async with PaperDesk(tmp_path, settings()) as desk:
        await desk.trade(qty="0.01", price="64250.5")  # BTC/USDT only
        resting = await desk.trade(
            symbol="ETHUSDT", qty="1", price="2000", order_type="limit"
        )  # a wish, not a trade: it says nothing about where ETH traded
        assert resting.outcome == "open", resting.reason

        decided = await desk.trade(symbol="ETHUSDT", qty="1", price=None)

        assert decided.outcome == "rejected"
        assert decided.reason.startswith(
            "no price in the alert, and paper has seen none for binance ETH/USDT yet"
        )


async def test_the_last_price_survives_a_restart(tmp_path: Path):
    async with PaperDesk(tmp_path, settings()) as desk:
        await desk.trade(qty="0.01", price="64250.5")
    async with PaperDesk(tmp_path, settings()) as desk:
        decided = await desk.trade(qty="0.01", price=None)
        assert decided.reason == "paper buy 0.01 BTC/USDT filled @ 64250.5, fee 0 USDT"


async def test_a_test_alert_without_a_price_is_still_a_dry_run(tmp_path: Path):
    async with PaperDesk(tmp_path, settings()) as desk:
        decided = await desk.trade(qty="0.01", price=None, test=True)
        assert decided.outcome == "dry_run", decided.reason
        assert price_line(desk, decided.alert_id)["detail"] == (
            "no price in the alert, and none seen yet for binance BTC/USDT: a test needs none"
        )


async def test_market_source_fills_at_the_market_price(tmp_path: Path):
    async with FakeBinance() as fake, PaperDesk(tmp_path, settings(fake.url, "market")) as desk:
        decided = await desk.trade(qty="0.01", price=None)
        assert decided.reason == "paper buy 0.01 BTC/USDT filled @ 50000, fee 0 USDT"
        assert fake.received == []  # a public ticker, never an order


async def test_market_source_down_falls_back_to_the_last_price_and_says_why(tmp_path: Path):
    async with FakeBinance() as fake:
        fake.fault("GET", "/api/v3/ticker/24hr", "status", status=503, times=100)
        async with PaperDesk(tmp_path, settings(fake.url, "market")) as desk:
            await desk.trade(qty="0.01", price="64250.5")

            decided = await desk.trade(qty="0.01", price=None)

            assert decided.reason == "paper buy 0.01 BTC/USDT filled @ 64250.5, fee 0 USDT"
            said = price_line(desk, decided.alert_id)["detail"]
            assert said.startswith(
                "no price in the alert: paper fills at the last price seen for binance "
                "BTC/USDT, 64,250.5 (no market price: no price for BTC/USDT from binance"
            )


async def test_market_source_down_and_no_price_seen_is_refused_without_the_setting_hint(
    tmp_path: Path,
):
    async with FakeBinance() as fake:
        fake.fault("GET", "/api/v3/ticker/24hr", "status", status=503, times=100)
        async with PaperDesk(tmp_path, settings(fake.url, "market")) as desk:
            decided = await desk.trade(qty="0.01", price=None)
            assert decided.outcome == "rejected"
            assert decided.reason.startswith(
                "no price in the alert, and paper has seen none for binance BTC/USDT yet "
                "(no market price: no price for BTC/USDT from binance"
            )
            assert decided.reason.endswith('Add "price": {{close}} to the alert')
