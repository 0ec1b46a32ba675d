"""The live position tvdesk's own fills built, one market at a time, in the journal.

Spot: average cost, never below 0; coins held before tvdesk bought them are no position of
tvdesk's, so selling them realises nothing. A buy's fee is part of its cost (a fee in the
base coin arrives as fewer coins).

Perpetuals (``BTC/USDT:USDT``): signed, below 0 a short, exactly as paper keeps them
(core/perp_book.py): a sell from flat opens a short, a reduction realises (exit − entry) ×
the qty closed at the average entry (a short: entry − exit), and every fill's fee is
realised P&L at once, the entry price holds no fees. A fee in another currency than the
settle one (BNB) cannot be valued here and stays out of the P&L. The margin and leverage
are the exchange's (brokers/positions.py reads them), never estimated here.
"""

from __future__ import annotations

import sqlite3
from decimal import Decimal

from tvdesk.core.perp_book import PerpPosition, perp_fill
from tvdesk.core.symbols import split_symbol

MODE = "live"
# The exchange has already filled the order: whatever margin it needed was there.
_FILLED_ANYWAY = Decimal("Infinity")


def apply_fill(
    conn: sqlite3.Connection,
    order: sqlite3.Row,
    qty: Decimal,
    price: Decimal,
    fee: Decimal,
    fee_currency: str | None,
    now: float,
) -> Decimal:
    """Update ``order``'s market position with a real fill; the realised P&L, net of fees."""
    exchange, symbol = order["exchange"], order["symbol"]
    row = conn.execute(
        "SELECT qty, avg_price, realized_pnl FROM positions"
        " WHERE mode = ? AND exchange = ? AND symbol = ?",
        (MODE, exchange, symbol),
    ).fetchone()
    held = Decimal(row["qty"]) if row else Decimal(0)
    avg = Decimal(row["avg_price"]) if row else Decimal(0)
    realized = Decimal(row["realized_pnl"]) if row else Decimal(0)
    fill = (order["side"], qty, price, fee, fee_currency)
    if ":" in symbol:
        held, avg, pnl = _perp(symbol, held, avg, *fill)
    else:
        held, avg, pnl = _spot(symbol, held, avg, *fill)
    conn.execute(
        """INSERT INTO positions (mode, exchange, symbol, qty, avg_price, realized_pnl, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (mode, exchange, symbol) DO UPDATE SET qty = excluded.qty,
               avg_price = excluded.avg_price, realized_pnl = excluded.realized_pnl,
               updated_at = excluded.updated_at""",
        (MODE, exchange, symbol, str(held), str(avg), str(realized + pnl), now),
    )
    return pnl


def _perp(
    symbol: str,
    held: Decimal,
    entry: Decimal,
    side: str,
    qty: Decimal,
    price: Decimal,
    fee: Decimal,
    fee_currency: str | None,
) -> tuple[Decimal, Decimal, Decimal]:
    """(signed qty, average entry, realised P&L of this fill) after a perpetual's fill."""
    settle = symbol.partition(":")[2]
    done = perp_fill(
        PerpPosition(held, entry),
        side=side,
        qty=qty,
        price=price,
        fee=fee if fee_currency == settle else Decimal(0),
        leverage=None,
        free=_FILLED_ANYWAY,
        symbol=symbol,
        settle=settle,
    )
    return done.position.qty, done.position.entry, done.realized


def _spot(
    symbol: str,
    held: Decimal,
    avg: Decimal,
    side: str,
    qty: Decimal,
    price: Decimal,
    fee: Decimal,
    fee_currency: str | None,
) -> tuple[Decimal, Decimal, Decimal]:
    """(coins held, average cost, realised P&L of this fill) after a spot fill."""
    base, quote = split_symbol(symbol)
    # A fee in the base currency arrives as fewer coins; one in another currency (BNB)
    # cannot be valued here and stays out of the P&L.
    fee_quote = fee if fee_currency == quote else fee * price if fee_currency == base else 0
    pnl = Decimal(0)
    if side == "buy":
        received = qty - fee if fee_currency == base else qty
        cost = qty * price + (fee if fee_currency == quote else 0)
        if held + received > 0:
            avg = (held * avg + cost) / (held + received)
        held += received
    elif held > 0:  # coins held before tvdesk bought them realise no P&L of tvdesk's
        closed = min(qty, held)
        pnl = (price - avg) * closed - fee_quote * closed / qty
        held -= closed
        if held == 0:
            avg = Decimal(0)
    return held, avg, pnl
