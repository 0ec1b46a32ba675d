"""The paper book in the journal: read back on first use, written with each alert's outcome.

``write_changes`` runs inside the transaction that records the alert, so the book and
the outcome are kept or lost together. ``seed_balances`` stores an exchange's starting
balances the first time it is used.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from tvdesk.config.schema import PaperSettings
from tvdesk.core.book import Balance, Fill, PaperBook, PaperOrder, Position, is_perp
from tvdesk.core.decimals import plain
from tvdesk.core.perp_book import PerpPosition
from tvdesk.core.symbols import split_symbol
from tvdesk.store.schema import connect

MODE = "paper"


def fill_text(fill: Fill) -> str:
    return (
        f"{fill.side} {plain(fill.qty)} {fill.symbol} filled @ {plain(fill.price)}, "
        f"fee {plain(fill.fee)} {fill.fee_currency}"
    )


@dataclass
class PaperChanges:
    """What one step did to the book, to be written with the alert's outcome."""

    exchange: str
    placed: PaperOrder | None = None
    placed_fill: Fill | None = None
    fills: list[Fill] = field(default_factory=list)  # resting orders filled by a new price
    canceled: list[PaperOrder] = field(default_factory=list)

    @property
    def touched(self) -> bool:
        return bool(self.placed or self.fills or self.canceled)


def load_prices(journal_path: Path) -> dict[tuple[str, str], Decimal]:
    """The last paper price of every market, from its latest fill."""
    conn = connect(journal_path, readonly=True)
    try:
        rows = conn.execute(
            "SELECT exchange, symbol, price FROM fills f WHERE mode = ? AND id ="
            " (SELECT MAX(id) FROM fills g WHERE g.exchange = f.exchange"
            " AND g.symbol = f.symbol AND g.mode = f.mode)",
            (MODE,),
        ).fetchall()
    finally:
        conn.close()
    return {(r[0], r[1]): Decimal(r[2]) for r in rows}


def load_book(journal_path: Path, exchange: str, paper: PaperSettings) -> PaperBook:
    """The exchange's paper book as the journal has it; the starting balances if none."""
    conn = connect(journal_path, readonly=True)
    try:
        rows = conn.execute(
            "SELECT currency, free, used FROM balances WHERE mode = ? AND exchange = ?",
            (MODE, exchange),
        ).fetchall()
        if rows:
            balances = {
                r["currency"]: Balance(Decimal(r["free"]), Decimal(r["used"])) for r in rows
            }
        else:
            balances = {cur: Balance(Decimal(amount)) for cur, amount in paper.balances.items()}
        positions, perps = {}, {}
        for r in conn.execute(
            "SELECT symbol, qty, avg_price, realized_pnl, leverage, margin FROM positions"
            " WHERE mode = ? AND exchange = ?",
            (MODE, exchange),
        ):
            qty, price, pnl = Decimal(r["qty"]), Decimal(r["avg_price"]), Decimal(r["realized_pnl"])
            if is_perp(r["symbol"]):
                perps[r["symbol"]] = _perp_from_row(r, qty, price, pnl)
            else:
                positions[r["symbol"]] = Position(qty, price, pnl)
        resting = [
            _order_from_row(r)
            for r in conn.execute(
                "SELECT * FROM orders WHERE mode = ? AND exchange = ? AND status = 'open'"
                " ORDER BY created_at",
                (MODE, exchange),
            )
        ]
    finally:
        conn.close()
    return PaperBook(
        balances,
        fee_rate=Decimal(paper.fee_rate),
        slippage_bps=Decimal(paper.slippage_bps),
        positions=positions,
        resting=resting,
        perps=perps,
    )


def _perp_from_row(row: sqlite3.Row, qty: Decimal, entry: Decimal, pnl: Decimal) -> PerpPosition:
    leverage = Decimal(row["leverage"]) if row["leverage"] is not None else Decimal(1)
    # Written before v5 (the old book paid the whole value): 1×, that value as its margin.
    margin = Decimal(row["margin"]) if row["margin"] is not None else abs(qty) * entry
    return PerpPosition(qty, entry, leverage, margin, pnl)


def _order_from_row(row: sqlite3.Row) -> PaperOrder:
    base, quote = split_symbol(row["symbol"])
    return PaperOrder(
        client_order_id=row["client_order_id"],
        symbol=row["symbol"],
        base=base,
        quote=quote,
        side=row["side"],
        order_type=row["order_type"],
        qty=Decimal(row["qty"]),
        price=Decimal(row["price"]),
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        reserved=Decimal(row["reserved"]) if row["reserved"] is not None else None,
    )


def _reserved_text(book: PaperBook, client_order_id: str) -> str | None:
    resting = book.resting.get(client_order_id)
    return str(resting.reserved) if resting is not None and resting.reserved is not None else None


def _expired_text(order: PaperOrder) -> str:
    days = ((order.expires_at or order.created_at) - order.created_at) / 86_400
    return (
        f"limit {order.side} {plain(order.qty)} {order.symbol} @ {plain(order.price)} expired "
        f"unfilled after {days:g} days (paper): its funds are free again"
    )


