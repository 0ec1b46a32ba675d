"""A bar close's burst: orders on many markets are at the exchange at once, each market's
in the order its alerts arrived, and every risk limit holds as if they went one by one
(issue 17). Nothing here is timed: concurrency is what the fake exchange counted."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import replace
from pathlib import Path

from tests.kit.burst import (
    MORE_SYMBOLS,
    burst,
    burst_settings,
    fake_options,
    out_of_order,
)
from tests.kit.fake_binance import FakeBinance
from tests.kit.live import FAST, LiveDesk, until
from tests.kit.paper import PaperDesk, paper_settings

# A held order must not time out while the test looks at what is in flight.
PATIENT = replace(FAST, request_timeout_s=30.0)


async def test_fifty_alerts_on_ten_markets_place_exactly_the_orders_the_limit_allows(
    tmp_path: Path,
):
    async with FakeBinance(**fake_options()) as fake:
        fake.hold = asyncio.Event()  # every order waits at the exchange until released
        # The first order to arrive is refused: its place in the limit goes to a later one.
        fake.fault(
            "POST",
            "/api/v3/order",
            "error",
            code=-2010,
            msg="Account has insufficient balance for requested action.",
        )
        settings = burst_settings(fake.url, max_orders_per_minute=30)
        async with LiveDesk(tmp_path, fake, settings, tuning=PATIENT) as desk:
            ids = []
            for fields in burst(50):
                status, reply = await desk.post(**fields)
                assert status == 200, reply
                ids.append(reply["alert_id"])

            # One order on every market is at the exchange at the same time, while the
            # refused one has already been answered and the next on its market sent.
            await until(desk, lambda: any(d.outcome == "failed" for d in desk.decided.values()))
            await until(desk, lambda: fake.in_flight == 10)
            assert fake.max_in_flight == 10
            fake.hold.set()
            for alert_id in ids:
                await desk.outcome(alert_id)

        outcomes = Counter(desk.decided[a].outcome for a in ids)
        assert outcomes == {"filled": 30, "rejected": 19, "failed": 1}
        assert len(fake.created()) == 30
        rejected = [desk.decided[a].reason for a in ids if desk.decided[a].outcome == "rejected"]
        assert set(rejected) == {"30 orders in the last 60 s reach max_orders_per_minute 30"}, (
            rejected
        )
        (failed,) = [desk.decided[a] for a in ids if desk.decided[a].outcome == "failed"]
        assert "insufficient balance" in failed.reason
        # Within each market the exchange saw the orders in the order the alerts arrived.
        assert out_of_order(fake.received, ids) == []
        assert len(fake.received) == 30


async def test_without_a_limit_every_order_of_the_burst_is_placed_once_in_market_order(
    tmp_path: Path,
):
    async with FakeBinance(**fake_options(order_delay_s=0.02)) as fake:
        settings = burst_settings(fake.url)
        async with LiveDesk(tmp_path, fake, settings, tuning=PATIENT) as desk:
            replies = await asyncio.gather(*(desk.post(**fields) for fields in burst(50)))
            assert {status for status, _ in replies} == {200}
            for _, reply in replies:
                await desk.outcome(reply["alert_id"])
            # Arrival order is the journal's: the export lists alerts in it.
            ids = [a for a in desk.export() if a in {r["alert_id"] for _, r in replies}]

        assert Counter(desk.decided[a].outcome for a in ids) == {"filled": 50}
        assert sorted(Counter(r["clientOrderId"] for r in fake.received).values()) == [1] * 50
        assert out_of_order(fake.received, ids) == []
        assert fake.max_in_flight > 1


async def test_a_paper_burst_spends_the_balance_exactly_once(tmp_path: Path):
    settings = paper_settings(max_orders_per_minute=0, max_notional=0)
    paper = replace(settings.paper, balances={"USDT": 1000.0}, fee_rate=0.0, slippage_bps=0)
    async with PaperDesk(tmp_path, replace(settings, paper=paper)) as desk:
        coins = ["BTC", "ETH", *(spec["base"] for spec in MORE_SYMBOLS.values())]
        # Forty buys of 100 USDT each on ten markets: the balance pays for ten of them.
        replies = await asyncio.gather(
            *(
                desk.post(symbol=f"BINANCE:{coins[i % 10]}USDT", qty="1", price="100")
                for i in range(40)
            )
        )
        decided = [await desk.outcome(reply["alert_id"]) for _, reply in replies]
        balances = await desk.balances()

    assert Counter(d.outcome for d in decided) == {"filled": 10, "rejected": 30}
    assert float(balances["USDT"]) == 0.0


async def test_stopping_finishes_the_orders_at_the_exchange_and_leaves_the_rest_pending(
    tmp_path: Path,
):
    async with FakeBinance(**fake_options()) as fake:
        fake.hold = asyncio.Event()
        settings = burst_settings(fake.url)
        async with LiveDesk(tmp_path, fake, settings, tuning=PATIENT) as desk:
            ids = []
            for fields in burst(20):  # two alerts on each of the ten markets
                status, reply = await desk.post(**fields)
                assert status == 200, reply
                ids.append(reply["alert_id"])
            await until(desk, lambda: fake.in_flight == 10)
            stopping = asyncio.create_task(desk.engine.stop())
            await until(desk, lambda: desk.engine.worker._stopping)
            fake.hold.set()  # the exchange answers only once the stop has begun
            await stopping

        outcomes = {a: r["outcome"] for a, r in desk.export().items() if a in ids}
        assert [outcomes[a] for a in ids] == ["filled"] * 10 + ["pending"] * 10
        assert len(fake.created()) == 10


async def test_the_kill_switch_mid_burst_stops_every_order_not_yet_sent(tmp_path: Path):
    async with FakeBinance(**fake_options()) as fake:
        fake.hold = asyncio.Event()
        settings = burst_settings(fake.url)
        async with LiveDesk(tmp_path, fake, settings, tuning=PATIENT) as desk:
            ids = []
            for fields in burst(30):  # three alerts on each of the ten markets
                status, reply = await desk.post(**fields)
                assert status == 200, reply
                ids.append(reply["alert_id"])
            await until(desk, lambda: fake.in_flight == 10)
            desk.engine.set_kill_switch(True, "stopped by hand")
            fake.hold.set()
            for alert_id in ids:
                await desk.outcome(alert_id)

        # The ten at the exchange when the switch went on were sent; no other one was.
        assert [desk.decided[a].outcome for a in ids] == ["filled"] * 10 + ["rejected"] * 20
        assert {desk.decided[a].reason for a in ids[10:]} == {
            "the kill switch is on: no new orders until you resume"
        }
        assert len(fake.created()) == 10
