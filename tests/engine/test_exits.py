"""Exits are never blocked by per-order size limits (DESIGN.md, "Safety rules").

A position built by several orders within ``max_qty`` / ``max_notional`` (or carried over
them by the price) leaves in one order. The kill switch still stops an exit, and with the
switch on the reason is the switch, before anything else has a say.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.kit.paper import PaperDesk, paper_settings

KILL_REASON = "the kill switch is on: no new orders until you resume"


def eth(side: str, qty: str, price: str, **fields: Any) -> dict[str, Any]:
    return {"symbol": "BINANCE:ETHUSDT", "side": side, "qty": qty, "price": price, **fields}


async def hold_two_eth(desk: PaperDesk) -> None:
    for _ in range(2):  # 3,000 each: within max_notional 5,000 and max_qty 1
        bought = await desk.trade(**eth("buy", "1", "3000"))
        assert bought.outcome == "filled", bought.reason
    assert (await desk.position("ETH/USDT"))["qty"] == 2


async def test_holding_2_eth_a_sell_of_2_passes_the_per_order_limits(tmp_path: Path):
    settings = paper_settings(max_notional=5000.0, max_qty=1.0)
    async with PaperDesk(tmp_path / "data", settings) as desk:
        await hold_two_eth(desk)

        sold = await desk.trade(**eth("sell", "2", "3100"))  # 6,200 > 5,000, 2 > 1

        assert sold.outcome == "filled", sold.reason
        assert (await desk.position("ETH/USDT"))["qty"] == 0
        # The limits still size every order that opens something.
        opened = await desk.trade(**eth("buy", "2", "3100"))
        assert opened.outcome == "rejected"
        assert opened.reason == "qty 2 exceeds max_qty 1"


async def test_with_the_kill_switch_on_an_exit_is_refused_by_the_switch(tmp_path: Path):
    settings = paper_settings(max_notional=5000.0)
    async with PaperDesk(tmp_path / "data", settings) as desk:
        await hold_two_eth(desk)
        desk.engine.set_kill_switch(True, "by hand")

        sold = await desk.trade(**eth("sell", "2", "3100"))

        assert (sold.outcome, sold.reason) == ("rejected", KILL_REASON)
        assert (await desk.position("ETH/USDT"))["qty"] == 2


async def test_with_the_kill_switch_on_the_switch_is_the_reason_first(tmp_path: Path):
    async with PaperDesk(tmp_path / "data", paper_settings(kill_switch=True)) as desk:
        # Each of these has a lesser problem of its own; the switch is named, not it.
        unheld = await desk.trade(symbol="BINANCE:SOLUSDT", side="sell", qty="1", price="100")
        flat = await desk.trade(symbol="BINANCE:SOLUSDT", market_position="flat", qty=None)
        unmapped = await desk.trade(symbol="NYSE:NOSUCHTICKER", exchange="nyse")
        no_price = await desk.trade(price=None)

        for decided in (unheld, flat, unmapped, no_price):
            assert (decided.outcome, decided.reason) == ("rejected", KILL_REASON)
            trail = desk.export()[decided.alert_id]["trail"]
            assert [step["step"] for step in trail if not step["ok"]] == ["risk"]
