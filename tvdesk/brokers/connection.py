"""The live broker's line to its exchanges: keys, one ccxt client each, markets, the gate.

Credentials come from the keystore. One ccxt exchange per exchange id, created on first
use (ccxt is imported then, never at start-up in paper mode); its markets load in the
background and are tried again with backoff. ``ready`` is the gate an alert passes before
anything is sent: the circuit breaker closed, the keys present, the markets loaded (waited
for, bounded), ccxt's throttle set from the exchange's documented limits (``throttle``).
The breaker lives here too, and with the connection it makes ``status``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from tvdesk.brokers.base import Unavailable
from tvdesk.brokers.errors import ExchangeError, TemporaryError
from tvdesk.brokers.exchange import Credentials, ExchangeClient, LiveTuning
from tvdesk.brokers.retry import CircuitBreaker
from tvdesk.brokers.throttle import burst_throttle
from tvdesk.config.keystore import Keystore, KeystoreError
from tvdesk.config.schema import Settings
from tvdesk.core.clock import Clock
from tvdesk.core.events import CircuitChanged
from tvdesk.support.backoff import backoff
from tvdesk.support.bus import EventBus

log = logging.getLogger(__name__)


class Connection:
    def __init__(
        self,
        settings: Callable[[], Settings],
        keystore: Keystore,
        clock: Clock,
        bus: EventBus,
        tuning: LiveTuning,
    ) -> None:
        self.settings = settings
        self.keystore = keystore
        self.clock = clock
        self.bus = bus
        self.tuning = tuning
        self.clients: dict[str, ExchangeClient] = {}
        self.circuit = CircuitBreaker(
            self.tuning.circuit_threshold,
            self.tuning.circuit_cooldown_s,
            clock.monotonic,
            self._circuit_changed,
        )
        self.error: str | None = None
        self._loading: dict[str, asyncio.Task[None]] = {}
        self._throttled: dict[str, Any] = {}  # exchange -> the ccxt object given its throttle
        self._tasks: set[asyncio.Task[None]] = set()

    # -- credentials and clients ------------------------------------------------

    def credentials(self, exchange: str) -> Credentials | None:
        key = self.keystore.get(f"{exchange}_api_key")
        secret = self.keystore.get(f"{exchange}_api_secret")
        if not key or not secret:
            return None
        return Credentials(key, secret, self.keystore.get(f"{exchange}_api_password"))

    def missing_credentials(self, exchange: str) -> str | None:
        try:
            if self.credentials(exchange) is not None:
                return None
        except KeystoreError as exc:
            return str(exc)
        env = f"TVDESK_{exchange.upper()}_API_KEY and TVDESK_{exchange.upper()}_API_SECRET"
        return (
            f"live trading on {exchange} needs its API key and secret: add them in Secrets "
            f"(a key that may trade, never withdraw) or set {env}"
        )

    def client(self, exchange: str) -> ExchangeClient:
        client = self.clients.get(exchange)
        if client is None:
            ex = self.settings().exchange
            try:
                credentials = self.credentials(exchange)
            except KeystoreError:  # said by ``ready``; markets load without credentials
                credentials = None
            client = self.clients[exchange] = ExchangeClient(
                exchange,
                credentials,
                sandbox=ex.sandbox,
                url=ex.url if exchange == ex.default else "",
                market_type=ex.market_type,
                tuning=self.tuning,
            )
        return client

    async def close(self) -> None:
        """Stop loading markets and close every client."""
        loading = [*self._loading.values(), *self._tasks]
        for task in loading:
            task.cancel()
        for task in loading:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._loading.clear()
        for client in self.clients.values():
            await client.close()
        self.clients.clear()
        self._throttled.clear()

    # -- markets ---------------------------------------------------------------------

    def reload(self, client: ExchangeClient) -> None:
        """Read the markets again in the background (a delisting, perhaps)."""

        async def reload() -> None:
            with contextlib.suppress(ExchangeError):
                await client.load_markets(reload=True)

        task = asyncio.create_task(reload(), name=f"reload-markets-{client.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def load(self, exchange: str) -> asyncio.Task[None]:
        """Load the exchange's markets in the background, once; the task doing it."""
        task = self._loading.get(exchange)
        if task is None:
            task = asyncio.create_task(self._load_markets(exchange), name=f"markets-{exchange}")
            self._loading[exchange] = task
        return task

    async def _load_markets(self, exchange: str) -> None:
        client = self.client(exchange)
        for delay in backoff(self.tuning.backoff_base_s, self.tuning.backoff_max_s):
            try:
                count = await client.load_markets()
            except ExchangeError as exc:
                self.error = f"{exchange} markets not loaded: {exc}"
                log.warning("%s; trying again", self.error)
                await asyncio.sleep(delay if isinstance(exc, TemporaryError) else 60.0)
            else:
                self.error = None
                log.info("%s: %d markets loaded", exchange, count)
                return

    async def ready(self, exchange: str) -> ExchangeClient:
        """The exchange once its markets are loaded: an alert waits for them, bounded."""
        if self.circuit.is_open:
            raise Unavailable(
                f"live execution is paused: {self.circuit.reason} (resumes in "
                f"{self.circuit.resumes_in:.0f} s, or at once with tvdesk resume)"
            )
        reason = self.missing_credentials(exchange)
        if reason:
            raise Unavailable(reason)
        client = self.client(exchange)
        client.use(self.credentials(exchange))  # keys saved in Secrets since it was made
        if not client.markets_loaded:
            wait = self.tuning.markets_wait_s
            try:
                await asyncio.wait_for(asyncio.shield(self.load(exchange)), wait)
            except TimeoutError:
                raise Unavailable(
                    f"{exchange} markets not loaded after {wait:g} s "
                    f"({self.error or 'no answer'}): nothing was sent"
                ) from None
        self._throttle(client)
        return client

    def _throttle(self, client: ExchangeClient) -> None:
        """A burst of orders goes at once, within the exchange's documented limits."""
        api = client.api
        if api is None or self._throttled.get(client.id) is api:
            return
        self._throttled[client.id] = api
        if api.enableRateLimit and burst_throttle(api, client.id, client.market_type):
            log.info("%s: orders throttled to its documented limits, bursts allowed", client.id)

    # -- the circuit breaker, and status --------------------------------------------------

    def _circuit_changed(self, is_open: bool, reason: str) -> None:
        exchange = self.settings().exchange.default
        log.warning("%s: %s", exchange, reason)
        self.bus.publish(CircuitChanged(self.clock.time(), exchange, is_open, reason))
        if is_open:
            with contextlib.suppress(RuntimeError):  # no running loop: checked lazily instead
                loop = asyncio.get_running_loop()
                loop.call_later(self.tuning.circuit_cooldown_s + 0.01, lambda: self.circuit.is_open)

    def status(self) -> dict[str, Any]:
        exchange = self.settings().exchange.default
        client = self.clients.get(exchange)
        loaded = client is not None and client.markets_loaded
        if client is None or client.api is None:
            state = "off"
        else:
            state = "ready" if loaded else "error" if self.error else "connecting"
        return {
            "state": state,
            "markets": len(client.api.markets or {}) if loaded and client else 0,
            "error": self.error,
            "circuit": {
                "state": "open" if self.circuit.is_open else "closed",
                "failures": self.circuit.failures,
                "reason": self.circuit.reason or None,
                "resumes_in_s": round(self.circuit.resumes_in, 1),
            },
        }
