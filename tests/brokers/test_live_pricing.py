"""Live orders are valued at the exchange's price, never at the alert's word (real ccxt,
real SQLite, the loopback fake Binance; its BTC/USDT trades at 50,000)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from tests.kit.fake_binance import FakeBinance
from tests.kit.live import FAST, LiveDesk, live_settings

TICKER = ("GET", "/api/v3/ticker/24hr")


def tickers(fake: FakeBinance) -> int:
    return fake.requests.count(TICKER)


def trail_of(desk: LiveDesk, alert_id: str) -> list[tuple[str, bool, str]]:
    return [(t["step"], t["ok"], t["detail"]) for t in desk.export()[alert_id]["trail"]]


async def test_an_alert_priced_far_from_the_market_is_refused_naming_both_prices(tmp_path: Path):
    # The audit's exploit: "price": 100 made 0.5 BTC look like 50 USDT under max_notional
    # 1,000, and 0.5 BTC (25,000 USDT) was bought at 50,000.
    settings = live_settings("", max_notional=1000)
    async with FakeBinance() as fake:
        settings = replace(settings, exchange=replace(settings.exchange, url=fake.url))
        async with LiveDesk(tmp_path, fake, settings) as desk:
            decided = await desk.trade(qty="0.5", price="100")

            assert decided.outcome == "rejected"
            assert decided.reason.startswith(
                "alert price 100 is 99.8% from the market price 50,000 on binance BTC/USDT "
                "(max_price_deviation_pct 5): "
            )
            assert fake.received == []  # nothing reached the exchange's order endpoint
            assert ("price", False, decided.reason) in trail_of(desk, decided.alert_id)


async def test_with_the_deviation_check_off_the_limits_still_value_at_the_market(tmp_path: Path):
    async with FakeBinance() as fake:
        settings = live_settings(fake.url, max_notional=1000, max_price_deviation_pct=0)
        async with LiveDesk(tmp_path, fake, settings) as desk:
            decided = await desk.trade(qty="0.5", price="100")

            assert decided.outcome == "rejected"
            assert "notional" in decided.reason and "25000" in decided.reason.replace(",", "")
            assert fake.received == []


async def test_an_alert_near_the_market_trades_and_is_valued_at_the_market(tmp_path: Path):
    async with FakeBinance() as fake:
        # 0.01 BTC is 490 USDT at the alert's 49,000 but 500 at the market's 50,000.
        settings = live_settings(fake.url, max_notional=495)
        async with LiveDesk(tmp_path, fake, settings) as desk:
            over = await desk.trade(qty="0.01", price="49000")
            assert over.outcome == "rejected"
            assert "notional" in over.reason and "500" in over.reason
            assert fake.received == []

            filled = await desk.trade(qty="0.0098", price="49000")  # 490 USDT at the market
            assert filled.outcome == "filled", filled.reason
            assert (
                "price",
                True,
                "alert price 49,000 is 2.00% from the market price 50,000 on binance BTC/USDT; "
                "valued at the market",
            ) in trail_of(desk, filled.alert_id)
            (sent,) = fake.received
            assert sent["params"]["quantity"] == "0.0098"


async def test_a_limit_buy_is_valued_at_the_higher_of_its_limit_and_the_market(tmp_path: Path):
    async with FakeBinance() as fake:
        settings = live_settings(fake.url, max_notional=505)
        async with LiveDesk(tmp_path, fake, settings) as desk:
            # Resting below the market: worth its limit... but valued at the market (500).
            resting = await desk.trade(qty="0.01", price="49000", order_type="limit")
            assert resting.outcome == "open", resting.reason
            # Above the market (still within 5%): its limit, 0.01 × 51,000 = 510 > 505.
            over = await desk.trade(qty="0.01", price="51000", order_type="limit")
            assert over.outcome == "rejected" and "notional" in over.reason
            far = await desk.trade(qty="0.001", price="40000", order_type="limit")
            assert far.outcome == "rejected"
            assert far.reason.startswith("alert price 40,000 is 20% from the market price")


async def test_a_burst_reads_the_ticker_once(tmp_path: Path):
    async with FakeBinance() as fake:
        tuning = replace(FAST, price_ttl_s=600.0)  # longer than any burst on a busy machine
        async with LiveDesk(tmp_path, fake, tuning=tuning) as desk:
            before = tickers(fake)
            for price in ("50000", None, "50100", None, "49900"):
                decided = await desk.trade(qty="0.001", price=price)
                assert decided.outcome == "filled", decided.reason
            assert tickers(fake) - before == 1


async def test_every_alert_reads_the_ticker_once_the_cached_price_is_old(tmp_path: Path):
    fresh = replace(FAST, price_ttl_s=0.0)
    async with FakeBinance() as fake, LiveDesk(tmp_path, fake, tuning=fresh) as desk:
        before = tickers(fake)
        for _ in range(2):
            assert (await desk.trade(qty="0.001", price="50000")).outcome == "filled"
        fake.set_price("BTCUSDT", "60000")  # the market moved: the next alert sees it
        moved = await desk.trade(qty="0.001", price="50000")
        assert tickers(fake) - before == 3
        assert moved.outcome == "rejected"
        assert "market price 60,000" in moved.reason


async def test_no_live_order_when_the_exchanges_price_cannot_be_read(tmp_path: Path):
    async with FakeBinance() as fake, LiveDesk(tmp_path, fake) as desk:
        fake.fault(*TICKER, "status", status=503, times=100)
        unreadable = await desk.trade(qty="0.001", price="50000")
        assert unreadable.outcome == "failed"
        assert unreadable.reason.startswith("no price for BTC/USDT from binance: ")
        assert unreadable.reason.endswith("live orders are valued at the market price")

        fake.faults.clear()
        fake.fault(*TICKER, "error", code=-1121, msg="Invalid symbol.")
        refused = await desk.trade(qty="0.001", price="50000")
        assert refused.outcome == "rejected"
        assert "no price for BTC/USDT from binance" in refused.reason
        assert "Invalid symbol" in refused.reason
        assert fake.received == []
