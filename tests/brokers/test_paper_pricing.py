"""Paper checks an alert's price against the market when it has market data: the exchange's
public ticker with ``[paper] price_source = "market"`` (the loopback fake Binance, no keys)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from tests.kit.fake_binance import FakeBinance
from tests.kit.paper import PaperDesk, paper_settings
from tvdesk.config.schema import Settings


def market_paper(url: str, **risk: object) -> Settings:
    settings = paper_settings(**risk)
    return replace(
        settings,
        exchange=replace(settings.exchange, url=url),
        paper=replace(settings.paper, price_source="market"),
    )


def details(desk: PaperDesk, alert_id: str) -> list[str]:
    return [t["detail"] for t in desk.export()[alert_id]["trail"]]


async def test_paper_with_market_data_refuses_an_alert_far_from_the_market(tmp_path: Path):
    async with FakeBinance() as fake, PaperDesk(tmp_path, market_paper(fake.url)) as desk:
        refused = await desk.trade(qty="0.5", price="100")
        assert refused.outcome == "rejected"
        assert refused.reason.startswith(
            "alert price 100 is 99.8% from the market price 50,000 on binance BTC/USDT "
            "(max_price_deviation_pct 5): "
        )

        near = await desk.trade(qty="0.01", price="49900")
        assert near.outcome == "filled", near.reason
        assert "@ 49" in near.reason  # paper still fills at the alert's price (+ slippage)
        assert (
            "alert price 49,900 is 0.20% from the market price 50,000 on binance BTC/USDT; "
            "paper fills at 49,900"
        ) in details(desk, near.alert_id)
        assert fake.received == []  # a public ticker, never an order


async def test_paper_without_market_data_fills_at_the_alert_and_says_it_was_not_checked(
    tmp_path: Path,
):
    async with FakeBinance() as fake:
        settings = paper_settings(max_notional=0)
        settings = replace(settings, exchange=replace(settings.exchange, url=fake.url))
        async with PaperDesk(tmp_path, settings) as desk:
            decided = await desk.trade(qty="0.5", price="100")
            assert decided.outcome == "filled", decided.reason
            assert (
                'paper: no market price ([paper] price_source = "alert"): the alert\'s price '
                "100 is not checked against the market"
            ) in details(desk, decided.alert_id)
            assert fake.requests == []  # offline: paper asked the exchange nothing


async def test_paper_trades_on_when_the_market_price_cannot_be_read(tmp_path: Path):
    async with FakeBinance() as fake:
        fake.fault("GET", "/api/v3/ticker/24hr", "status", status=503, times=100)
        async with PaperDesk(tmp_path, market_paper(fake.url)) as desk:
            decided = await desk.trade(qty="0.01", price="50000")
            assert decided.outcome == "filled", decided.reason
            (said,) = [
                d for d in details(desk, decided.alert_id) if d.startswith("paper: no market price")
            ]
            assert said.startswith("paper: no market price (no price for BTC/USDT from binance")
            assert said.endswith("the alert's price 50,000 is not checked against the market")
