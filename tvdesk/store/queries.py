"""Read-only views of the journal for the front-ends (window, CLI, control port).

Reads run in a worker thread on their own read-only connection, so a large
page never stalls the event loop that is answering TradingView.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from tvdesk.store.schema import connect

_ALERT_COLUMNS = (
    "seq, alert_id, received_at, client, status, error, message, client_ref, symbol, side, qty,"
    " test, outcome, reason, latency, replay_of, duplicate_of, count"
)


class Queries:
    def __init__(self, journal_path: Path) -> None:
        self._path = journal_path
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            if self._conn is None:
                self._conn = connect(self._path, readonly=True)
            return self._conn.execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    async def alerts_page(
        self, *, limit: int = 200, before_seq: int | None = None, after_seq: int | None = None
    ) -> list[dict[str, Any]]:
        """Newest first; ``before_seq`` pages back, ``after_seq`` fetches what is new."""
        return await asyncio.to_thread(self._alerts_page, limit, before_seq, after_seq)

    def _alerts_page(
        self, limit: int, before_seq: int | None, after_seq: int | None
    ) -> list[dict[str, Any]]:
        where, params = [], []
        if before_seq is not None:
            where.append("seq < ?")
            params.append(before_seq)
        if after_seq is not None:
            where.append("seq > ?")
            params.append(after_seq)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self._read(
            f"SELECT {_ALERT_COLUMNS} FROM alerts {clause} ORDER BY seq DESC LIMIT ?",
            (*params, limit),
        )
        alerts = [_alert_summary(r) for r in rows]
        if alerts:
            ids = [a["alert_id"] for a in alerts]
            marks = ",".join("?" * len(ids))
            orders: dict[str, list[dict[str, Any]]] = {}
            for row in self._read(
                f"SELECT * FROM orders WHERE alert_id IN ({marks}) ORDER BY created_at", tuple(ids)
            ):
                orders.setdefault(row["alert_id"], []).append(dict(row))
            for alert in alerts:
                alert["orders"] = orders.get(alert["alert_id"], [])
        return alerts

    async def alert(self, alert_id: str) -> dict[str, Any] | None:
        """One alert in full: redacted body, field problems, decision trail, orders, fills."""
        return await asyncio.to_thread(self._alert, alert_id)

    def _alert(self, alert_id: str) -> dict[str, Any] | None:
        rows = self._read("SELECT * FROM alerts WHERE alert_id = ?", (alert_id,))
        if not rows:
            return None
        row = rows[0]
        record = _alert_summary(row)
        record["raw"] = row["raw"]
        record["fields"] = json.loads(row["fields"]) if row["fields"] else None
        record["trail"] = json.loads(row["trail"] or "[]")
        record["orders"] = [
            dict(r) for r in self._read("SELECT * FROM orders WHERE alert_id = ?", (alert_id,))
        ]
        record["fills"] = [
            dict(r) for r in self._read("SELECT * FROM fills WHERE alert_id = ?", (alert_id,))
        ]
        return record

    async def replays_of(self, alert_id: str) -> list[str]:
        """The ids of the alerts that replayed ``alert_id``, oldest first."""
        rows = await asyncio.to_thread(
            self._read, "SELECT alert_id FROM alerts WHERE replay_of = ? ORDER BY seq", (alert_id,)
        )
        return [str(row["alert_id"]) for row in rows]

    async def positions(self, mode: str) -> list[dict[str, Any]]:
        """Each position: ``qty`` signed (below 0 a short) and ``side``; on a perpetual its
        ``leverage`` and ``margin`` (None on spot); ``avg_price`` is the entry."""
        rows = await asyncio.to_thread(
            self._read,
            "SELECT exchange, symbol, qty, avg_price, realized_pnl, leverage, margin, updated_at"
            " FROM positions WHERE mode = ? ORDER BY exchange, symbol",
            (mode,),
        )
        return [_position(r) for r in rows]

    async def balances(self, mode: str) -> list[dict[str, Any]]:
        rows = await asyncio.to_thread(
            self._read,
            "SELECT exchange, currency, free, used FROM balances WHERE mode = ?"
            " ORDER BY exchange, currency",
            (mode,),
        )
        return [
            {
                "exchange": r["exchange"],
                "currency": r["currency"],
                "free": Decimal(r["free"]),
                "used": Decimal(r["used"]),
            }
            for r in rows
        ]

    async def today(self, now: float, mode: str | None = None) -> dict[str, Any]:
        """Today's (UTC) counters: alerts, orders, fills, realised P&L (of ``mode``'s fills)."""
        return await asyncio.to_thread(self._today, now, mode)

    def _today(self, now: float, mode: str | None = None) -> dict[str, Any]:
        start = (
            datetime.fromtimestamp(now, UTC)
            .replace(hour=0, minute=0, second=0, microsecond=0)
            .timestamp()
        )
        alerts = self._read(
            "SELECT status, COUNT(*) AS n FROM alerts WHERE received_at >= ? GROUP BY status",
            (start,),
        )
        orders = self._read("SELECT COUNT(*) FROM orders WHERE created_at >= ?", (start,))
        if mode is None:
            fills = self._read("SELECT realized_pnl FROM fills WHERE at >= ?", (start,))
        else:  # paper and live P&L are never added together (the daily loss limit neither)
            fills = self._read(
                "SELECT realized_pnl FROM fills WHERE at >= ? AND mode = ?", (start, mode)
            )
        pnl = sum((Decimal(r[0]) for r in fills), Decimal(0))
        by_status = {r["status"]: r["n"] for r in alerts}
        return {
            "alerts": sum(by_status.values()),
            "accepted": by_status.get("accepted", 0),
            "refused": by_status.get("rejected", 0) + by_status.get("duplicate", 0),
            "orders": orders[0][0],
            "fills": len(fills),
            "realized_pnl": str(pnl),
        }

    async def pnl_history(self, mode: str, points: int = 500) -> list[tuple[float, Decimal]]:
        """Cumulative realised P&L after each fill, oldest first, thinned to ``points``."""
        rows = await asyncio.to_thread(
            self._read, "SELECT at, realized_pnl FROM fills WHERE mode = ? ORDER BY id", (mode,)
        )
        total, series = Decimal(0), []
        for row in rows:
            total += Decimal(row["realized_pnl"])
            series.append((float(row["at"]), total))
        step = max(1, -(-len(series) // points))
        return series[::-1][::step][::-1]


def _position(r: sqlite3.Row) -> dict[str, Any]:
    qty = Decimal(r["qty"])
    perp = ":" in r["symbol"]  # a perpetual's ccxt symbol names its settle currency
    # A perpetual row from before schema v5 was paid in full: 1×, its value as margin.
    margin = r["margin"] if r["margin"] is not None else abs(qty) * Decimal(r["avg_price"])
    return {
        "exchange": r["exchange"],
        "symbol": r["symbol"],
        "side": "long" if qty > 0 else "short" if qty < 0 else "flat",
        "qty": qty,
        "avg_price": Decimal(r["avg_price"]),
        "realized_pnl": Decimal(r["realized_pnl"]),
        "leverage": Decimal(r["leverage"] or 1) if perp else None,
        "margin": Decimal(margin) if perp else None,
        "updated_at": r["updated_at"],
    }


def _alert_summary(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "seq": row["seq"],
        "alert_id": row["alert_id"],
        "received_at": row["received_at"],
        "client": row["client"],
        "status": row["status"],
        "error": row["error"],
        "message": row["message"],
        "client_ref": row["client_ref"],
        "symbol": row["symbol"],
        "side": row["side"],
        "qty": row["qty"],
        "test": bool(row["test"]),
        "outcome": row["outcome"],
        "reason": row["reason"],
        "latency_ms": json.loads(row["latency"] or "{}"),
        "replay_of": row["replay_of"],
        "duplicate_of": row["duplicate_of"],
        "count": row["count"],
    }
