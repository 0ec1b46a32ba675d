"""An alert's TradingView exchange names (ticker prefix, `exchange` field) pick the ccxt
exchange and market it trades; one naming an exchange the desk doesn't trade on is refused."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from tests.kit.paper import PaperDesk, paper_settings


def on(default: str):
    settings = paper_settings()
    return replace(settings, exchange=replace(settings.exchange, default=default))


def mapped(desk: PaperDesk, alert_id: str) -> tuple[list[str], list[tuple[str, str]]]:
    record = desk.export()[alert_id]
    trail = [step["detail"] for step in record["trail"] if step["step"] == "map"]
    return trail, [(order["exchange"], order["symbol"]) for order in record["orders"]]


async def test_gateio_alerts_trade_on_gate_and_another_exchange_is_refused(tmp_path: Path):
    async with PaperDesk(tmp_path / "data", on("gate")) as desk:
        filled = await desk.trade(symbol="GATEIO:BTCUSDT", exchange="GATEIO")
        assert filled.outcome == "filled", filled.reason
        assert mapped(desk, filled.alert_id) == (
            ["GATEIO:BTCUSDT → BTC/USDT ×1.0 (auto)"],
            [("gate", "BTC/USDT")],
        )

        elsewhere = await desk.trade(symbol="GATEIO:BTCUSDT", exchange="KUCOIN")
        assert elsewhere.outcome == "rejected"
        assert elsewhere.reason.startswith(
            "the alert for GATEIO:BTCUSDT names exchange kucoin, which is neither the default "
            "(gate) nor in the symbol map, and it is never sent elsewhere"
        )
        assert desk.export()[elsewhere.alert_id]["orders"] == []


async def test_kraken_xbt_trades_btc_on_kraken_and_not_on_another_desk(tmp_path: Path):
    async with PaperDesk(tmp_path / "kraken", on("kraken")) as desk:
        filled = await desk.trade(symbol="KRAKEN:XBTUSDT")
        assert filled.outcome == "filled", filled.reason
        assert mapped(desk, filled.alert_id)[1] == [("kraken", "BTC/USDT")]
        assert (await desk.position("BTC/USDT"))["qty"] == Decimal("0.01")

    async with PaperDesk(tmp_path / "binance", on("binance")) as desk:
        refused = await desk.trade(symbol="KRAKEN:XBTUSDT")
        assert refused.outcome == "rejected"
        assert refused.reason.startswith(
            "the alert for KRAKEN:XBTUSDT is prefixed KRAKEN:, which names exchange kraken, "
            "which is neither the default (binance) nor in the symbol map"
        )
