"""The alert action cancel, live: tvdesk's own resting orders on one market, cancelled.

Only orders tvdesk placed (the journal's open rows for that market) are touched, never one
the trader placed by hand. A stop-loss or take-profit stays: a cancel takes entries off the
book and never leaves a position unprotected (closing the position ends them); the reason
says so. Each order is cancelled by its exchange order id; a temporary error is retried
with backoff (the circuit breaker counts it) and, whatever the exchange answered, its copy
of the order decides: one that filled before the cancel reached it is recorded as filled,
never as canceled. Each order's new state is journaled as soon as the exchange says it, as
the sender journals each send: the exchange has acted, whatever becomes of the alert.
"""

from __future__ import annotations

import asyncio
import sqlite3
from decimal import Decimal

from tvdesk.brokers import ledger
from tvdesk.brokers.base import Execution, RestingOrder, nothing_to_cancel, resting_text
from tvdesk.brokers.errors import ExchangeError, TemporaryError
from tvdesk.brokers.exchange import ExchangeClient, OrderState
from tvdesk.brokers.ledger import LiveOrder
from tvdesk.brokers.live_parts import LiveParts
from tvdesk.brokers.protect import is_protective
from tvdesk.brokers.reads import remaining
from tvdesk.brokers.sender import InDoubt
from tvdesk.core.decimals import plain
from tvdesk.core.events import AlertDecided, OrderCanceled, OrderFilled
from tvdesk.core.ids import client_order_id
from tvdesk.core.symbols import Mapping
from tvdesk.support.backoff import backoff


