"""The live broker's journal writes: order rows, fills, and through ``live_book`` the
positions built from real fills (spot, and signed perpetuals: a short below 0).

Each function runs inside a journal transaction (``Journal.run`` or the worker's record)
and works from the rows it reads there, never from memory: the worker and the order poller
may both write for one market, and the writer thread puts them in one order.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tvdesk.brokers.exchange import OrderState, dec
from tvdesk.brokers.live_book import MODE, apply_fill
from tvdesk.core.decimals import plain
from tvdesk.core.events import Event, OrderFilled, OrderSubmitted

IN_DOUBT = ("submitting", "unknown")
OPEN = ("open", "partially_filled")


@dataclass(frozen=True)
class LiveOrder:
    client_order_id: str
    alert_id: str
    exchange: str
    symbol: str
    side: str
    order_type: str  # market | limit | stop_loss | take_profit
    qty: Decimal
    price: Decimal | None  # limit or trigger price; the reference price of a market order


@dataclass(frozen=True)
class FillDelta:
    """What one look at an order added since the last: a fill, or nothing."""

    qty: Decimal
    price: Decimal
    fee: Decimal
    fee_currency: str | None
    realized_pnl: Decimal


def insert_submitting(
    conn: sqlite3.Connection,
    order: LiveOrder,
    now: float,
    params: dict[str, Any] | None = None,
    contracts: Decimal | None = None,
) -> bool:
    """The row that proves an order may exist, committed before the request; False if known.

    ``params`` (what the order is sent with beyond its basics: reduce-only, position side,
    trigger price) are kept with it: a re-send carries exactly these (``sent_params``).
    ``contracts``: its size in contracts on a perpetual (None on spot).
    """
    cursor = conn.execute(
        """INSERT INTO orders (client_order_id, alert_id, exchange, symbol, side, order_type, qty,
               price, mode, status, created_at, updated_at, params, contracts)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'submitting', ?, ?, ?, ?)
           ON CONFLICT (client_order_id) DO NOTHING""",
        (
            order.client_order_id,
            order.alert_id,
            order.exchange,
            order.symbol,
            order.side,
            order.order_type,
            str(order.qty),
            str(order.price) if order.price is not None else None,
            MODE,
            now,
            now,
            json.dumps(params or {}, sort_keys=True),  # not JSON: refused before it is sent
            plain(contracts) if contracts is not None else None,
        ),
    )
    return cursor.rowcount == 1


def sent_at(conn: sqlite3.Connection, client_order_id: str) -> float | None:
    row = conn.execute(
        "SELECT updated_at FROM orders WHERE client_order_id = ?", (client_order_id,)
    ).fetchone()
    return float(row[0]) if row else None


def sent_params(conn: sqlite3.Connection, client_order_id: str) -> dict[str, Any] | None:
    """The params the order was first sent with; None when unknown (a row from before v6)."""
    row = conn.execute(
        "SELECT params FROM orders WHERE client_order_id = ?", (client_order_id,)
    ).fetchone()
    return json.loads(row[0]) if row and row[0] is not None else None


def mark_sent(conn: sqlite3.Connection, client_order_id: str, now: float) -> None:
    """A re-send: ``updated_at`` of a row in doubt is always the time of its last send,
    and always later than its creation, even when the clock stood still or stepped back
    (a reversal's restart tells "may have left" from "never sent" by that)."""
    conn.execute(
        "UPDATE orders SET status = 'submitting', updated_at = MAX(?, created_at + 0.001) "
        "WHERE client_order_id = ?",
        (now, client_order_id),
    )


def mark(conn: sqlite3.Connection, client_order_id: str, status: str, error: str) -> None:
    """Set ``rejected`` or ``unknown`` (keeping ``updated_at``, the last send)."""
    conn.execute(
        "UPDATE orders SET status = ?, error = ? WHERE client_order_id = ?",
        (status, error, client_order_id),
    )


def marker(client_order_id: str, status: str, error: str) -> Callable[[sqlite3.Connection], list]:
    """``mark`` as a write for the worker's transaction (which wants a list back)."""

    def write(conn: sqlite3.Connection) -> list[tuple[str, str, str]]:
        mark(conn, client_order_id, status, error)
        return []

    return write


def forget(conn: sqlite3.Connection, client_order_id: str) -> None:
    """Drop a row whose order never reached the exchange (its alert will run again)."""
    conn.execute(
        "DELETE FROM orders WHERE client_order_id = ? AND status IN ('submitting', 'unknown')",
        (client_order_id,),
    )


def record(
    conn: sqlite3.Connection, client_order_id: str, state: OrderState, now: float
) -> FillDelta | None:
    """Write what the exchange said about an order; the fill it adds, if any."""
    row = conn.execute("SELECT * FROM orders WHERE client_order_id = ?", (client_order_id,))
    order = row.fetchone()
    if order is None:
        return None
    old_filled = Decimal(order["filled"] or "0")
    old_avg = dec(order["avg_price"]) or Decimal(0)
    old_fee = dec(order["fee"]) or Decimal(0)
    average = state.average or old_avg or dec(order["price"]) or Decimal(0)
    fee_total = state.fee if state.fee is not None else old_fee
    fee_currency = state.fee_currency or order["fee_currency"]
    delta = None
    if state.filled > old_filled:
        qty = state.filled - old_filled
        price = (state.filled * average - old_filled * old_avg) / qty if old_filled else average
        fee = max(fee_total - old_fee, Decimal(0))
        pnl = apply_fill(conn, order, qty, price, fee, fee_currency, now)
        delta = FillDelta(qty, price, fee, fee_currency, pnl)
        conn.execute(
            """INSERT INTO fills (client_order_id, alert_id, exchange, symbol, side, qty, price,
                   fee, fee_currency, realized_pnl, mode, at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                client_order_id,
                order["alert_id"],
                order["exchange"],
                order["symbol"],
                order["side"],
                str(qty),
                str(price),
                str(fee),
                fee_currency,
                str(pnl),
                MODE,
                now,
            ),
        )
    filled = max(state.filled, old_filled)
    conn.execute(
        """UPDATE orders SET status = ?, filled = ?, avg_price = ?, fee = ?, fee_currency = ?,
               exchange_order_id = COALESCE(?, exchange_order_id), error = NULL, updated_at = ?
           WHERE client_order_id = ?""",
        (
            state.status,
            str(filled),
            str(average) if filled else None,
            str(fee_total) if filled or state.fee is not None else None,
            fee_currency,
            state.exchange_order_id,
            now,
            client_order_id,
        ),
    )
    return delta


def decide_alert(
    conn: sqlite3.Connection,
    alert_id: str,
    outcome: str,
    reason: str,
    now: float,
    *,
    unless: tuple[str, ...] = (),
    only: tuple[str, ...] = (),
    step: str = "reconcile",
) -> bool:
    """Set an alert's outcome and add a trail line; False when its outcome didn't allow it."""
    row = conn.execute(
        "SELECT outcome, trail FROM alerts WHERE alert_id = ?", (alert_id,)
    ).fetchone()
    if row is None or row["outcome"] in unless or (only and row["outcome"] not in only):
        return False
    trail = json.loads(row["trail"] or "[]")
    trail.append({"step": step, "ok": outcome in ("filled", "open"), "detail": reason, "ms": 0})
    conn.execute(
        "UPDATE alerts SET outcome = ?, reason = ?, trail = ?, decided_at = ? WHERE alert_id = ?",
        (outcome, reason, json.dumps(trail), now, alert_id),
    )
    return True


def note(conn: sqlite3.Connection, alert_id: str, step: str, ok: bool, detail: str) -> None:
    """Add a line to an alert's trail without deciding it."""
    row = conn.execute("SELECT trail FROM alerts WHERE alert_id = ?", (alert_id,)).fetchone()
    if row is not None:
        trail = json.loads(row["trail"] or "[]")
        trail.append({"step": step, "ok": ok, "detail": detail, "ms": 0})
        conn.execute(
            "UPDATE alerts SET trail = ? WHERE alert_id = ?", (json.dumps(trail), alert_id)
        )


def outcome_of(state: OrderState) -> str:
    """An alert's outcome from its order: open, filled (even partly), else failed."""
    if state.status in OPEN:
        return "open"
    return "filled" if state.filled else "failed"


def describe(order: LiveOrder, state: OrderState, exchange: str) -> str:
    """The trail's words for an order, like paper's: "live buy 0.001 BTC/USDT filled @ …"."""
    ref = f"{exchange} order {state.exchange_order_id}"
    if state.status == "filled" and state.filled:
        fee = f", fee {plain(state.fee)} {state.fee_currency}" if state.fee is not None else ""
        average = plain(state.average) if state.average is not None else "?"
        filled = plain(state.filled)
        return f"live {order.side} {filled} {order.symbol} filled @ {average}{fee} ({ref})"
    if state.status in OPEN:
        at = f" @ {plain(order.price)}" if order.price is not None else ""
        done = f", {plain(state.filled)} filled so far" if state.filled else ""
        kind = order.order_type.replace("_", "-")
        return (
            f"live {kind} {order.side} {plain(order.qty)} {order.symbol}{at} open ({ref}{done}); "
            "tvdesk follows it until it closes"
        )
    filled = f"after {plain(state.filled)} filled" if state.filled else "with nothing filled"
    return f"{exchange} reports the order {state.status} {filled} ({ref})"


def order_from_row(row: sqlite3.Row) -> LiveOrder:
    return LiveOrder(
        row["client_order_id"],
        row["alert_id"],
        row["exchange"],
        row["symbol"],
        row["side"],
        row["order_type"],
        Decimal(row["qty"]),
        dec(row["price"]),
    )


def state_from_row(row: sqlite3.Row) -> OrderState:
    """An order as the journal last recorded it."""
    return OrderState(
        exchange_order_id=row["exchange_order_id"],
        status=row["status"],
        filled=Decimal(row["filled"] or "0"),
        average=dec(row["avg_price"]),
        fee=dec(row["fee"]),
        fee_currency=row["fee_currency"],
        complete=True,
    )


def order_events(order: LiveOrder, state: OrderState, now: float) -> list[Event]:
    """What the window and the log hear about an order: submitted, and filled if it did."""
    cid = order.client_order_id
    events: list[Event] = [
        OrderSubmitted(
            now, order.alert_id, cid, order.exchange, order.symbol, order.side,
            plain(order.qty), MODE,
        )
    ]  # fmt: skip
    if state.filled:
        average, fee = plain(state.average or Decimal(0)), plain(state.fee or Decimal(0))
        events.append(
            OrderFilled(
                now, order.alert_id, cid, order.symbol, order.side, plain(state.filled),
                average, fee, MODE,
            )
        )  # fmt: skip
    return events
