"""The price cache: one read of the exchange per market while the price is young."""

from __future__ import annotations

from decimal import Decimal

from tests.kit.clock import FakeClock
from tvdesk.brokers.prices import PriceCache


async def test_a_price_is_read_again_only_once_older_than_its_ttl():
    clock = FakeClock()
    cache = PriceCache(clock, ttl_s=3.0)
    reads: list[str] = []
    quotes = iter([Decimal("50000"), Decimal("50100"), Decimal("3000")])

    async def read() -> Decimal | None:
        reads.append("read")
        return next(quotes)

    assert await cache.get("binance", "BTC/USDT", read) == Decimal("50000")
    clock.advance(3.0)
    assert await cache.get("binance", "BTC/USDT", read) == Decimal("50000")
    assert len(reads) == 1
    clock.advance(0.5)
    assert await cache.get("binance", "BTC/USDT", read) == Decimal("50100")
    assert await cache.get("binance", "ETH/USDT", read) == Decimal("3000")  # per market
    assert len(reads) == 3


async def test_no_price_is_not_kept():
    cache = PriceCache(FakeClock(), ttl_s=60.0)
    reads: list[str] = []

    async def read() -> Decimal | None:
        reads.append("read")
        return None

    assert await cache.get("binance", "BTC/USDT", read) is None
    assert await cache.get("binance", "BTC/USDT", read) is None
    assert len(reads) == 2
