"""The live broker: the worker's orders on a real exchange (or its testnet), through ccxt.

Same protocol as the paper broker; only where the order goes differs. This module answers
what the worker asks (can live trading start, prices, markets, holdings) and assembles the
parts that do the rest: the ``Connection`` to each exchange (clients, markets, the circuit
breaker), the ``BalanceCache``, the ``LedgerReader`` of the journal, ``OrderSender``
(sending exactly once), ``LiveExecutor`` (what an alert's execution says and writes),
``LiveCanceller`` (the alert action cancel) and ``OrderWatch`` (settling what a crash or an
outage left in doubt, following open orders).
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

from tvdesk.brokers import ledger
from tvdesk.brokers.balances import BalanceCache
from tvdesk.brokers.base import (
    Execution,
    Holdings,
    OrderRequest,
    Refusal,
    RestingOrder,
    Unavailable,
)
from tvdesk.brokers.cancel import LiveCanceller
from tvdesk.brokers.connection import Connection
from tvdesk.brokers.contracts import contract_size
from tvdesk.brokers.errors import ExchangeError, PermanentError, TemporaryError
from tvdesk.brokers.exchange import Credentials, ExchangeClient, LiveTuning, OrderState
from tvdesk.brokers.execute import LiveExecutor
from tvdesk.brokers.ledger import LiveOrder
from tvdesk.brokers.perps import PerpSetup, order_params
from tvdesk.brokers.positions import ExchangePositions
from tvdesk.brokers.precision import conform
from tvdesk.brokers.prices import PriceCache, read_price
from tvdesk.brokers.protect import Protected, is_protective, protect
from tvdesk.brokers.reads import LedgerReader, remaining
from tvdesk.brokers.reversal_resume import resume as resume_reversals
from tvdesk.brokers.sender import OrderSender
from tvdesk.brokers.venues import untested
from tvdesk.brokers.watch import OrderWatch
from tvdesk.config.keystore import Keystore
from tvdesk.config.schema import Settings
from tvdesk.core.clock import Clock
from tvdesk.core.decimals import plain
from tvdesk.core.events import ExchangeWarning
from tvdesk.core.symbols import Mapping, Market
from tvdesk.store.journal import Journal
from tvdesk.support.bus import EventBus

log = logging.getLogger(__name__)
MODE = "live"
T = TypeVar("T")


class LiveBroker:
    mode = MODE

    def __init__(
        self,
        journal: Journal,
        settings: Callable[[], Settings],
        keystore: Keystore,
        clock: Clock,
        bus: EventBus,
        tuning: LiveTuning | None = None,
    ) -> None:
        self.journal = journal
        self.settings = settings
        self.clock = clock
        self.bus = bus
        self.tuning = tuning or LiveTuning()
        self.connection = Connection(settings, keystore, clock, bus, self.tuning)
        # The connection's, shared: the order watch reads them here.
        self.clients: dict[str, ExchangeClient] = self.connection.clients
        self.circuit = self.connection.circuit
        self.balances = BalanceCache(clock, self.tuning, self.circuit)
        self.prices = PriceCache(clock, self.tuning.price_ttl_s)
        self.reader = LedgerReader(journal)
        self.sender = OrderSender(journal, clock, self.tuning, self.circuit)
        self.executor = LiveExecutor(
            self.connection, self.balances, self.reader, self.sender, journal, clock
        )
        self.canceller = LiveCanceller(
            self.connection, self.balances, self.reader, self.sender, journal, clock
        )
        self.watch = OrderWatch(self)
        self.perps = PerpSetup()  # leverage and margin mode set per market
        # The exchange's view of tvdesk's perpetual positions, read as often as balances.
        every_s = self.tuning.balance_ttl_s or self.tuning.poll_s
        self.exchange_positions = ExchangePositions(self, clock, every_s)
        # Told of P&L realised by fills found later (limits, stops), for the daily loss limit.
        self.on_realized: Callable[[Decimal, str], None] | None = None  # (pnl, symbol)
        self._started = False

    def credentials(self, exchange: str) -> Credentials | None:
        return self.connection.credentials(exchange)

    async def ready(self, exchange: str) -> ExchangeClient:
        """The exchange once its markets are loaded: an alert waits for them, bounded."""
        return await self.connection.ready(exchange)

    # -- lifecycle -----------------------------------------------------------------

    async def check(self) -> str | None:
        """Can live trading start? None when it can, else the reason in plain words."""
        exchange = self.settings().exchange.default
        if (why := untested(exchange)) is not None:  # set by hand: settings.toml, --exchange
            self.warn(exchange, why)
        reason = self.connection.missing_credentials(exchange)
        if reason:
            return reason
        client = self.connection.client(exchange)
        client.use(self.credentials(exchange))
        try:
            await client.load_markets()
            held = await client.balance()
        except ExchangeError as exc:
            if not self._started:  # nothing else uses the connection yet
                await self.stop()
            return f"the {exchange} balance check failed: {exc}"
        self.balances.put(exchange, held)
        shown = ", ".join(f"{plain(f + u)} {c}" for c, (f, u) in sorted(held.items()) if f + u)
        log.info("%s account reachable; balance: %s", exchange, shown or "empty")
        with contextlib.suppress(ExchangeError):
            if await client.withdrawals_enabled():
                self.warn(
                    exchange,
                    f"the {exchange} API key may WITHDRAW funds; tvdesk never needs that: "
                    "make a key that may only trade",
                )
        return None

    def balance_summary(self, exchange: str) -> str | None:
        """The balance the last check or order read, in words; None before any."""
        return self.balances.summary(exchange)

    def warn(self, exchange: str, message: str) -> None:
        log.warning("%s", message)
        self.bus.publish(ExchangeWarning(self.clock.time(), exchange, message))

    async def start(self) -> None:
        """Load markets, settle every order left in doubt, then follow the open ones.

        The worker awaits this before it takes any alert, so nothing new is decided
        while an earlier order's fate is unknown.
        """
        if self._started:
            return
        self._started = True
        self.connection.load(self.settings().exchange.default)
        # A reversal's two orders first: the watch would settle each on its own.
        await resume_reversals(
            self.executor.reversal,
            halted=self.settings().risk.kill_switch,
            publish=self.bus.publish,
            on_realized=self._realized,
        )
        await self.watch.reconcile(startup=True)
        self.watch.start()
        self.exchange_positions.start()

    def _realized(self, pnl: Decimal, symbol: str) -> None:
        if self.on_realized is not None:
            self.on_realized(pnl, symbol)

    async def stop(self) -> None:
        await self.exchange_positions.stop()
        await self.watch.stop()
        await self.connection.close()
        self.balances.clear()
        self.prices.clear()
        self.reader.close()
        self._started = False

    # -- what the worker asks --------------------------------------------------------

    def last_price(self, exchange: str, symbol: str) -> Decimal | None:
        return None  # live prices come from the exchange: see market_price

    async def market_price(self, mapping: Mapping) -> Decimal | None:
        return await self.reference_price(mapping)

    async def reference_price(self, mapping: Mapping) -> Decimal | None:
        """The exchange's price, read once per ``price_ttl_s`` for a burst of alerts."""

        async def read() -> Decimal | None:
            return await read_price(await self.ready(mapping.exchange), mapping)

        return await self.prices.get(mapping.exchange, mapping.symbol, read)

    async def markets(self, exchange: str) -> list[Market]:
        client = await self.ready(exchange)
        return [
            Market(
                symbol=m["symbol"],
                id=str(m.get("id") or ""),
                base=str(m.get("base") or ""),
                quote=str(m.get("quote") or ""),
                swap=bool(m.get("swap")),
                linear=m.get("linear") is not False,
            )
            for m in (client.api.markets or {}).values()
            if m.get("active") is not False and (m.get("spot") or m.get("swap"))
        ]

    async def holdings(self, mapping: Mapping) -> Holdings:
        client = await self.ready(mapping.exchange)
        held = await self.balances.fresh(mapping.exchange, client)
        zero = (Decimal(0), Decimal(0))
        # Coins a stop-loss / take-profit of tvdesk's holds are tvdesk's to sell: execute()
        # cancels those orders before it sells (spot exchanges lock the coins in them).
        guarded = sum(
            (remaining(row) for row in await self.reader.own_protection(mapping, "sell")),
            Decimal(0),
        )
        resting = sum(
            (
                remaining(row)
                for row in await self.reader.rows(ledger.OPEN)
                if (row["exchange"], row["symbol"], row["side"])
                == (mapping.exchange, mapping.symbol, "sell")
                and not is_protective(row["client_order_id"], row["alert_id"])
            ),
            Decimal(0),
        )
        own, since = await self.reader.read(lambda conn: _own_position(conn, mapping))
        return Holdings(
            quote_free=held.get(mapping.quote, zero)[0],
            base_free=held.get(mapping.base, zero)[0] + guarded,
            # Never more than the exchange holds of it (brokers/positions.py, warned).
            position_qty=self.exchange_positions.cap(mapping.exchange, mapping.symbol, own, since),
            base_reserved=resting,
        )

    def cached_balances(self) -> list[dict[str, Any]]:
        """The balances the exchange last reported (read at the live check and per alert)."""
        return self.balances.listed()

    async def conform(
        self, mapping: Mapping, qty: Decimal, price: Decimal | None
    ) -> tuple[Decimal, Decimal | None, str]:
        client = await self.ready(mapping.exchange)
        try:
            market = await client.known_market(mapping.symbol)
        except PermanentError as exc:
            raise Refusal(str(exc)) from None
        except TemporaryError as exc:
            raise Unavailable(str(exc)) from None
        # A limit price is rounded in ``execute``, which knows the order type.
        amount, _, note = conform(client, market, "buy", "market", qty, price)
        return amount, price, note

    def discard(self, exchange: str, alert_id: str) -> None:
        """The worker could not record ``alert_id``'s execution: settle it again first."""
        self.executor.discard(exchange, alert_id)

    async def recover(self, alert_id: str) -> Execution | None:
        return await self.executor.recover(alert_id)

    async def contract_size(self, mapping: Mapping) -> Decimal | None:
        """Coins per contract on a perpetual (None on spot): an alert sized in contracts."""
        client = await self.ready(mapping.exchange)
        return contract_size(client.market(mapping.symbol))

    async def execute(self, request: OrderRequest, now: float) -> Execution:
        client = await self.ready(request.mapping.exchange)
        client.position_mode = self.settings().exchange.position_mode
        setup = await self.perps.prepare(client, request)  # Refusal: the exchange's words
        symbol, side = request.mapping.symbol, request.side
        # A reversal's closing order is reduce-only; its opening order, like any, is not.
        closing = request.reduce_only or bool(request.closes)
        params = order_params(client, symbol, side, reduce_only=closing, leverage=request.leverage)
        opening = None
        if request.closes:
            opening = order_params(
                client, symbol, side, reduce_only=False, leverage=request.leverage
            )
        execution = await self.executor.execute(request, now, params, opening)
        execution.trail[:0] = setup
        self.exchange_positions.soon()  # the exchange's view of it, read in the background
        return execution

    async def resting(self, mapping: Mapping, now: float) -> list[RestingOrder]:
        return await self.canceller.resting(mapping)

    async def cancel_resting(self, alert_id: str, mapping: Mapping, now: float) -> Execution:
        return await self.canceller.cancel(alert_id, mapping)

    async def protect(
        self,
        client: ExchangeClient,
        entry: LiveOrder,
        state: OrderState,
        stop_loss: Decimal | None,
        take_profit: Decimal | None,
    ) -> Protected:
        """Place the stop-loss and take-profit an alert asked for, once its entry filled."""
        return await protect(self.sender, client, entry, state, stop_loss, take_profit)

    # -- the journal, read -------------------------------------------------------------

    async def read(self, query: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``query`` on the broker's read-only journal connection, off the loop."""
        return await self.reader.read(query)

    async def order_row(self, cid: str) -> sqlite3.Row | None:
        return await self.reader.order_row(cid)

    async def rows(self, statuses: tuple[str, ...]) -> list[sqlite3.Row]:
        """Live orders in these statuses, oldest first."""
        return await self.reader.rows(statuses)

    # -- the circuit breaker, and status --------------------------------------------------

    def resume(self) -> None:
        """Close the circuit breaker now (tvdesk resume)."""
        self.circuit.reset("resumed by the trader")

    def status(self) -> dict[str, Any]:
        return self.connection.status()


def _own_position(conn: sqlite3.Connection, mapping: Mapping) -> tuple[Decimal, float]:
    """tvdesk's position on the market, and when its last fill changed it."""
    row = conn.execute(
        "SELECT qty, updated_at FROM positions WHERE mode = ? AND exchange = ? AND symbol = ?",
        (MODE, mapping.exchange, mapping.symbol),
    ).fetchone()
    return (Decimal(row[0]), float(row[1])) if row else (Decimal(0), 0.0)
