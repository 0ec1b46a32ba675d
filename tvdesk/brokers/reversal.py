"""A reversal, live: two orders, each sent exactly once, across a crash too.

A sell bigger than tvdesk's long (a buy bigger than its short) turns the position around.
Its closing part must go reduce-only, and an exchange takes that only as an order of its
own, so the alert's trade goes as two (engine/derivatives.py decides it, whole, once):

1. the closing order, reduce-only, for exactly the size held: the alert's own client order
   id (attempt 0, as any alert's order);
2. the opening order, not reduce-only, for the rest: attempt 3 (1 and 2 are the alert's
   stop-loss and take-profit, ``protect``), which also protect what it opened.

Both rows are journaled ``submitting`` in one transaction, each with the params it goes
with, before the first is sent; the opening order is sent only once the closing one filled
completely. A crash anywhere in between leaves rows that say how far it got; the next
start settles them (``reversal_resume``, before the order watch): an order that may have
left is looked up and, found, recorded; the opening order missing is sent then, with its
journaled params (unless the kill switch is on); neither left, the alert runs again.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tvdesk.brokers import ledger
from tvdesk.brokers.base import Execution, OrderRequest
from tvdesk.brokers.contracts import contract_size, in_contracts
from tvdesk.brokers.errors import PermanentError
from tvdesk.brokers.exchange import ExchangeClient, OrderState
from tvdesk.brokers.ledger import LiveOrder
from tvdesk.brokers.live_parts import LiveParts
from tvdesk.brokers.precision import conform
from tvdesk.brokers.protect import protect
from tvdesk.brokers.sender import InDoubt
from tvdesk.core.ids import client_order_id

log = logging.getLogger(__name__)

OPENING_ATTEMPT = 3
Params = dict[str, Any]
Write = Callable[[sqlite3.Connection], Any]


def opening_id(alert_id: str) -> str:
    """The client order id of a reversal's opening order."""
    return client_order_id(alert_id, OPENING_ATTEMPT)


@dataclass
class Leg:
    """One of the two orders: the exchange's word on it, or why there is none."""

    label: str  # closing | opening
    order: LiveOrder
    state: OrderState | None = None
    status: str = ""  # without a state: unknown | rejected (what its row becomes)
    why: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.state is not None and self.state.status == "filled"


