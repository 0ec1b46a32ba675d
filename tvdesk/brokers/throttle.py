"""ccxt's request throttle, set from each exchange's documented limits: bursts allowed, the
limits kept.

ccxt's default spaces every request evenly (a leaky bucket holding one request), so the
50th order of a bar close's burst waits for the 49 before it although the exchange would
take them at once. ``BurstThrottle`` replaces it with rolling windows:

- request weight: ccxt's own cost per endpoint, at most ``60 s / rateLimit`` of it in any
  60 s. That is ccxt's own average rate (for Binance its cost units are the documented
  request weight, 6,000 per minute on spot), now allowed to come in a burst;
- orders: the exchange's documented order-count limits (``ORDER_LIMITS``), counted apart
  from the weight, since the exchange counts them apart.

A request that would break a window waits until the oldest request in it leaves; requests
leave in the order they asked. Exchanges without a row keep ccxt's default.
"""

from __future__ import annotations

import asyncio
import time
from bisect import bisect_right
from collections import deque
from dataclasses import dataclass
from typing import Any

WEIGHT_WINDOW_S = 60.0


@dataclass(frozen=True)
class OrderLimits:
    windows: tuple[tuple[int, float], ...]  # (orders, seconds): at most that many in any window
    order_paths: frozenset[str]  # the endpoints (POST) that place an order
    source: str


_BINANCE_SPOT_ORDERS = frozenset(
    {"order", "order/oco", "orderList/oco", "orderList/oto", "orderList/otoco", "sor/order"}
)

# (ccxt id, market type) -> the documented order-count limits per account.
ORDER_LIMITS: dict[tuple[str, str], OrderLimits] = {
    ("binance", "spot"): OrderLimits(
        windows=((100, 10.0), (200_000, 86_400.0)),
        order_paths=_BINANCE_SPOT_ORDERS,
        source="https://developers.binance.com/docs/binance-spot-api-docs/rest-api/limits "
        "(ORDERS: 100 per 10 s, 200,000 per day)",
    ),
    ("binance", "swap"): OrderLimits(
        windows=((300, 10.0), (1_200, 60.0)),
        order_paths=frozenset({"order", "batchOrders"}),
        source="https://developers.binance.com/docs/derivatives/usds-margined-futures/"
        "general-info (USDⓈ-M ORDERS: 300 per 10 s, 1,200 per minute)",
    ),
}
ORDER_LIMITS[("binanceusdm", "swap")] = ORDER_LIMITS[("binance", "swap")]


class OrderCost(float):
    """ccxt's cost of a request that places an order (counted in the order windows too)."""


class BurstThrottle:
    """Drop-in for ccxt's ``Throttler``: ``await throttle(cost)`` before each request."""

    def __init__(self, max_weight: float, limits: OrderLimits, loop: Any = None) -> None:
        self.loop = loop  # ccxt sets it; unused: the running loop is the one
        self.max_weight = max_weight
        self.limits = limits
        self._weights: deque[tuple[float, float]] = deque()  # (monotonic s, cost)
        self._weight = 0.0
        self._orders: deque[float] = deque()  # monotonic s of each order, newest last
        self._lock: asyncio.Lock | None = None

    async def __call__(self, cost: float | None = None) -> None:
        order = isinstance(cost, OrderCost)
        cost = float(cost if cost is not None else 1)
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:  # first come, first served
            while (wait := self.wait_s(time.monotonic(), cost, order)) > 0:
                await asyncio.sleep(wait)
            now = time.monotonic()
            self._weights.append((now, cost))
            self._weight += cost
            if order:
                self._orders.append(now)

    def wait_s(self, now: float, cost: float, order: bool) -> float:
        """How long a request of ``cost`` must wait before it keeps every window."""
        while self._weights and self._weights[0][0] <= now - WEIGHT_WINDOW_S:
            self._weight -= self._weights.popleft()[1]
        longest = max(seconds for _, seconds in self.limits.windows)
        while self._orders and self._orders[0] <= now - longest:
            self._orders.popleft()
        wait = 0.0
        if self._weight + cost > self.max_weight and self._weights:
            # Until enough of the oldest requests have left the window.
            freed, needed = 0.0, self._weight + cost - self.max_weight
            for at, spent in self._weights:
                freed += spent
                if freed >= needed:
                    wait = at + WEIGHT_WINDOW_S - now
                    break
        if order:
            orders = self._orders  # oldest first: the window's orders are its newest ones
            for count, seconds in self.limits.windows:
                # Found by bisection, not by a scan: a day's window holds 200,000 orders.
                inside = len(orders) - bisect_right(orders, now - seconds)
                if inside >= count:
                    # Until the order ``count`` places back leaves the window.
                    wait = max(wait, orders[len(orders) - count] + seconds - now)
        return wait


def burst_throttle(api: Any, exchange_id: str, market_type: str) -> bool:
    """Give ccxt exchange ``api`` a ``BurstThrottle`` when its limits are known; whether it did."""
    limits = ORDER_LIMITS.get((exchange_id, market_type))
    if limits is None or not getattr(api, "rateLimit", 0):
        return False
    ccxt_cost = api.calculate_rate_limiter_cost

    def cost(api_name: Any, method: Any, path: Any, params: Any, config: Any = None) -> float:
        spent = ccxt_cost(api_name, method, path, params, config or {})
        if str(method).upper() == "POST" and path in limits.order_paths:
            return OrderCost(spent)
        return spent

    api.calculate_rate_limiter_cost = cost
    max_weight = WEIGHT_WINDOW_S * 1000 / api.rateLimit  # ccxt's own rate, over a minute
    api.throttler = BurstThrottle(max_weight, limits, api.throttler.loop)
    return True
