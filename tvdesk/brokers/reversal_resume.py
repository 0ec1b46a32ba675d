"""A reversal a crash cut short, settled at the next start (brokers/reversal.py).

Before the order watch settles the orders left in doubt one by one, every reversal among
them is settled whole: each of its orders that may have left is looked up, the opening one
is sent if it is missing and the closing one filled (unless the kill switch is on), and the
alert is decided from both. When neither left, both rows are dropped and the alert runs
again, decided anew.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from tvdesk.brokers import ledger
from tvdesk.brokers.base import Unavailable
from tvdesk.brokers.exchange import dec
from tvdesk.brokers.reversal import LiveReversal, opening_id
from tvdesk.brokers.sender import InDoubt
from tvdesk.core.events import AlertDecided, Event
from tvdesk.core.ids import client_order_id

log = logging.getLogger(__name__)


async def resume(
    reversal: LiveReversal,
    *,
    halted: bool,
    publish: Callable[[Event], None],
    on_realized: Callable[[Decimal, str], None],
) -> None:
    """At start, before the order watch: settle every reversal a crash left in doubt."""
    in_doubt = await reversal.reader.rows(ledger.IN_DOUBT)
    for alert_id in dict.fromkeys(r["alert_id"] for r in in_doubt):
        rows = await reversal.rows_of(alert_id)
        if opening_id(alert_id) not in rows or client_order_id(alert_id) not in rows:
            continue  # not a reversal: the order watch's
        await _resume(reversal, alert_id, rows, halted, publish, on_realized)


async def _resume(
    reversal: LiveReversal,
    alert_id: str,
    rows: dict[str, sqlite3.Row],
    halted: bool,
    publish: Callable[[Event], None],
    on_realized: Callable[[Decimal, str], None],
) -> None:
    exchange = rows[opening_id(alert_id)]["exchange"]
    try:
        client = await reversal.connection.ready(exchange)
        protection = await reversal.reader.read(lambda c: _asked_protection(c, alert_id))
        execution = await reversal.settle(
            client, rows, resend_closing=False, halted=halted, protection=protection
        )
    except (InDoubt, Unavailable) as exc:
        # The watch marks the closing order unknown and keeps asking; the opening one
        # is never sent later on its own.
        why = f"not sent: {exchange} could not be asked about the closing order ({exc})"
        await reversal.journal.run(ledger.marker(opening_id(alert_id), "rejected", why))
        log.warning("alert %s: reversal %s", alert_id, why)
        return
    now = reversal.clock.time()
    if execution is None:
        await reversal.journal.run(lambda c: _run_again(c, alert_id, exchange))
        log.info("alert %s: reversal never reached %s; the alert runs again", alert_id, exchange)
        return
    outcome, reason = execution.outcome, f"after a restart: {execution.reason}"

    def write(conn: sqlite3.Connection) -> bool:
        if execution.write is not None:
            execution.write(conn)
        for step, ok, detail in execution.trail:
            ledger.note(conn, alert_id, step, ok, detail)
        return ledger.decide_alert(conn, alert_id, outcome, reason, now, only=("pending", "failed"))

    decided = await reversal.journal.run(write)
    log.info("alert %s: %s", alert_id, reason)
    for event in execution.events:
        publish(event)
    if execution.realized_pnl:
        on_realized(execution.realized_pnl, rows[opening_id(alert_id)]["symbol"])
    if decided:
        publish(AlertDecided(now, alert_id, outcome, reason))


def _run_again(conn: sqlite3.Connection, alert_id: str, exchange: str) -> None:
    """Neither order reached the exchange: forget both; a pending alert is decided anew."""
    row = conn.execute("SELECT outcome FROM alerts WHERE alert_id = ?", (alert_id,)).fetchone()
    pending = row is not None and row[0] == "pending"
    for cid in (client_order_id(alert_id), opening_id(alert_id)):
        if pending:
            ledger.forget(conn, cid)
        else:
            ledger.mark(conn, cid, "rejected", f"never reached {exchange}")
    if pending:
        detail = f"reversal: neither order reached {exchange}: the alert runs again"
        ledger.note(conn, alert_id, "reconcile", True, detail)


def _asked_protection(
    conn: sqlite3.Connection, alert_id: str
) -> tuple[Decimal | None, Decimal | None]:
    """The stop-loss and take-profit the alert asked for (placed for the opening order)."""
    row = conn.execute("SELECT alert FROM alerts WHERE alert_id = ?", (alert_id,)).fetchone()
    alert: dict[str, Any] = json.loads(row[0]) if row and row[0] else {}
    placed = conn.execute(
        "SELECT COUNT(*) FROM orders WHERE client_order_id IN (?, ?)",
        (client_order_id(alert_id, 1), client_order_id(alert_id, 2)),
    ).fetchone()[0]
    if placed:  # asked for once only: never a second stop for one entry
        return None, None
    return dec(alert.get("stop_loss")), dec(alert.get("take_profit"))
