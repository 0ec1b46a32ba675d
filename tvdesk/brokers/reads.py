"""The live broker's journal reads: its orders and positions (``ledger`` holds the writes).

One read-only connection, opened on first use and used off the loop, one query at a time.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import TypeVar

from tvdesk.brokers import ledger
from tvdesk.brokers.ledger import MODE
from tvdesk.brokers.protect import is_protective
from tvdesk.core.symbols import Mapping
from tvdesk.store.journal import Journal
from tvdesk.store.schema import connect

T = TypeVar("T")


class LedgerReader:
    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self._reader: sqlite3.Connection | None = None
        self._read_lock = threading.Lock()

    def close(self) -> None:
        with self._read_lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None

    async def read(self, query: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``query`` on the broker's read-only journal connection, off the loop."""

        def run() -> T:
            with self._read_lock:
                if self._reader is None:
                    self._reader = connect(self.journal.path, readonly=True)
                return query(self._reader)

        return await asyncio.to_thread(run)

    async def position(self, mapping: Mapping) -> Decimal:
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

    async def own_protection(self, mapping: Mapping, side: str) -> list[sqlite3.Row]:
        """tvdesk's open stop-loss / take-profit orders on this market that ``side`` trades."""
        return [
            row
            for row in await self.rows(ledger.OPEN)
            if (row["exchange"], row["symbol"], row["side"])
            == (mapping.exchange, mapping.symbol, side)
            and is_protective(row["client_order_id"], row["alert_id"])
        ]


def remaining(row: sqlite3.Row) -> Decimal:
    """What an open order has yet to fill."""
    return max(Decimal(row["qty"]) - Decimal(row["filled"] or 0), Decimal(0))
