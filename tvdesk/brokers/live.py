"""The live broker: the worker's orders on a real exchange (or its testnet), through ccxt.

Same protocol as the paper broker; only where the order goes differs. One ccxt exchange
per exchange id, created on first use (ccxt is imported then, never at start-up in paper
mode). Sending exactly once is ``OrderSender``'s job, settling what a crash or an outage
left in doubt and following open orders is ``OrderWatch``'s; this module decides what an
alert's execution says and writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, TypeVar

from tvdesk.brokers import ledger
from tvdesk.brokers.base import Execution, Holdings, OrderRequest, Refusal, Unavailable
from tvdesk.brokers.errors import ExchangeError, PermanentError, SymbolError, TemporaryError
from tvdesk.brokers.exchange import Credentials, ExchangeClient, LiveTuning, OrderState
from tvdesk.brokers.ledger import LiveOrder
from tvdesk.brokers.paper import split_symbol
from tvdesk.brokers.precision import conform
from tvdesk.brokers.protect import Protected, is_protective, protect
from tvdesk.brokers.retry import CircuitBreaker
from tvdesk.brokers.sender import InDoubt, OrderSender, Outcome
from tvdesk.brokers.watch import OrderWatch
from tvdesk.config.keystore import Keystore, KeystoreError
from tvdesk.config.settings import Settings
from tvdesk.core.clock import Clock
from tvdesk.core.decimals import plain
from tvdesk.core.events import (
    CircuitChanged,
    ExchangeWarning,
)
from tvdesk.core.ids import client_order_id
from tvdesk.core.symbols import Mapping, Market
from tvdesk.store.journal import Journal, connect
from tvdesk.support.backoff import backoff
from tvdesk.support.bus import EventBus

log = logging.getLogger(__name__)
MODE = "live"
T = TypeVar("T")
Write = Callable[[sqlite3.Connection], Any]


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
        self.keystore = keystore
        self.clock = clock
        self.bus = bus
        self.tuning = tuning or LiveTuning()
        self.clients: dict[str, ExchangeClient] = {}
        self.circuit = CircuitBreaker(
            self.tuning.circuit_threshold,
            self.tuning.circuit_cooldown_s,
            clock.monotonic,
            self._circuit_changed,
        )
        self.sender = OrderSender(journal, clock, self.tuning, self.circuit)
        self.watch = OrderWatch(self)
        self.error: str | None = None
        self._loading: dict[str, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._balances: dict[str, tuple[float, dict[str, tuple[Decimal, Decimal]]]] = {}
        self._last_alert: str | None = None
        self._unrecorded: set[str] = set()
        self._reader: sqlite3.Connection | None = None
        # Told of P&L realised by fills found later (limits, stops), for the daily loss limit.
        self.on_realized: Callable[[Decimal, str], None] | None = None  # (pnl, symbol)
        self._read_lock = threading.Lock()
        self._started = False

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

    # -- lifecycle -----------------------------------------------------------------

    async def check(self) -> str | None:
        """Can live trading start? None when it can, else the reason in plain words."""
        exchange = self.settings().exchange.default
        reason = self.missing_credentials(exchange)
        if reason:
            return reason
        client = self.client(exchange)
        client.use(self.credentials(exchange))
        try:
            await client.load_markets()
            held = await client.balance()
        except ExchangeError as exc:
            if not self._started:  # nothing else uses the connection yet
                await self.stop()
            return f"the {exchange} balance check failed: {exc}"
        self._balances[exchange] = (self.clock.monotonic(), held)
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
        cached = self._balances.get(exchange)
        if cached is None:
            return None
        held = cached[1]
        shown = ", ".join(f"{plain(f + u)} {c}" for c, (f, u) in sorted(held.items()) if f + u)
        return shown or "empty"

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
        self._load(self.settings().exchange.default)
        await self.watch.reconcile(startup=True)
        self.watch.start()

    async def stop(self) -> None:
        await self.watch.stop()
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
        self._balances.clear()
        with self._read_lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None
        self._started = False

    def _reload(self, client: ExchangeClient) -> None:
        async def reload() -> None:
            with contextlib.suppress(ExchangeError):
                await client.load_markets(reload=True)

        task = asyncio.create_task(reload(), name=f"reload-markets-{client.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _load(self, exchange: str) -> asyncio.Task[None]:
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
                await asyncio.wait_for(asyncio.shield(self._load(exchange)), wait)
            except TimeoutError:
                raise Unavailable(
                    f"{exchange} markets not loaded after {wait:g} s "
                    f"({self.error or 'no answer'}): nothing was sent"
                ) from None
        return client

    # -- what the worker asks --------------------------------------------------------

    def last_price(self, exchange: str, symbol: str) -> Decimal | None:
        return None  # live prices come from the exchange: see market_price

    async def market_price(self, mapping: Mapping) -> Decimal | None:
        client = await self.ready(mapping.exchange)
        try:
            await client.known_market(mapping.symbol)
            return await client.last_price(mapping.symbol)
        except PermanentError as exc:
            raise Refusal(str(exc)) from None
        except TemporaryError as exc:
            why = f"no price for {mapping.symbol} from {mapping.exchange}: {exc}"
            raise Unavailable(why) from None

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
        fetched = self._balances.get(mapping.exchange)
        if fetched is None or self.clock.monotonic() - fetched[0] > self.tuning.balance_ttl_s:
            try:
                fetched = (self.clock.monotonic(), await client.balance())
            except ExchangeError as exc:
                if isinstance(exc, TemporaryError):
                    self.circuit.failure(str(exc))
                raise Unavailable(f"could not read the {mapping.exchange} balance: {exc}") from None
            self._balances[mapping.exchange] = fetched
        zero = (Decimal(0), Decimal(0))
        # Coins a stop-loss / take-profit of tvdesk's holds are tvdesk's to sell: execute()
        # cancels those orders before it sells (spot exchanges lock the coins in them).
        guarded = sum(
            (_remaining(row) for row in await self._own_protection(mapping, "sell")), Decimal(0)
        )
        resting = sum(
            (
                _remaining(row)
                for row in await self.rows(ledger.OPEN)
                if (row["exchange"], row["symbol"], row["side"])
                == (mapping.exchange, mapping.symbol, "sell")
                and not is_protective(row["client_order_id"], row["alert_id"])
            ),
            Decimal(0),
        )
        return Holdings(
            quote_free=fetched[1].get(mapping.quote, zero)[0],
            base_free=fetched[1].get(mapping.base, zero)[0] + guarded,
            position_qty=await self._position(mapping),
            base_reserved=resting,
        )

    def cached_balances(self) -> list[dict[str, Any]]:
        """The balances the exchange last reported (read at the live check and per alert)."""
        return [
            {"exchange": exchange, "currency": cur, "free": free, "used": used}
            for exchange, (_, held) in sorted(self._balances.items())
            for cur, (free, used) in sorted(held.items())
            if free or used
        ]

    async def _own_protection(self, mapping: Mapping, side: str) -> list[sqlite3.Row]:
        """tvdesk's open stop-loss / take-profit orders on this market that ``side`` trades."""
        return [
            row
            for row in await self.rows(ledger.OPEN)
            if (row["exchange"], row["symbol"], row["side"])
            == (mapping.exchange, mapping.symbol, side)
            and is_protective(row["client_order_id"], row["alert_id"])
        ]

    async def _lift_protection(
        self, client: ExchangeClient, request: OrderRequest
    ) -> tuple[list[tuple[str, bool, str]], str | None]:
        """Cancel the protective orders an exit would trade against; (trail, refusal).

        A sell that closes (part of) a position replaces its stop-loss / take-profit: on
        spot they hold the very coins it sells, and left open they would act on whatever
        position comes next. Each cancellation is journaled before the exit is sent.
        """
        trail: list[tuple[str, bool, str]] = []
        for row in await self._own_protection(request.mapping, request.side):
            cid, words = row["client_order_id"], str(row["order_type"]).replace("_", "-")
            what = f"{words} {cid} ({row['side']} {plain(_remaining(row))} @ {row['price']})"
            try:
                if not row["exchange_order_id"]:
                    raise PermanentError(f"{client.id} never said which order it is")
                reply = await client.cancel(row["exchange_order_id"], row["symbol"])
                state = await self.sender.complete(client, ledger.order_from_row(row), reply)
            except ExchangeError as exc:
                return trail, f"could not cancel {what} at {client.id}: {exc}; nothing sent"
            now = self.clock.time()
            await self.journal.run(lambda c, cid=cid, s=state, t=now: ledger.record(c, cid, s, t))
            self._balances.pop(client.id, None)  # the coins it held are free again
            if state.status == "filled":  # it filled before the cancel reached it
                return trail, f"{what} filled at {client.id} just now; nothing sent"
            trail.append(("protect", True, f"cancelled {what} to free its coins for this exit"))
        return trail, None

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

    def discard(self, exchange: str) -> None:
        """The worker could not record the last execution: settle that alert again first."""
        self._balances.pop(exchange, None)
        if self._last_alert is not None:
            self._unrecorded.add(self._last_alert)

    async def recover(self, alert_id: str) -> Execution | None:
        if alert_id not in self._unrecorded:
            return None
        self._unrecorded.discard(alert_id)
        rows = [r for r in await self.rows(ledger.IN_DOUBT) if r["alert_id"] == alert_id]
        primary = client_order_id(alert_id)
        row = next((r for r in rows if r["client_order_id"] == primary), None)
        if row is None:
            return None
        order = ledger.order_from_row(row)
        client = await self.ready(order.exchange)
        settled = self.sender.settle(client, order, float(row["updated_at"]))
        execution, _ = await self._execution(client, order, settled)
        # Its stop-loss / take-profit, if any were sent, are the poller's to settle.
        others = [r["client_order_id"] for r in rows if r["client_order_id"] != primary]
        why = "its outcome could not be recorded; tvdesk looks it up"
        execution.write = _chain(
            execution.write, [ledger.marker(cid, "unknown", why) for cid in others]
        )
        return execution

    async def execute(self, request: OrderRequest, now: float) -> Execution:
        mapping = request.mapping
        client = await self.ready(mapping.exchange)
        market = client.market(mapping.symbol)
        if market is None:
            raise Refusal(f"{mapping.exchange} has no market {mapping.symbol}")
        qty, price, note = conform(
            client, market, request.side, request.order_type, request.qty, request.price
        )
        order = LiveOrder(
            request.client_order_id,
            request.alert_id,
            mapping.exchange,
            mapping.symbol,
            request.side,
            request.order_type,
            qty,
            price,
        )
        self._last_alert = request.alert_id
        lifted, refusal = await self._lift_protection(client, request)
        if refusal is not None:
            return Execution("failed", refusal, trail=[*lifted, ("protect", False, refusal)])
        execution, state = await self._execution(client, order, self.sender.place(client, order))
        if request.order_type == "limit":
            execution.trail.insert(0, ("precision", True, f"limit order: {note}"))
        execution.trail[:0] = lifted
        if lifted and state is not None and state.filled:
            left = await self._position(mapping) - state.filled
            if left > 0:
                note = f"the remaining {plain(left)} {mapping.base} has no stop-loss or take-profit"
                execution.trail.append(("protect", False, note))
                execution.reason += f"; {note}"
        if state is not None and _closed_with_a_fill(state):
            protected = await self.protect(
                client, order, state, request.stop_loss, request.take_profit
            )
            execution.trail.extend(protected.trail)
            execution.events.extend(protected.events)
            if protected.summary:
                execution.reason += f"; {protected.summary}"
            execution.write = _chain(execution.write, protected.writes)
        return execution

    # -- executions --------------------------------------------------------------------

    async def _execution(
        self, client: ExchangeClient, order: LiveOrder, outcome: Awaitable[Outcome]
    ) -> tuple[Execution, OrderState | None]:
        """What the worker records for one order: its state, fill, position, events."""
        cid = order.client_order_id
        execution = Execution("failed", "")
        try:
            state, notes = await outcome
        except InDoubt as exc:
            execution.reason = (
                f"{exc}: order {cid} may or may not exist at {client.id}; tvdesk keeps "
                "looking it up and records it if it appears (it is never sent again)"
            )
            execution.write = ledger.marker(cid, "unknown", execution.reason)
            return execution, None
        except PermanentError as exc:
            execution.reason = str(exc)
            execution.write = ledger.marker(cid, "rejected", execution.reason)
            if isinstance(exc, SymbolError):  # a delisting, perhaps: read the markets again
                self._reload(client)
            return execution, None
        now = self.clock.time()
        execution.trail.extend(("exchange", not n.startswith("attempt"), n) for n in notes)
        execution.outcome = ledger.outcome_of(state)
        execution.reason = ledger.describe(order, state, client.id)
        execution.placed.append(order.symbol)
        execution.events.extend(ledger.order_events(order, state, now))
        self._after_fill(client.id, order, state)

        def write(conn: sqlite3.Connection) -> list[tuple[str, str, str]]:
            delta = ledger.record(conn, cid, state, now)
            if delta is not None:
                execution.realized_pnl += delta.realized_pnl
            return []

        execution.write = write
        return execution, state

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

    def _after_fill(self, exchange: str, order: LiveOrder, state: OrderState) -> None:
        """Keep the cached balance close to the truth between reads of it."""
        cached = self._balances.get(exchange)
        if cached is None:
            return
        if state.status != "filled" or state.average is None:
            self._balances.pop(exchange, None)  # funds on hold: read them next time
            return
        base, quote = split_symbol(order.symbol)
        held = dict(cached[1])
        zero = (Decimal(0), Decimal(0))
        sign = 1 if order.side == "buy" else -1
        fee = state.fee or Decimal(0)
        base_free, base_used = held.get(base, zero)
        quote_free, quote_used = held.get(quote, zero)
        base_free += sign * state.filled - (fee if state.fee_currency == base else 0)
        quote_free -= sign * state.filled * state.average + (
            fee if state.fee_currency == quote else 0
        )
        held[base], held[quote] = (base_free, base_used), (quote_free, quote_used)
        self._balances[exchange] = (cached[0], held)

    # -- the journal, read -------------------------------------------------------------

    async def read(self, query: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``query`` on the broker's read-only journal connection, off the loop."""

        def run() -> T:
            with self._read_lock:
                if self._reader is None:
                    self._reader = connect(self.journal.path, readonly=True)
                return query(self._reader)

        return await asyncio.to_thread(run)

    async def _position(self, mapping: Mapping) -> Decimal:
        row = await self.read(
            lambda conn: conn.execute(
                "SELECT qty FROM positions WHERE mode = ? AND exchange = ? AND symbol = ?",
                (MODE, mapping.exchange, mapping.symbol),
            ).fetchone()
        )
        return Decimal(row[0]) if row else Decimal(0)

    async def order_row(self, cid: str) -> sqlite3.Row | None:
        return await self.read(
            lambda conn: conn.execute(
                "SELECT * FROM orders WHERE client_order_id = ?", (cid,)
            ).fetchone()
        )

    async def rows(self, statuses: tuple[str, ...]) -> list[sqlite3.Row]:
        """Live orders in these statuses, oldest first."""
        marks = ",".join("?" * len(statuses))
        sql = f"SELECT * FROM orders WHERE mode = ? AND status IN ({marks}) ORDER BY created_at"
        return await self.read(lambda conn: conn.execute(sql, (MODE, *statuses)).fetchall())

    # -- the circuit breaker, and status --------------------------------------------------

    def _circuit_changed(self, is_open: bool, reason: str) -> None:
        exchange = self.settings().exchange.default
        log.warning("%s: %s", exchange, reason)
        self.bus.publish(CircuitChanged(self.clock.time(), exchange, is_open, reason))
        if is_open:
            with contextlib.suppress(RuntimeError):  # no running loop: checked lazily instead
                loop = asyncio.get_running_loop()
                loop.call_later(self.tuning.circuit_cooldown_s + 0.01, lambda: self.circuit.is_open)

    def resume(self) -> None:
        """Close the circuit breaker now (tvdesk resume)."""
        self.circuit.reset("resumed by the trader")

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


def _chain(first: Write | None, more: list[Write]) -> Callable[[sqlite3.Connection], list]:
    def write(conn: sqlite3.Connection) -> list[tuple[str, str, str]]:
        settled = first(conn) if first is not None else []
        for step in more:
            step(conn)
        return settled

    return write


def _remaining(row: sqlite3.Row) -> Decimal:
    """What an open order has yet to fill."""
    return max(Decimal(row["qty"]) - Decimal(row["filled"] or 0), Decimal(0))


def _closed_with_a_fill(state: OrderState) -> bool:
    """The entry is done and bought something: what it bought gets its protection.

    Also when it filled only partly and then ended (cancelled, expired): the part bought
    is a position like any other, and a stop-loss asked for is never dropped in silence.
    """
    return state.status not in ledger.OPEN and bool(state.filled)
