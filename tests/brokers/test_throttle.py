"""ccxt's throttle from the exchange's documented limits: a burst of orders goes at once,
and the limits still hold (issue 17). Time is given to the throttle, never slept."""

from __future__ import annotations

import importlib
from dataclasses import replace
from pathlib import Path

from tests.kit.fake_binance import FakeBinance
from tests.kit.live import FAST, LiveDesk
from tvdesk.brokers.throttle import ORDER_LIMITS, BurstThrottle, OrderCost, burst_throttle

SPOT = ORDER_LIMITS[("binance", "spot")]


def spend(throttle: BurstThrottle, at: float, cost: float, order: bool) -> None:
    """What the throttle records when a request leaves at ``at``."""
    throttle._weights.append((at, cost))
    throttle._weight += cost
    if order:
        throttle._orders.append(at)


def test_a_hundred_spot_orders_go_at_once_and_the_next_waits_for_the_ten_second_window():
    throttle = BurstThrottle(max_weight=1200, limits=SPOT)
    for i in range(100):
        assert throttle.wait_s(1000.0, 0.2, order=True) == 0
        spend(throttle, 1000.0 + i * 0.001, 0.2, order=True)
    # The 101st order waits until the first one is 10 s old; a price read does not.
    assert abs(throttle.wait_s(1000.1, 0.2, order=True) - 9.9) < 1e-9
    assert throttle.wait_s(1000.1, 0.4, order=False) == 0
    assert throttle.wait_s(1010.0005, 0.2, order=True) == 0


def test_request_weight_may_come_in_a_burst_but_never_more_than_a_minutes_worth():
    throttle = BurstThrottle(max_weight=1200, limits=SPOT)
    spend(throttle, 0.0, 1000, order=False)
    spend(throttle, 30.0, 199, order=False)
    assert throttle.wait_s(30.0, 1, order=False) == 0  # exactly the budget
    spend(throttle, 30.0, 1, order=False)
    # Full: the next request waits until the first 1,000 leave the window.
    assert throttle.wait_s(31.0, 1, order=False) == 29.0


def test_the_usdm_limits_are_three_hundred_per_ten_seconds_and_twelve_hundred_a_minute():
    usdm = ORDER_LIMITS[("binance", "swap")]
    assert usdm.windows == ((300, 10.0), (1_200, 60.0))
    assert SPOT.windows[0] == (100, 10.0)
    assert all(
        limits.source.startswith("https://developers.binance.com/")
        for limits in ORDER_LIMITS.values()
    )


async def test_ccxt_binance_counts_its_order_requests_as_orders_and_nothing_else():
    ccxt = importlib.import_module("ccxt.async_support")
    api = ccxt.binance({"enableRateLimit": True})
    try:
        assert burst_throttle(api, "binance", "spot")
        assert isinstance(api.throttler, BurstThrottle)
        order = api.calculate_rate_limiter_cost(["private"], "POST", "order", {}, {"cost": 0.2})
        ticker = api.calculate_rate_limiter_cost(
            ["public"], "GET", "ticker/price", {}, {"cost": 0.4}
        )
        assert isinstance(order, OrderCost) and order == 0.2
        assert not isinstance(ticker, OrderCost)
        # An exchange whose limits tvdesk does not know keeps ccxt's own throttle.
        other = ccxt.kraken({"enableRateLimit": True})
        assert not burst_throttle(other, "kraken", "spot")
        await other.close()
    finally:
        await api.close()


async def test_a_live_engine_gives_its_exchange_the_burst_throttle(tmp_path: Path):
    async with (
        FakeBinance() as fake,
        LiveDesk(tmp_path, fake, tuning=replace(FAST, rate_limit=True)) as desk,
    ):
        assert (await desk.trade(qty="0.001", price="50000")).outcome == "filled"
        client = desk.engine.live.connection.clients["binance"]
        assert isinstance(client.api.throttler, BurstThrottle)
        assert client.api.throttler._orders  # the order went through it, counted as one
