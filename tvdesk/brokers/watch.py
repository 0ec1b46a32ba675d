"""Settling live orders the worker could not finish, and following open ones until they close.

At start-up every order left ``submitting`` (a crash between the journal and the exchange's
reply) or ``unknown`` (the exchange stopped answering) is looked up before the worker takes
any alert:

- found: it is recorded (fill, position) and its alert decided from it;
- absent once it can no longer appear: a pending alert runs again, because nothing of it
  reached the exchange (its row is dropped, the trail says so); a decided one keeps its
  outcome and the row becomes ``rejected``; a stop-loss or take-profit is placed again;
- the exchange cannot be asked: the row becomes ``unknown`` and a pending alert fails
  with that reason, so it is never sent blindly; the poller keeps asking.

Then, every ``poll_s``, open orders are fetched until they close, ``unknown`` ones until the
exchange says what they are, and the markets are refreshed on their schedule.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Protocol, TypeVar

from tvdesk.brokers import ledger
from tvdesk.brokers.base import Unavailable
from tvdesk.brokers.errors import ExchangeError
from tvdesk.brokers.exchange import ExchangeClient, LiveTuning, OrderState, dec
from tvdesk.brokers.ledger import LiveOrder
from tvdesk.brokers.protect import Protected, is_protective, sibling
from tvdesk.brokers.retry import CircuitBreaker
from tvdesk.brokers.sender import InDoubt, OrderSender
from tvdesk.core.clock import Clock
from tvdesk.core.events import AlertDecided, Event, OrderFilled
from tvdesk.core.ids import client_order_id
from tvdesk.store.journal import Journal
from tvdesk.support.bus import EventBus

log = logging.getLogger(__name__)
T = TypeVar("T")


class WatchedBroker(Protocol):
    """What the watch uses of the live broker, which hands itself down (watch never imports it)."""

    tuning: LiveTuning
    circuit: CircuitBreaker
    clients: dict[str, ExchangeClient]
    sender: OrderSender
    journal: Journal
    clock: Clock
    bus: EventBus
    on_realized: Callable[[Decimal, str], None] | None  # (pnl, symbol)

    async def ready(self, exchange: str) -> ExchangeClient: ...

    async def rows(self, statuses: tuple[str, ...]) -> list[sqlite3.Row]: ...

    async def order_row(self, cid: str) -> sqlite3.Row | None: ...

    async def read(self, query: Callable[[sqlite3.Connection], T]) -> T: ...

    async def protect(
        self,
        client: ExchangeClient,
        entry: LiveOrder,
        state: OrderState,
        stop_loss: Decimal | None,
        take_profit: Decimal | None,
    ) -> Protected: ...


class OrderWatch:
    def __init__(self, broker: WatchedBroker) -> None:
        self.broker = broker
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="tvdesk-live-orders")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.broker.tuning.poll_s)
            try:
                await self.poll()
            except Exception:  # one bad poll must not end the following of open orders
                log.exception("following live orders failed; trying again")

    async def poll(self) -> None:
        await self._refresh_markets()
        if not self.broker.circuit.is_open:
            await self.reconcile(startup=False)

    async def _refresh_markets(self) -> None:
        refresh = self.broker.tuning.markets_refresh_s
        for client in list(self.broker.clients.values()):
            loaded = client.markets_loaded_at
            if loaded is not None and time.monotonic() - loaded >= refresh:
                try:
                    await client.load_markets(reload=True)
                except ExchangeError as exc:
                    log.warning("%s markets not refreshed: %s", client.id, exc)

    async def reconcile(self, *, startup: bool) -> None:
        statuses = ledger.IN_DOUBT if startup else ("unknown", *ledger.OPEN)
        rows = await self.broker.rows(statuses)
        clients: dict[str, ExchangeClient | str] = {}  # a client, or why it cannot be used
        for row in rows:
            if row["client_order_id"] in self.broker.sender.in_flight:
                continue
            exchange = row["exchange"]
            if exchange not in clients:  # asked once: an exchange that is down is down
                try:
                    clients[exchange] = await self.broker.ready(exchange)
                except Unavailable as exc:
                    clients[exchange] = str(exc)
            client = clients[exchange]
            if isinstance(client, str):
                if startup:
                    await self._unresolved(ledger.order_from_row(row), client)
                continue
            await self._settle(client, row, startup)

    async def _settle(self, client: ExchangeClient, row: sqlite3.Row, startup: bool) -> None:
        order = ledger.order_from_row(row)
        in_doubt = row["status"] in ledger.IN_DOUBT
        sent_at = float(row["updated_at"])
        sender = self.broker.sender
        try:
            conclusive = sender.conclusive(client, sent_at)
            found = await sender.lookup(
                client,
                order,
                sent_at,
                [],
                wait=startup and in_doubt,
                order_id=row["exchange_order_id"],
            )
        except InDoubt as exc:
            if startup:
                await self._unresolved(order, str(exc))
            return
        if found is not None:
            filled = Decimal(row["filled"] or "0")
            if found.status != row["status"] or found.filled != filled:
                await self._found(client, order, found, in_doubt)
        elif in_doubt and (startup or conclusive):
            await self._absent(client, order)
        elif not in_doubt:
            log.warning("open order %s is no longer at %s", order.client_order_id, client.id)

    async def _found(
        self, client: ExchangeClient, order: LiveOrder, state: OrderState, in_doubt: bool
    ) -> None:
        cid, alert_id, now = order.client_order_id, order.alert_id, self.broker.clock.time()
        primary = cid == client_order_id(alert_id)
        outcome = ledger.outcome_of(state)
        words = ledger.describe(order, state, client.id)
        reason = (
            f"found at {client.id} after the order was in doubt: {words}" if in_doubt else words
        )
        final = state.status not in ledger.OPEN

        def write(conn: sqlite3.Connection) -> tuple[ledger.FillDelta | None, bool]:
            delta = ledger.record(conn, cid, state, now)
            decided = False
            if primary and in_doubt:
                decided = ledger.decide_alert(
                    conn, alert_id, outcome, reason, now, only=("pending", "failed")
                )
            elif primary and final:
                decided = ledger.decide_alert(
                    conn, alert_id, outcome, reason, now, only=("open",), step="fills"
                )
            return delta, decided

        delta, decided = await self.broker.journal.run(write)
        events: list[Event] = []
        if delta is not None and delta.realized_pnl and self.broker.on_realized is not None:
            self.broker.on_realized(delta.realized_pnl, order.symbol)
        if delta is not None:
            events.append(
                OrderFilled(
                    now,
                    alert_id,
                    cid,
                    order.symbol,
                    order.side,
                    str(delta.qty),
                    str(delta.price),
                    str(delta.fee),
                    "live",
                )
            )
        if decided:
            events.append(AlertDecided(now, alert_id, outcome, reason))
        for event in events:
            self.broker.bus.publish(event)
        if primary and state.status not in ledger.OPEN and state.filled:
            await self._ensure_protection(client, order, state)  # a partial fill too
        elif state.status == "filled" and is_protective(cid, alert_id):
            await self._cancel_sibling(client, order)

    async def _absent(self, client: ExchangeClient, order: LiveOrder) -> None:
        """The order never reached the exchange: its alert or its protection runs again."""
        cid, alert_id, exchange = order.client_order_id, order.alert_id, client.id
        primary = cid == client_order_id(alert_id)

        def write(conn: sqlite3.Connection) -> str:
            row = conn.execute("SELECT outcome FROM alerts WHERE alert_id = ?", (alert_id,))
            pending = (row.fetchone() or [None])[0] == "pending"
            if primary and not pending:  # decided (failed) already: it stays so
                ledger.mark(conn, cid, "rejected", f"never reached {exchange}")
                return "marked rejected"
            ledger.forget(conn, cid)
            what = "the alert runs again" if primary else "placing it again"
            ledger.note(
                conn, alert_id, "reconcile", True,
                f"order {cid} never reached {exchange}: {what}",
            )  # fmt: skip
            return what

        what = await self.broker.journal.run(write)
        log.info("order %s never reached %s: %s", cid, exchange, what)
        if not primary:
            entry = await self.broker.order_row(client_order_id(alert_id))
            if entry is not None and entry["status"] == "filled":
                filled = ledger.state_from_row(entry)
                await self._ensure_protection(client, ledger.order_from_row(entry), filled)

    async def _unresolved(self, order: LiveOrder, why: str) -> None:
        cid, alert_id, now = order.client_order_id, order.alert_id, self.broker.clock.time()
        reason = (
            f"tvdesk restarted with order {cid} in doubt and could not ask {order.exchange} "
            f"({why}): it may exist; tvdesk keeps looking it up and records it if it appears"
        )

        def write(conn: sqlite3.Connection) -> bool:
            ledger.mark(conn, cid, "unknown", why)
            return ledger.decide_alert(conn, alert_id, "failed", reason, now, only=("pending",))

        if await self.broker.journal.run(write):
            self.broker.bus.publish(AlertDecided(now, alert_id, "failed", reason))
        log.warning("%s", reason)

    async def _ensure_protection(
        self, client: ExchangeClient, entry: LiveOrder, state: OrderState
    ) -> None:
        """Place an alert's stop-loss / take-profit once its entry filled, if not there yet."""
        asked = await self.broker.read(lambda conn: _asked_protection(conn, entry.alert_id))
        if not asked:
            return
        protected = await self.broker.protect(client, entry, state, *asked)
        now = self.broker.clock.time()

        def write(conn: sqlite3.Connection) -> None:
            for step in protected.writes:
                step(conn)
            for step, ok, detail in protected.trail:
                ledger.note(conn, entry.alert_id, step, ok, detail)

        await self.broker.journal.run(write)
        for event in protected.events:
            self.broker.bus.publish(event)
        if protected.summary:
            log.info("alert %s at %s: %s", entry.alert_id, now, protected.summary)

    async def _cancel_sibling(self, client: ExchangeClient, filled: LiveOrder) -> None:
        """One protective order filled: the other one has nothing left to protect."""
        other = sibling(filled.client_order_id)
        row = await self.broker.order_row(other)
        if row is None or row["status"] not in ledger.OPEN or not row["exchange_order_id"]:
            return
        try:
            reply = await client.cancel(row["exchange_order_id"], row["symbol"])
        except ExchangeError as exc:
            log.warning("could not cancel %s at %s: %s", other, client.id, exc)
            return
        state = await self.broker.sender.complete(client, ledger.order_from_row(row), reply)
        now = self.broker.clock.time()
        await self.broker.journal.run(lambda c: ledger.record(c, other, state, now))


def _asked_protection(
    reader: sqlite3.Connection, alert_id: str
) -> tuple[Decimal | None, Decimal | None] | None:
    """The stop-loss and take-profit an alert asked for and that are not placed yet."""
    row = reader.execute("SELECT alert FROM alerts WHERE alert_id = ?", (alert_id,)).fetchone()
    alert: dict[str, Any] = json.loads(row[0]) if row and row[0] else {}
    stop_loss, take_profit = dec(alert.get("stop_loss")), dec(alert.get("take_profit"))
    kinds = {client_order_id(alert_id, 1): stop_loss, client_order_id(alert_id, 2): take_profit}
    placed = reader.execute(
        f"SELECT client_order_id FROM orders WHERE client_order_id IN ({','.join('?' * 2)})",
        tuple(kinds),
    ).fetchall()
    for (cid,) in placed:  # asked for once only: never a second stop for one entry
        kinds[cid] = None
    values = tuple(kinds.values())
    return (values[0], values[1]) if any(v is not None for v in values) else None