class LiveReversal(LiveParts):
    # -- the alert's two orders, now ------------------------------------------------------

    async def execute(
        self,
        client: ExchangeClient,
        request: OrderRequest,
        closing: Params,
        opening: Params,
        lifted: list[tuple[str, bool, str]],
    ) -> Execution:
        """Journal both orders, send the closing one, then (filled) the opening one."""
        mapping, market = request.mapping, client.market(request.mapping.symbol) or {}
        trail = list(lifted)
        legs = []
        for label, cid, qty in (
            ("closing", request.client_order_id, request.closes),
            ("opening", opening_id(request.alert_id), request.qty - request.closes),
        ):
            amount, _, note = conform(client, market, request.side, "market", qty, request.price)
            trail.append(("precision", True, f"{label} order: {note}"))
            order = LiveOrder(
                cid,
                request.alert_id,
                mapping.exchange,
                mapping.symbol,
                request.side,
                "market",
                amount,
                request.price,
            )
            legs.append(Leg(label, order))
        close, open_ = legs
        now = self.clock.time()

        def journal_both(conn: sqlite3.Connection) -> bool:
            fresh = [
                ledger.insert_submitting(conn, leg.order, now, params, _contracts(market, leg))
                for leg, params in ((close, closing), (open_, opening))
            ]
            return all(fresh)

        if not await self.journal.run(journal_both):
            # Journaled by an earlier attempt at this alert: settle what that one sent.
            rows = await self.rows_of(request.alert_id)
            settled = await self.settle(client, rows, resend_closing=True)
            assert settled is not None  # resend_closing: never "nothing sent"
            settled.trail[:0] = trail
            return settled
        log.info(
            "alert %s: reversal on %s as two orders: %s %s reduce-only (%s), then %s %s (%s)",
            request.alert_id, mapping.symbol, close.order.side, close.order.qty,
            close.order.client_order_id, open_.order.side, open_.order.qty,
            open_.order.client_order_id,
        )  # fmt: skip
        await self._send(client, close, closing)
        if close.complete:
            await self._send(client, open_, opening)
        else:
            self._not_sent(open_, close)
        execution = self._execution(client, close, open_)
        execution.trail[:0] = trail
        await self._protect(client, execution, open_, request.stop_loss, request.take_profit)
        return execution

    async def _send(self, client: ExchangeClient, leg: Leg, params: Params) -> None:
        cid = leg.order.client_order_id
        try:
            leg.state, leg.notes = await self.sender.send_planned(client, leg.order, params)
        except InDoubt as exc:
            leg.status, leg.why = "unknown", _in_doubt(exc, cid, client.id)
        except PermanentError as exc:
            leg.status, leg.why = "rejected", str(exc)

    # -- settling from the journal: a restart, or an execution that was not recorded ------

    async def settle(
        self,
        client: ExchangeClient,
        rows: dict[str, sqlite3.Row],
        *,
        resend_closing: bool,
        halted: bool = False,
        protection: tuple[Decimal | None, Decimal | None] = (None, None),
    ) -> Execution | None:
        """The reversal whose rows these are: each order that may have left looked up, the
        missing one sent. None (only without ``resend_closing``): neither reached the
        exchange. Raises ``InDoubt`` when the closing order cannot be looked up.

        A row whose time is still its creation's was never sent (``send_planned`` stamps
        the send into it first): it needs no lookup, and no wait for the exchange's window.
        """
        legs = []
        for label in ("closing", "opening"):
            row = next(r for r in rows.values() if _label(r) == label)
            leg = Leg(label, ledger.order_from_row(row))
            if row["status"] not in ledger.IN_DOUBT:
                leg.state = ledger.state_from_row(row)  # recorded before: nothing to ask
            legs.append((leg, row))
        (close, close_row), (open_, open_row) = legs
        if close.state is None and _left(close_row):
            if resend_closing:
                await self._settle_one(client, close, close_row)
            else:
                sent_at = float(close_row["updated_at"])
                close.state = await self.sender.lookup(client, close.order, sent_at, close.notes)
                if close.state is None:
                    return None  # the opening order waits for it: neither left
        elif close.state is None:
            if not resend_closing:
                return None
            await self._send(client, close, _params(close_row))
        if open_.state is None:
            if not close.complete:
                self._not_sent(open_, close)
            elif halted:  # looked up if it may have left before the crash, never sent now
                if _left(open_row):
                    try:
                        open_.state = await self.sender.lookup(
                            client, open_.order, float(open_row["updated_at"]), open_.notes
                        )
                    except InDoubt as exc:
                        cid = open_.order.client_order_id
                        open_.status, open_.why = "unknown", _in_doubt(exc, cid, client.id)
                if open_.state is None and not open_.status:
                    open_.status, open_.why = "rejected", "not sent: the kill switch is on"
            elif _left(open_row):
                await self._settle_one(client, open_, open_row)
            else:
                await self._send(client, open_, _params(open_row))
        execution = self._execution(client, close, open_)
        await self._protect(client, execution, open_, *protection)
        return execution

    async def _settle_one(self, client: ExchangeClient, leg: Leg, row: sqlite3.Row) -> None:
        """Look ``leg`` up; absent, send it again with its journaled params."""
        cid = leg.order.client_order_id
        try:
            leg.state, leg.notes = await self.sender.settle(
                client, leg.order, float(row["updated_at"])
            )
        except InDoubt as exc:
            leg.status, leg.why = "unknown", _in_doubt(exc, cid, client.id)
        except PermanentError as exc:
            leg.status, leg.why = "rejected", str(exc)

    async def rows_of(self, alert_id: str) -> dict[str, sqlite3.Row]:
        """The alert's closing and opening orders' rows, by client order id."""
        ids = (client_order_id(alert_id), opening_id(alert_id))
        rows = await self.reader.read(
            lambda c: c.execute(
                "SELECT * FROM orders WHERE client_order_id IN (?, ?)", ids
            ).fetchall()
        )
        return {r["client_order_id"]: r for r in rows}

    # -- what is recorded -----------------------------------------------------------------

    def _not_sent(self, open_: Leg, close: Leg) -> None:
        if close.state is None:
            what = "was refused" if close.status == "rejected" else "is in doubt"
        else:
            what = f"ended {close.state.status}, not filled completely"
        open_.status = "rejected"
        open_.why = f"not sent: the closing order {close.order.client_order_id} {what}"

    def _execution(self, client: ExchangeClient, close: Leg, open_: Leg) -> Execution:
        now = self.clock.time()
        execution = Execution("failed", "")
        writes: list[Write] = []
        words = []
        for leg in (close, open_):
            order, cid = leg.order, leg.order.client_order_id
            execution.trail.extend(("exchange", not n.startswith("attempt"), n) for n in leg.notes)
            if leg.state is None:
                execution.trail.append(("reversal", False, f"{leg.label} order {cid}: {leg.why}"))
                writes.append(ledger.marker(cid, leg.status, leg.why))
                words.append(f"{leg.label} order {leg.why}")
                continue
            said = ledger.describe(order, leg.state, client.id)
            flag = "reduce-only" if leg.label == "closing" else "not reduce-only"
            execution.trail.append(("reversal", True, f"{leg.label} order ({flag}): {said}"))
            words.append(f"{leg.label} order {said}")
            execution.placed.append(order.symbol)
            execution.events.extend(ledger.order_events(order, leg.state, now))
            self.balances.after_fill(client.id, order, leg.state)
            writes.append(lambda c, cid=cid, s=leg.state: ledger.record(c, cid, s, now))
        if open_.state is not None:
            execution.outcome = ledger.outcome_of(open_.state)
        execution.reason = f"reversal on {close.order.symbol}: " + "; ".join(words)

        def write(conn: sqlite3.Connection) -> list[tuple[str, str, str]]:
            for step in writes:
                delta = step(conn)
                if isinstance(delta, ledger.FillDelta):
                    execution.realized_pnl += delta.realized_pnl
            return []

        execution.write = write
        return execution

    async def _protect(
        self,
        client: ExchangeClient,
        execution: Execution,
        open_: Leg,
        stop_loss: Decimal | None,
        take_profit: Decimal | None,
    ) -> None:
        """The stop-loss / take-profit protect what the opening order opened."""
        state = open_.state
        if state is None or state.status in ledger.OPEN or not state.filled:
            return
        protected = await protect(self.sender, client, open_.order, state, stop_loss, take_profit)
        execution.trail.extend(protected.trail)
        execution.events.extend(protected.events)
        if protected.summary:
            execution.reason += f"; {protected.summary}"
        first = execution.write

        def write(conn: sqlite3.Connection) -> list[tuple[str, str, str]]:
            settled = first(conn) if first is not None else []
            for step in protected.writes:
                step(conn)
            return settled

        execution.write = write


def _label(row: sqlite3.Row) -> str:
    return "opening" if row["client_order_id"] == opening_id(row["alert_id"]) else "closing"


def _left(row: sqlite3.Row) -> bool:
    """Whether the order may have left: its row was stamped for a send."""
    return float(row["updated_at"]) > float(row["created_at"])


def _params(row: sqlite3.Row) -> Params:
    return json.loads(row["params"] or "{}")


def _contracts(market: dict[str, Any], leg: Leg) -> Decimal | None:
    return in_contracts(market, leg.order.qty) if contract_size(market) else None


def _in_doubt(exc: Exception, cid: str, exchange: str) -> str:
    return (
        f"{exc}: order {cid} may or may not exist at {exchange}; tvdesk keeps looking it up "
        "and records it if it appears (it is never sent again)"
    )