class LiveCanceller(LiveParts):
    async def resting(self, mapping: Mapping) -> list[RestingOrder]:
        entries, _ = await self._own(mapping)
        return [_resting(row) for row in entries]

    async def cancel(self, alert_id: str, mapping: Mapping) -> Execution:
        """Cancel tvdesk's resting entries on ``mapping``; ``alert_id`` is the cancel alert."""
        entries, kept = await self._own(mapping)
        note = _kept(kept)
        if not entries:
            return Execution("rejected", nothing_to_cancel(mapping) + note)
        client = await self.connection.ready(mapping.exchange)
        execution = Execution("canceled", "")
        canceled: list[RestingOrder] = []
        said: list[str] = []  # what else happened, order by order
        failed = False
        for row in entries:
            cid = row["client_order_id"]
            self.sender.in_flight.add(cid)  # the order watch leaves it alone meanwhile
            try:
                state, error = await self._cancel_one(client, row)
                if state is not None:
                    await self._record(execution, client, row, state, alert_id)
            finally:
                self.sender.in_flight.discard(cid)
            if state is None:
                failed = True
                said.append(f"could not cancel {_resting(row).describe()} at {client.id}: {error}")
            elif state.status == "filled":
                said.append(
                    f"{cid} filled at {client.id} before the cancel reached it: recorded as filled"
                )
            else:
                canceled.append(_resting(row))
        self.balances.drop(client.id)  # what the orders held is free again
        done = [f"canceled {resting_text(mapping, canceled)}"] if canceled else []
        execution.outcome = "canceled" if canceled and not failed else "failed"
        execution.reason = "; ".join([*done, *said]) + note
        return execution

    async def _own(self, mapping: Mapping) -> tuple[list[sqlite3.Row], list[sqlite3.Row]]:
        """tvdesk's open orders on the market: (entries a cancel takes off, protection kept)."""
        rows = [
            row
            for row in await self.reader.rows(ledger.OPEN)
            if (row["exchange"], row["symbol"]) == (mapping.exchange, mapping.symbol)
        ]
        guard = [r for r in rows if is_protective(r["client_order_id"], r["alert_id"])]
        return [r for r in rows if r not in guard], guard

    async def _cancel_one(
        self, client: ExchangeClient, row: sqlite3.Row
    ) -> tuple[OrderState | None, str]:
        """The order's state once it is off the book (or filled); else None and why not."""
        order = ledger.order_from_row(row)
        if not row["exchange_order_id"]:
            return None, f"{client.id} never said which order it is"
        tuning = self.sender.tuning
        delays = backoff(tuning.backoff_base_s, tuning.backoff_max_s)
        last = "no answer"
        for attempt in range(tuning.retries + 1):
            if self.sender.circuit.is_open:
                return None, f"live execution paused ({self.sender.circuit.reason})"
            try:
                reply = await client.cancel(row["exchange_order_id"], order.symbol)
            except ExchangeError as exc:
                last, temporary = str(exc), isinstance(exc, TemporaryError)
                if temporary:
                    self.sender.circuit.failure(last)
            else:
                self.sender.circuit.success()
                state = await self.sender.complete(client, order, reply)
                if state.status in ledger.OPEN:
                    return None, f"{client.id} still reports it {state.status}"
                return state, ""
            # A timeout may have cancelled it, and "unknown order" may mean it filled or
            # closed meanwhile: the exchange's copy of the order says which.
            try:
                found = await self.sender.lookup(
                    client,
                    order,
                    float(row["updated_at"]),
                    [],
                    wait=False,
                    order_id=row["exchange_order_id"],
                )
            except InDoubt as exc:
                return None, f"{last}; {exc}"
            if found is not None and found.status not in ledger.OPEN:
                return found, ""
            if not temporary:
                return None, last
            if attempt < tuning.retries:
                await asyncio.sleep(next(delays))
        return (
            None,
            f"{client.id} did not take the cancel in {tuning.retries + 1} attempts ({last})",
        )

    async def _record(
        self,
        execution: Execution,
        client: ExchangeClient,
        row: sqlite3.Row,
        state: OrderState,
        by: str,
    ) -> None:
        """Journal the order's new state and settle the alert that placed it, at once."""
        order = ledger.order_from_row(row)
        cid, owner, now = order.client_order_id, order.alert_id, self.clock.time()
        outcome, words = _settled(order, state, client.id, by)
        primary = cid == client_order_id(owner)
        # The order watch may have seen this very cancel first and called the alert failed:
        # it was canceled on purpose. A fill it saw first stands.
        settles = ("open",) if state.status == "filled" else ("open", "failed")

        def write(conn: sqlite3.Connection) -> tuple[ledger.FillDelta | None, bool]:
            delta = ledger.record(conn, cid, state, now)
            decided = primary and ledger.decide_alert(
                conn, owner, outcome, words, now, only=settles, step="cancel"
            )
            return delta, decided

        delta, decided = await self.journal.run(write)
        if state.status != "filled":
            left = plain(max(order.qty - state.filled, Decimal(0)))
            execution.events.append(
                OrderCanceled(
                    now, owner, cid, client.id, order.symbol, order.side, left, ledger.MODE, by
                )
            )
        if delta is not None:
            execution.realized_pnl += delta.realized_pnl
            execution.events.append(
                OrderFilled(
                    now, owner, cid, order.symbol, order.side, plain(delta.qty),
                    plain(delta.price), plain(delta.fee), ledger.MODE,
                )
            )  # fmt: skip
        if decided:
            execution.events.append(AlertDecided(now, owner, outcome, words))


def _settled(order: LiveOrder, state: OrderState, exchange: str, by: str) -> tuple[str, str]:
    """The outcome and reason of the alert whose order the cancel alert ``by`` took off."""
    if state.status == "filled":
        words = ledger.describe(order, state, exchange)
        return "filled", f"{words}; it filled before the cancel alert {by} reached {exchange}"
    kind = order.order_type.replace("_", "-")
    at = f" @ {plain(order.price)}" if order.price is not None else ""
    what = f"live {kind} {order.side} {plain(order.qty)} {order.symbol}{at} canceled"
    ref = f"{exchange} order {state.exchange_order_id}"
    if state.filled:
        part = f"{plain(state.filled)} filled @ {plain(state.average or Decimal(0))}"
        return "filled", f"{what} by the cancel alert {by} after {part} ({ref})"
    return "canceled", f"{what} by the cancel alert {by}, nothing filled ({ref})"


def _resting(row: sqlite3.Row) -> RestingOrder:
    order = ledger.order_from_row(row)
    return RestingOrder(
        order.client_order_id, order.side, order.order_type, remaining(row), order.price
    )


def _kept(protection: list[sqlite3.Row]) -> str:
    if not protection:
        return ""
    listed = ", ".join(_resting(row).describe() for row in protection)
    return (
        f"; kept {listed}: a cancel never removes a position's stop-loss or take-profit "
        "(close the position to end them)"
    )
