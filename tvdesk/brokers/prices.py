"""The exchange's price of a market, read at most once per ``price_ttl_s``.

Every order is valued at the market (``engine/pricing.py``); a strategy that fires fifty
alerts at one bar close would otherwise ask the exchange fifty times, into its rate limit.
A price a few seconds old is close enough to check an alert's price and value an order.
Paper trading with ``[paper] price_source = "market"`` reads the same public ticker with a
keyless client (``PublicPrices``): it never signs anything and never places an order.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal

from tvdesk.brokers.base import Refusal, Unavailable
from tvdesk.brokers.contracts import contract_size
from tvdesk.brokers.errors import ExchangeError, PermanentError
from tvdesk.brokers.exchange import ExchangeClient, LiveTuning
from tvdesk.config.schema import ExchangeSettings
from tvdesk.core.clock import Clock
from tvdesk.core.symbols import Mapping


class PriceCache:
    def __init__(self, clock: Clock, ttl_s: float) -> None:
        self.clock = clock
        self.ttl_s = ttl_s
        self._prices: dict[tuple[str, str], tuple[float, Decimal]] = {}

    async def get(
        self, exchange: str, symbol: str, read: Callable[[], Awaitable[Decimal | None]]
    ) -> Decimal | None:
        """The cached price while younger than the TTL, else ``read()`` (None is not kept)."""
        key = (exchange, symbol)
        cached = self._prices.get(key)
        now = self.clock.monotonic()
        if cached is not None and now - cached[0] <= self.ttl_s:
            return cached[1]
        price = await read()
        if price is not None and price > 0:
            self._prices[key] = (self.clock.monotonic(), price)
            return price
        return None

    def clear(self) -> None:
        self._prices.clear()


async def read_price(client: ExchangeClient, mapping: Mapping) -> Decimal | None:
    """The market's last price from the exchange's ticker, in tvdesk's errors."""
    try:
        await client.known_market(mapping.symbol)
        return await client.last_price(mapping.symbol)
    except PermanentError as exc:
        raise Refusal(f"no price for {mapping.symbol} from {mapping.exchange}: {exc}") from None
    except ExchangeError as exc:
        raise Unavailable(f"no price for {mapping.symbol} from {mapping.exchange}: {exc}") from None


class PublicPrices:
    """Keyless tickers for paper trading: one client per exchange (and address) in use."""

    def __init__(
        self,
        exchange: Callable[[], ExchangeSettings],
        clock: Clock,
        tuning: LiveTuning | None = None,
    ) -> None:
        self.exchange = exchange
        self.tuning = tuning or LiveTuning()
        self.cache = PriceCache(clock, self.tuning.price_ttl_s)
        self._clients: dict[tuple[str, bool, str, str], ExchangeClient] = {}

    def _client(self, mapping: Mapping) -> ExchangeClient:
        s = self.exchange()
        key = (mapping.exchange, s.sandbox, s.url, s.market_type)
        client = self._clients.get(key)
        if client is None:
            client = self._clients[key] = ExchangeClient(
                mapping.exchange,
                None,
                sandbox=s.sandbox,
                url=s.url,
                market_type=s.market_type,
                tuning=self.tuning,
            )
        return client

    async def price(self, mapping: Mapping) -> Decimal | None:
        client = self._client(mapping)
        return await self.cache.get(
            mapping.exchange, mapping.symbol, lambda: read_price(client, mapping)
        )

    async def contract_size(self, mapping: Mapping) -> Decimal | None:
        """Coins per contract of a perpetual, from the exchange's public markets."""
        client = self._client(mapping)
        try:
            return contract_size(await client.known_market(mapping.symbol))
        except PermanentError as exc:
            raise Refusal(f"{mapping.exchange} {mapping.symbol}: {exc}") from None
        except ExchangeError as exc:
            raise Unavailable(f"{mapping.exchange} {mapping.symbol}: {exc}") from None

    async def close(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.close()
        self.cache.clear()
