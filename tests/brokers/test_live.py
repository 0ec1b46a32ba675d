"""The live broker in a real engine: real ccxt, real SQLite, a loopback fake Binance."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from tests.kit.fake_binance import FakeBinance
from tests.kit.live import FAST, LiveDesk, live_settings, until
from tvdesk.core.events import KillSwitchChanged, OrderFilled, OrderSubmitted

D = Decimal


async def test_a_market_buy_is_one_signed_order_with_its_fill_fee_and_position(tmp_path: Path):
    async with FakeBinance() as fake, LiveDesk(tmp_path, fake) as desk:
        decided = await desk.trade(qty="0.001", price="50000")

        assert decided.outcome == "filled", decided.reason
        cid = f"tvd{decided.alert_id}"
        assert fake.placed(cid) == 1
        (sent,) = fake.received
        assert sent["params"]["type"] == "MARKET" and sent["params"]["quantity"] == "0.001"
        assert "quoteOrderQty" not in sent["params"]  # the amount asked for, not a quote amount
        assert decided.reason == (
            "live buy 0.001 BTC/USDT filled @ 50000, fee 0.000001 BTC (binance order 1000)"
        )
        (order,) = desk.orders(decided.alert_id)
        assert order["client_order_id"] == cid and order["mode"] == "live"
        assert (order["status"], order["exchange_order_id"]) == ("filled", "1000")
        assert D(order["filled"]) == D("0.001") and D(order["avg_price"]) == D("50000")
        # The fee came out of the coins bought: the position is what really arrived.
        position = await desk.position()
        assert position["qty"] == D("0.000999")
        assert position["avg_price"] == D("50") / D("0.000999")
        kinds = [type(e) for e in desk.events]
        assert OrderSubmitted in kinds and OrderFilled in kinds


async def test_the_amount_is_rounded_down_to_the_lot_size_step_and_the_trail_says_so(
    tmp_path: Path,
):
    async with FakeBinance() as fake, LiveDesk(tmp_path, fake) as desk:
        decided = await desk.trade(symbol="ETHUSDT", qty="0.012345", price="3000")

        assert decided.outcome == "filled", decided.reason
        assert fake.received[0]["params"]["quantity"] == "0.0123"
        trail = desk.export()[decided.alert_id]["trail"]
        precision = next(t["detail"] for t in trail if t["step"] == "precision")
        assert precision.startswith("amount 0.012345 → 0.0123 (LOT_SIZE step 0.0001)")


async def test_a_limit_price_is_rounded_to_the_tick_and_the_order_followed_until_it_fills(
    tmp_path: Path,
):
    async with FakeBinance() as fake, LiveDesk(tmp_path, fake) as desk:
        decided = await desk.trade(qty="0.001", price="49000.123", order_type="limit")

        assert decided.outcome == "open", decided.reason
        assert fake.received[0]["params"]["price"] == "49000.12"
        assert "tvdesk follows it until it closes" in decided.reason
        fake.set_price("BTCUSDT", "48990")  # the market comes down through the limit
        await until(desk, lambda: desk.export()[decided.alert_id]["outcome"] == "filled")
        (order,) = desk.orders(decided.alert_id)
        assert order["status"] == "filled" and D(order["avg_price"]) == D("49000.12")
        assert desk.decided[decided.alert_id].outcome == "filled"
        assert (await desk.position())["qty"] == D("0.000999")


async def test_an_order_below_the_minimum_notional_is_rejected_before_the_exchange(
    tmp_path: Path,
):
    async with FakeBinance() as fake, LiveDesk(tmp_path, fake) as desk:
        decided = await desk.trade(qty="0.00009", price="50000")

        assert decided.outcome == "rejected"
        assert decided.reason == (
            "order value 4.50 USDT (0.00009 × 50000) is below binance's minimum 5 USDT for "
            "BTC/USDT (NOTIONAL minNotional): raise the qty"
        )
        assert fake.received == []
        assert desk.orders(decided.alert_id) == []


async def test_selling_realises_pnl_from_the_real_fills_net_of_fees(tmp_path: Path):
    async with FakeBinance() as fake, LiveDesk(tmp_path, fake) as desk:
        assert (await desk.trade(qty="0.01", price="50000")).outcome == "filled"
        fake.set_price("BTCUSDT", "51000")
        sold = await desk.trade(side="sell", qty="0.005", price="51000")

        assert sold.outcome == "filled", sold.reason
        position = await desk.position()
        cost = D("500") / D("0.00999")  # 0.01 bought for 500 USDT, 0.00001 BTC fee
        fee = D("0.005") * D("51000") * D("0.001")  # the sell's fee, in USDT
        assert position["qty"] == D("0.00499")
        assert position["realized_pnl"] == (D("51000") - cost) * D("0.005") - fee


async def test_a_market_alert_without_a_price_is_priced_from_the_ticker(tmp_path: Path):
    async with FakeBinance() as fake, LiveDesk(tmp_path, fake) as desk:
        decided = await desk.trade(qty="0.001", price=None)

        assert decided.outcome == "filled", decided.reason
        trail = desk.export()[decided.alert_id]["trail"]
        assert any(t["detail"] == "no price in the alert: 50000 from binance" for t in trail)


async def test_an_unknown_market_reloads_the_markets_once_then_is_refused(tmp_path: Path):
    async with FakeBinance() as fake, LiveDesk(tmp_path, fake) as desk:
        decided = await desk.trade(symbol="XRPUSDT", qty="10", price="0.5")

        assert decided.outcome == "rejected"
        assert "binance has no market XRP/USDT (spot): check the symbol map" in decided.reason
        assert fake.requests.count(("GET", "/api/v3/exchangeInfo")) == 2
        assert fake.received == []


async def test_insufficient_funds_fail_at_once_and_are_never_retried(tmp_path: Path):
    async with FakeBinance() as fake, LiveDesk(tmp_path, fake) as desk:
        decided = await desk.trade(qty="3", price="50000")  # 150,000 USDT; 100,000 held

        assert decided.outcome == "failed"
        assert decided.reason == (
            "binance: insufficient funds: Account has insufficient balance for requested action."
        )
        assert len(fake.received) == 1
        assert desk.orders(decided.alert_id)[0]["status"] == "rejected"


async def test_a_filter_failure_at_the_exchange_fails_the_alert_in_binance_words(
    tmp_path: Path,
):
    async with FakeBinance() as fake, LiveDesk(tmp_path, fake) as desk:
        fake.fault("POST", "/api/v3/order", "error", code=-1013, msg="Filter failure: NOTIONAL")
        decided = await desk.trade(qty="0.001")

        assert decided.outcome == "failed"
        assert decided.reason == (
            "binance refused the order: Filter failure: NOTIONAL (code -1013)"
        )
        assert desk.orders(decided.alert_id)[0]["status"] == "rejected"
        assert fake.created() == []


async def test_503_then_success_places_exactly_one_order(tmp_path: Path):
    async with FakeBinance() as fake, LiveDesk(tmp_path, fake) as desk:
        fake.fault("POST", "/api/v3/order", "status", status=503)
        decided = await desk.trade(qty="0.001")

        assert decided.outcome == "filled", decided.reason
        assert fake.requests.count(("POST", "/api/v3/order")) == 2
        cid = f"tvd{decided.alert_id}"
        assert [o.client_order_id for o in fake.created()] == [cid]
        trail = [t["detail"] for t in desk.export()[decided.alert_id]["trail"]]
        assert any("binance is not available (HTTP 503)" in t for t in trail)
        assert any(f"{cid} is not at binance: nothing was placed" in t for t in trail)


async def test_a_timeout_after_the_exchange_created_the_order_records_that_order(
    tmp_path: Path,
):
    async with FakeBinance() as fake, LiveDesk(tmp_path, fake) as desk:
        # The fake creates the order, then answers after the client has given up.
        fake.fault("POST", "/api/v3/order", "slow", delay_s=FAST.request_timeout_s * 3)
        decided = await desk.trade(qty="0.001")

        assert decided.outcome == "filled", decided.reason
        cid = f"tvd{decided.alert_id}"
        assert fake.placed(cid) == 1 and len(fake.created()) == 1
        assert fake.requests.count(("POST", "/api/v3/order")) == 1
        trail = [t["detail"] for t in desk.export()[decided.alert_id]["trail"]]
        assert any("did not answer in time" in t for t in trail)
        assert any(f"found {cid} at binance: placed once" in t for t in trail)
        (order,) = desk.orders(decided.alert_id)
        assert order["status"] == "filled" and order["exchange_order_id"] == "1000"
        # The lookup's reply has no fee; it came from the order's trades.
        assert "fee 0.000001 BTC" in decided.reason


async def test_a_duplicate_id_refusal_is_looked_up_and_never_sent_again(tmp_path: Path):
    async with FakeBinance() as fake, LiveDesk(tmp_path, fake) as desk:
        fake.fault("POST", "/api/v3/order", "error", code=-2010, msg="Duplicate order sent.")
        decided = await desk.trade(qty="0.001")

        assert decided.outcome == "failed"
        assert "Duplicate order sent." in decided.reason
        assert "was not sent again" in decided.reason
        assert fake.requests.count(("POST", "/api/v3/order")) == 1
        assert fake.created() == []


async def test_alerts_wait_for_the_markets_and_are_not_refused_meanwhile(tmp_path: Path):
    async with FakeBinance() as fake:
        fake.fault("GET", "/api/v3/exchangeInfo", "status", status=503, times=2)
        async with LiveDesk(tmp_path, fake) as desk:
            decided = await desk.trade(qty="0.001")

            assert decided.outcome == "filled", decided.reason
            assert fake.requests.count(("GET", "/api/v3/exchangeInfo")) == 3


async def test_the_wait_for_markets_is_bounded(tmp_path: Path):
    async with FakeBinance() as fake:
        fake.fault("GET", "/api/v3/exchangeInfo", "status", status=503, times=10_000)
        tuning = _tuned(markets_wait_s=0.3)
        async with LiveDesk(tmp_path, fake, tuning=tuning) as desk:
            decided = await desk.trade(qty="0.001")

            assert decided.outcome == "failed"
            assert decided.reason.startswith("binance markets not loaded after 0.3 s")
            assert "binance is not available (HTTP 503)" in decided.reason
            assert fake.received == []


def _tuned(**changes: object):
    from dataclasses import replace

    return replace(FAST, **changes)


async def test_live_mode_status_reports_the_exchange_and_the_circuit(tmp_path: Path):
    async with FakeBinance() as fake, LiveDesk(tmp_path, fake) as desk:
        await desk.trade(qty="0.001")
        status = await desk.engine.status()

        assert status["mode"] == "live" and status["exchange"] == "binance"
        assert status["exchange_status"] == {"state": "ready", "markets": 2, "error": None}
        assert status["circuit"]["state"] == "closed"


async def test_settings_point_every_rest_call_at_the_exchange_url(tmp_path: Path):
    async with FakeBinance() as fake:
        settings = live_settings(fake.url + "/")
        async with LiveDesk(tmp_path, fake, settings) as desk:
            assert (await desk.trade(qty="0.001")).outcome == "filled"
            paths = {path for _, path in fake.requests}
            assert {"/api/v3/exchangeInfo", "/api/v3/account", "/api/v3/order"} <= paths


async def test_live_mapping_uses_the_exchange_markets_only_where_the_trader_allows_it(
    tmp_path: Path,
):
    base = live_settings("http://127.0.0.1:1")  # the URL is replaced below
    async with FakeBinance() as fake:
        settings = replace(base, exchange=replace(base.exchange, url=fake.url), symbols=[])
        async with LiveDesk(tmp_path / "default", fake, settings) as desk:
            # auto_map = "paper" (the default): a ticker the table lacks is not guessed live...
            refused = await desk.trade(symbol="BINANCE:ETHUSDT", qty="0.01", price="3000")
            assert refused.outcome == "rejected" and "ETHUSDT" in refused.reason
            # ...but an alert naming the exact market needs no guess.
            exact = await desk.trade(symbol="ETH/USDT", qty="0.01", price="3000")
            assert exact.outcome == "filled", exact.reason
            trail = desk.export()[exact.alert_id]["trail"]
            assert "ETH/USDT → ETH/USDT ×1.0 (exact)" in [e["detail"] for e in trail]
        always = replace(settings, exchange=replace(settings.exchange, auto_map="always"))
        async with LiveDesk(tmp_path / "always", fake, always) as desk:
            auto = await desk.trade(symbol="BINANCE:ETHUSDT", qty="0.01", price="3000")
            assert auto.outcome == "filled", auto.reason
            trail = desk.export()[auto.alert_id]["trail"]
            assert "BINANCE:ETHUSDT → ETH/USDT ×1.0 (auto)" in [e["detail"] for e in trail]


async def test_a_loss_realised_by_a_limit_that_fills_later_counts_toward_the_daily_limit(
    tmp_path: Path,
):
    async with FakeBinance() as fake:
        settings = live_settings(fake.url, daily_loss_limit=D("5"))
        async with LiveDesk(tmp_path, fake, settings) as desk:
            assert (await desk.trade(qty="0.05", price="50000")).outcome == "filled"
            # A limit sell below the cost but above the market rests; it fills when the
            # market rises through it, and the poller (not the worker) records that fill.
            fake.set_price("BTCUSDT", "49500")
            sell = await desk.trade(side="sell", qty="0.049", price="49800", order_type="limit")
            assert sell.outcome == "open", sell.reason
            assert not desk.engine.settings.risk.kill_switch
            fake.set_price("BTCUSDT", "49900")
            await until(desk, lambda: desk.export()[sell.alert_id]["outcome"] == "filled")
            await until(desk, lambda: desk.engine.settings.risk.kill_switch)
            tripped = [e for e in desk.events if isinstance(e, KillSwitchChanged) and e.on]
            assert "daily loss limit reached" in tripped[-1].reason