def write_changes(
    conn: sqlite3.Connection,
    book: PaperBook,
    changes: PaperChanges,
    *,
    alert_id: str | None,
    now: float,
) -> list[tuple[str, str, str]]:
    """Persist one step's changes; (alert_id, outcome, reason) of alerts whose order closed."""
    exchange = changes.exchange
    settled: list[tuple[str, str, str]] = []
    symbols: set[str] = set()
    currencies: set[str] = set()
    if changes.placed is not None:
        order = changes.placed
        fill = changes.placed_fill
        conn.execute(
            """INSERT INTO orders (client_order_id, alert_id, exchange, symbol, side, order_type,
                   qty, price, mode, status, filled, avg_price, fee, fee_currency, reserved,
                   expires_at, created_at, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                order.client_order_id,
                alert_id,
                exchange,
                order.symbol,
                order.side,
                order.order_type,
                str(order.qty),
                str(order.price),
                MODE,
                "filled" if fill else "open",
                str(fill.qty) if fill else "0",
                str(fill.price) if fill else None,
                str(fill.fee) if fill else None,
                fill.fee_currency if fill else None,
                _reserved_text(book, order.client_order_id),
                order.expires_at,
                now,
                now,
            ),
        )
        symbols.add(order.symbol)
        # A perpetual moves only its settle currency: no coin balance is ever made for it.
        currencies.update((order.quote,) if is_perp(order.symbol) else (order.base, order.quote))
        if fill is not None:
            _insert_fill(conn, fill, alert_id or "", exchange)
    for fill in changes.fills:
        row = conn.execute(
            "SELECT alert_id, symbol FROM orders WHERE client_order_id = ?",
            (fill.client_order_id,),
        ).fetchone()
        owner = row["alert_id"] if row else ""
        conn.execute(
            """UPDATE orders SET status = 'filled', filled = ?, avg_price = ?, fee = ?,
                   fee_currency = ?, updated_at = ? WHERE client_order_id = ?""",
            (
                str(fill.qty),
                str(fill.price),
                str(fill.fee),
                fill.fee_currency,
                now,
                fill.client_order_id,
            ),
        )
        _insert_fill(conn, fill, owner, exchange)
        symbols.add(fill.symbol)
        currencies.update(split_symbol(fill.symbol))
        if owner:
            settled.append((owner, "filled", f"resting paper {fill_text(fill)}"))
    for order in changes.canceled:
        conn.execute(
            "UPDATE orders SET status = 'canceled', updated_at = ? WHERE client_order_id = ?",
            (now, order.client_order_id),
        )
        currencies.update((order.base, order.quote))
        row = conn.execute(
            "SELECT alert_id FROM orders WHERE client_order_id = ?", (order.client_order_id,)
        ).fetchone()
        if row is not None and row[0]:
            settled.append((row[0], "failed", _expired_text(order)))
    for currency in currencies:
        balance = book.balances.get(currency, Balance(Decimal(0)))
        conn.execute(
            """INSERT INTO balances (mode, exchange, currency, free, used) VALUES (?, ?, ?, ?, ?)
               ON CONFLICT (mode, exchange, currency) DO UPDATE SET free = excluded.free,
                   used = excluded.used""",
            (MODE, exchange, currency, str(balance.free), str(balance.used)),
        )
    if currencies:
        _ensure_all_balances(conn, book, exchange)
    for symbol in symbols:
        _write_position(conn, book, exchange, symbol, now)
    return settled


def _write_position(
    conn: sqlite3.Connection, book: PaperBook, exchange: str, symbol: str, now: float
) -> None:
    if is_perp(symbol):
        perp = book.perp(symbol)
        qty, price, pnl = perp.qty, perp.entry, perp.realized_pnl
        leverage, margin = str(perp.leverage), str(perp.margin)
    else:
        position = book.position(symbol)
        qty, price, pnl = position.qty, position.avg_price, position.realized_pnl
        leverage = margin = None
    conn.execute(
        """INSERT INTO positions (mode, exchange, symbol, qty, avg_price, realized_pnl,
               leverage, margin, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (mode, exchange, symbol) DO UPDATE SET qty = excluded.qty,
               avg_price = excluded.avg_price, realized_pnl = excluded.realized_pnl,
               leverage = excluded.leverage, margin = excluded.margin,
               updated_at = excluded.updated_at""",
        (MODE, exchange, symbol, str(qty), str(price), str(pnl), leverage, margin, now),
    )


def seed_balances(conn: sqlite3.Connection, exchange: str, balances: dict[str, Decimal]) -> None:
    """Store the starting paper balances of an exchange the first time it is used."""
    known = conn.execute(
        "SELECT 1 FROM balances WHERE mode = ? AND exchange = ? LIMIT 1", (MODE, exchange)
    ).fetchone()
    if known is None:
        for currency, amount in balances.items():
            conn.execute(
                "INSERT INTO balances (mode, exchange, currency, free, used)"
                " VALUES (?, ?, ?, ?, 0)",
                (MODE, exchange, currency, str(amount)),
            )


def _ensure_all_balances(conn: sqlite3.Connection, book: PaperBook, exchange: str) -> None:
    """The first write for an exchange stores every starting balance, not only touched ones."""
    for currency, balance in book.balances.items():
        conn.execute(
            """INSERT INTO balances (mode, exchange, currency, free, used) VALUES (?, ?, ?, ?, ?)
               ON CONFLICT (mode, exchange, currency) DO NOTHING""",
            (MODE, exchange, currency, str(balance.free), str(balance.used)),
        )


def _insert_fill(conn: sqlite3.Connection, fill: Fill, alert_id: str, exchange: str) -> None:
    conn.execute(
        """INSERT INTO fills (client_order_id, alert_id, exchange, symbol, side, qty, price, fee,
               fee_currency, realized_pnl, mode, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        (
            fill.client_order_id,
            alert_id,
            exchange,
            fill.symbol,
            fill.side,
            str(fill.qty),
            str(fill.price),
            str(fill.fee),
            fill.fee_currency,
            str(fill.realized_pnl),
            MODE,
            fill.at,
        ),
    )
