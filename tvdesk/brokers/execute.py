"""Executing an alert's order live, and what that execution says and writes.

An order is conformed to its market, the stop-loss / take-profit an exit trades against is
lifted first, the order is sent exactly once (``OrderSender``), and its outcome becomes an
``Execution``: state, fill, position, events, trail, and the protection an entry asked for.
A reversal goes as two orders (``reversal``). When the worker could not record an
execution, ``recover`` settles that alert's order(s) before the alert is decided again.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

from tvdesk.brokers import ledger
from tvdesk.brokers.balances import BalanceCache
from tvdesk.brokers.base import Execution, OrderRequest, Refusal
from tvdesk.brokers.connection import Connection
from tvdesk.brokers.errors import ExchangeError, PermanentError, SymbolError
from tvdesk.brokers.exchange import ExchangeClient, OrderState
from tvdesk.brokers.ledger import LiveOrder
from tvdesk.brokers.live_parts import LiveParts
from tvdesk.brokers.precision import conform
from tvdesk.brokers.protect import protect
from tvdesk.brokers.reads import LedgerReader, remaining
from tvdesk.brokers.reversal import LiveReversal, opening_id
from tvdesk.brokers.sender import InDoubt, OrderSender, Outcome
from tvdesk.core.clock import Clock
from tvdesk.core.decimals import plain
from tvdesk.core.ids import client_order_id
from tvdesk.store.journal import Journal

Write = Callable[[sqlite3.Connection], Any]


class LiveExecutor(LiveParts):
    def __init__(
        self,
        connection: Connection,
        balances: BalanceCache,
        reader: LedgerReader,
        sender: OrderSender,
        journal: Journal,
        clock: Clock,
    ) -> None:
        super().__init__(connection, balances, reader, sender, journal, clock)
        self.reversal = LiveReversal(connection, balances, reader, sender, journal, clock)
        self._unrecorded: set[str] = set()

    def discard(self, exchange: str, alert_id: str) -> None:
        """The worker could not record ``alert_id``'s execution: settle it again first.

        Named by the worker, never guessed as "the last one sent": with markets submitting
        at once, another alert's order may have been sent after it."""
        self.balances.drop(exchange)
        self._unrecorded.add(alert_id)

    async def recover(self, alert_id: str) -> Execution | None:
        if alert_id not in self._unrecorded:
            return None
        self._unrecorded.discard(alert_id)
        rows = [r for r in await self.reader.rows(ledger.IN_DOUBT) if r["alert_id"] == alert_id]
        primary = client_order_id(alert_id)
        if any(r["client_order_id"] == opening_id(alert_id) for r in rows):
            client = await self.connection.ready(rows[0]["exchange"])
            mine = await self.reversal.rows_of(alert_id)
            return await self.reversal.settle(client, mine, resend_closing=True)
        row = next((r for r in rows if r["client_order_id"] == primary), None)
        if row is None:
            return None
        order = ledger.order_from_row(row)
        client = await self.connection.ready(order.exchange)
        settled = self.sender.settle(client, order, float(row["updated_at"]))
        execution, _ = await self._execution(client, order, settled)
        # Its stop-loss / take-profit, if any were sent, are the poller's to settle.
        others = [r["client_order_id"] for r in rows if r["client_order_id"] != primary]
        why = "its outcome could not be recorded; tvdesk looks it up"
        execution.write = _chain(
            execution.write, [ledger.marker(cid, "unknown", why) for cid in others]
        )
        return execution

    async def execute(
        self,
        request: OrderRequest,
        now: float,
        params: dict[str, Any] | None = None,
        opening: dict[str, Any] | None = None,
    ) -> Execution:
        """``params``: what the order carries beyond the basics (reduce-only, position side);
        a reversal's closing order goes with them and its opening order with ``opening``."""
        mapping = request.mapping
        client = await self.connection.ready(mapping.exchange)
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
        lifted, refusal = await self._lift_protection(client, request)
        if refusal is not None:
            return Execution("failed", refusal, trail=[*lifted, ("protect", False, refusal)])
        if request.closes:
            return await self.reversal.execute(client, request, params or {}, opening or {}, lifted)
        placed = self.sender.place(client, order, params)
        execution, state = await self._execution(client, order, placed)
        if request.order_type == "limit":
            execution.trail.insert(0, ("precision", True, f"limit order: {note}"))
        execution.trail[:0] = lifted
        if lifted and state is not None and state.filled:
            left = abs(await self.reader.position(mapping)) - state.filled  # a short too
            if left > 0:
                note = f"the remaining {plain(left)} {mapping.base} has no stop-loss or take-profit"
                execution.trail.append(("protect", False, note))
                execution.reason += f"; {note}"
        if state is not None and _closed_with_a_fill(state):
            protected = await protect(
                self.sender, client, order, state, request.stop_loss, request.take_profit
            )
            execution.trail.extend(protected.trail)
            execution.events.extend(protected.events)
            if protected.summary:
                execution.reason += f"; {protected.summary}"
            execution.write = _chain(execution.write, protected.writes)
        return execution

    async def _lift_protection(
        self, client: ExchangeClient, request: OrderRequest
    ) -> tuple[list[tuple[str, bool, str]], str | None]:
        """Cancel the protective orders an exit would trade against; (trail, refusal).

        A sell that closes (part of) a position replaces its stop-loss / take-profit: on
        spot they hold the very coins it sells, and left open they would act on whatever
        position comes next. Each cancellation is journaled before the exit is sent.
        """
        trail: list[tuple[str, bool, str]] = []
        for row in await self.reader.own_protection(request.mapping, request.side):
            cid, words = row["client_order_id"], str(row["order_type"]).replace("_", "-")
            what = f"{words} {cid} ({row['side']} {plain(remaining(row))} @ {row['price']})"
            try:
                if not row["exchange_order_id"]:
                    raise PermanentError(f"{client.id} never said which order it is")
                reply = await client.cancel(row["exchange_order_id"], row["symbol"])
                state = await self.sender.complete(client, ledger.order_from_row(row), reply)
            except ExchangeError as exc:
                return trail, f"could not cancel {what} at {client.id}: {exc}; nothing sent"
            now = self.clock.time()
            await self.journal.run(lambda c, cid=cid, s=state, t=now: ledger.record(c, cid, s, t))
            self.balances.drop(client.id)  # the coins it held are free again
            if state.status == "filled":  # it filled before the cancel reached it
                return trail, f"{what} filled at {client.id} just now; nothing sent"
            trail.append(("protect", True, f"cancelled {what} to free its coins for this exit"))
        return trail, None

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
                self.connection.reload(client)
            return execution, None
        now = self.clock.time()
        execution.trail.extend(("exchange", not n.startswith("attempt"), n) for n in notes)
        execution.outcome = ledger.outcome_of(state)
        execution.reason = ledger.describe(order, state, client.id)
        execution.placed.append(order.symbol)
        execution.events.extend(ledger.order_events(order, state, now))
        self.balances.after_fill(client.id, order, state)

        def write(conn: sqlite3.Connection) -> list[tuple[str, str, str]]:
            delta = ledger.record(conn, cid, state, now)
            if delta is not None:
                execution.realized_pnl += delta.realized_pnl
            return []

        execution.write = write
        return execution, state


def _chain(first: Write | None, more: list[Write]) -> Callable[[sqlite3.Connection], list]:
    def write(conn: sqlite3.Connection) -> list[tuple[str, str, str]]:
        settled = first(conn) if first is not None else []
        for step in more:
            step(conn)
        return settled

    return write


def _closed_with_a_fill(state: OrderState) -> bool:
    """The entry is done and bought something: what it bought gets its protection.

    Also when it filled only partly and then ended (cancelled, expired): the part bought
    is a position like any other, and a stop-loss asked for is never dropped in silence.
    """
    return state.status not in ledger.OPEN and bool(state.filled)
