"""An in-process engine in LIVE mode against the loopback fake Binance."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.kit.fake_binance import API_KEY, API_SECRET, FakeBinance
from tests.kit.paper import PaperDesk, paper_settings
from tvdesk.brokers.exchange import LiveTuning
from tvdesk.config.schema import Settings, SymbolRule

# Timings small enough for tests, yet far longer than a loopback round trip on a busy machine.
FAST = LiveTuning(
    request_timeout_s=1.0,
    recv_window_ms=1000,
    settle_margin_s=0.1,
    rate_limit=False,
    retries=3,
    backoff_base_s=0.01,
    backoff_max_s=0.05,
    circuit_threshold=20,
    circuit_cooldown_s=60.0,
    markets_wait_s=3.0,
    markets_refresh_s=3600.0,
    poll_s=0.05,
    balance_ttl_s=0.0,
)

SYMBOL_MAP = [
    SymbolRule("BTCUSDT", "binance", "BTC/USDT"),
    SymbolRule("ETHUSDT", "binance", "ETH/USDT"),
    SymbolRule("XRPUSDT", "binance", "XRP/USDT"),
]


def live_settings(url: str, **risk: Any) -> Settings:
    settings = paper_settings(**{"max_orders_per_minute": 0, "max_notional": 0, **risk})
    exchange = replace(settings.exchange, default="binance", url=url)
    return replace(settings, mode="live", exchange=exchange, symbols=list(SYMBOL_MAP))


class LiveDesk(PaperDesk):
    """A running engine in live mode whose default exchange is ``fake``."""

    def __init__(
        self,
        data_dir: Path,
        fake: FakeBinance,
        settings: Settings | None = None,
        *,
        tuning: LiveTuning = FAST,
        api_key: str | None = API_KEY,
        secret: str | None = API_SECRET,
    ) -> None:
        super().__init__(data_dir, settings or live_settings(fake.url))
        self.fake = fake
        if api_key:
            self.keystore.set("binance_api_key", api_key)
        if secret:
            self.keystore.set("binance_api_secret", secret)
        self.engine.live_tuning = tuning

    async def position(self, symbol: str = "BTC/USDT") -> Any:
        for p in await self.engine.queries.positions("live"):
            if p["symbol"] == symbol:
                return p
        return None

    def orders(self, alert_id: str) -> list[dict[str, Any]]:
        return self.export()[alert_id]["orders"]


def dec(value: Any) -> Decimal:
    return Decimal(str(value))


async def until(desk: PaperDesk, check: Any, timeout: float = 10.0) -> None:
    """Wait until ``check()`` is true, re-checking whenever the engine publishes an event."""
    async with asyncio.timeout(timeout):
        while not check():
            desk._changed.clear()
            # Some conditions (the fake's state) change without an event: look again soon.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(desk._changed.wait(), 0.05)
