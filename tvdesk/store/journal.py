"""The journal: every alert, order and fill, in SQLite, durable before anyone is told.

:class:`Journal` is what the door, the worker and the brokers hold: it opens
(and migrates) the file, hands writes to the group-commit writer
(:mod:`tvdesk.store.writer`) and journals the door's requests, counting a
flood of unauthenticated ones into one summary row.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from tvdesk.core.network import network_of
from tvdesk.store.errors import JournalError
from tvdesk.store.schema import connect, migrate
from tvdesk.store.writer import WriteOp, Writer

T = TypeVar("T")

# Unauthenticated failures stored row by row per client per minute; the rest
# of a flood only bumps one summary row.
FLOOD_ROWS_PER_MINUTE = 3


@dataclass
class AlertRecord:
    """One request at the door, as the journal keeps it."""

    alert_id: str
    received_at: float
    client: str
    status: str  # accepted | rejected | duplicate
    error: str | None = None
    message: str | None = None
    fields: dict[str, str] | None = None
    client_ref: str | None = None
    body_hash: str | None = None
    symbol: str | None = None
    side: str | None = None
    qty: str | None = None
    test: bool = False
    alert: dict[str, Any] | None = None
    raw: str | None = None
    outcome: str | None = None
    reason: str | None = None
    trail: list[dict[str, Any]] = field(default_factory=list)
    latency: dict[str, float] = field(default_factory=dict)
    replay_of: str | None = None
    via_tunnel: bool = False
    mode: str | None = None  # paper | live, for accepted alerts: the engine's mode then
    # sha256 hex of the exact body of a request signed by a header: taken once, ever.
    signed_hash: str | None = None
    # "flatten" for the kill switch's own alerts: set by the engine alone, never by the door.
    origin: str | None = None


@dataclass(frozen=True)
class Admission:
    """What the journal made of an authenticated alert."""

    alert_id: str
    duplicate_of: str | None = None  # the first alert's id when this one is a repeat


class Journal:
    """The SQLite journal with its group-committing writer thread."""

    def __init__(self, path: Path, *, busy_timeout_ms: int = 5000) -> None:
        self.path = path
        self._busy_timeout_ms = busy_timeout_ms
        self._writer = Writer()
        self._closed = True
        self._flood: dict[tuple[str, str, int], tuple[int, str | None]] = {}

    # -- lifecycle ---------------------------------------------------------

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = connect(self.path)
            conn.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
            migrate(conn)
        except sqlite3.Error as exc:
            raise JournalError(f"cannot open the journal {self.path}: {exc}") from exc
        self._closed = False
        self._writer.start(conn)

    def close(self) -> None:
        """Finish every queued write, then checkpoint and close."""
        self._closed = True
        self._writer.stop()

    @property
    def is_open(self) -> bool:
        return not self._closed

    # -- submitting work ---------------------------------------------------

    async def run(
        self,
        fn: Callable[[sqlite3.Connection], T],
        *,
        single: bool = False,
        durable: bool = True,
    ) -> T:
        """Run ``fn(conn)`` in the writer's next transaction; return after the commit.

        ``single``: ``fn`` writes with at most one statement (no savepoint needed).
        ``durable=False``: the commit may skip its fsync — only for writes whose loss
        in a power cut is harmless because they are redone from what *was* synced
        (a paper fill with its alert's outcome: lost together, the alert is still
        pending and runs again). The next durable commit syncs them too.
        """
        if self._closed:
            raise JournalError("the journal is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._writer.submit(WriteOp(fn, future, loop, savepoint=not single, durable=durable))
        return await future

    def run_sync(self, fn: Callable[[sqlite3.Connection], T], timeout: float = 30.0) -> T:
        """The blocking twin of :meth:`run`, for threads that are not the event loop."""
        if self._closed:
            raise JournalError("the journal is closed")
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._writer.submit(WriteOp(fn, future, None))
        return future.result(timeout)

    def run_nowait(self, fn: Callable[[sqlite3.Connection], Any], *, durable: bool = False) -> None:
        """Queue a one-statement write nobody waits for (refused requests).

        Such writes ride along with the next synced commit; ``durable=True`` makes
        their own commit synced, for a write that must survive a power cut.
        """
        if not self._closed:
            self._writer.submit(WriteOp(fn, None, None, savepoint=False, durable=durable))

    # -- the door's writes -------------------------------------------------

    async def admit(self, record: AlertRecord, dedupe_window_s: float) -> Admission:
        """Journal an authenticated request; an accepted one is checked for duplicates.

        Runs on the single writer thread, so the duplicate check and the insert
        are one atomic step with respect to every other alert. A signed request
        (``record.signed_hash``) whose body was journaled before is a duplicate
        whatever it is and whenever it comes: a captured signed request cannot be
        replayed, not even after a restart.
        """

        def op(conn: sqlite3.Connection) -> Admission:
            if record.signed_hash is None:
                return admit_once(conn)
            row = conn.execute(
                "SELECT alert_id FROM signed_bodies WHERE body_hash = ?", (record.signed_hash,)
            ).fetchone()
            if row is not None:
                return _insert_duplicate(conn, record, row[0], _signed_again_message(row[0]))
            admission = admit_once(conn)
            conn.execute(
                "INSERT INTO signed_bodies (body_hash, alert_id, seen_at) VALUES (?, ?, ?)",
                (
                    record.signed_hash,
                    admission.duplicate_of or admission.alert_id,
                    record.received_at,
                ),
            )
            return admission

        def admit_once(conn: sqlite3.Connection) -> Admission:
            if record.status == "accepted" and record.client_ref is not None:
                # The unique index answers "seen before?" as part of the insert.
                try:
                    _insert_alert(conn, record)
                    return Admission(record.alert_id)
                except sqlite3.IntegrityError:
                    pass
            if record.status == "accepted":
                first = _find_duplicate(conn, record, dedupe_window_s)
                if first is not None:
                    return _insert_duplicate(conn, record, first, _duplicate_message(record, first))
            _insert_alert(conn, record)
            return Admission(record.alert_id)

        # A signed request writes two rows: they need the savepoint to go together.
        return await self.run(op, single=record.signed_hash is None)

    def record_nowait(self, record: AlertRecord) -> None:
        """Journal a refused request without waiting for the commit."""
        self.run_nowait(lambda conn: _insert_alert(conn, record))

    def refuse_unauthenticated(self, record: AlertRecord) -> None:
        """Journal a refused, unauthenticated request without waiting.

        The first few per client network (/24 IPv4, /64 IPv6) and minute are
        stored as they are; the rest of a flood only count up one summary row,
        so nobody can fill the disk by knocking, nor by hopping addresses.
        """
        minute = int(record.received_at // 60)
        network = network_of(record.client)
        key = (network, record.error or "", minute)
        seen, summary_id = self._flood.get(key, (0, None))
        seen += 1
        if len(self._flood) > 10_000:
            self._flood = {k: v for k, v in self._flood.items() if k[2] >= minute}
        if seen <= FLOOD_ROWS_PER_MINUTE:
            self._flood[key] = (seen, None)
            self.run_nowait(lambda conn: _insert_alert(conn, record))
            return
        if summary_id is None:
            summary_id = record.alert_id
            self._flood[key] = (seen, summary_id)
            record.message = f"{record.message} (repeated requests from {network} summarised)"
            self.run_nowait(lambda conn: _insert_alert(conn, record))
            return
        self._flood[key] = (seen, summary_id)
        at = record.received_at
        self.run_nowait(
            lambda conn: conn.execute(
                "UPDATE alerts SET count = count + 1, last_seen = ? WHERE alert_id = ?",
                (at, summary_id),
            )
        )


def read_state(conn: sqlite3.Connection, key: str) -> str | None:
    """A value of the ``state`` table (None when unset)."""
    row = conn.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def write_state(conn: sqlite3.Connection, key: str, value: str | None) -> None:
    """Set (or, with None, delete) a value of the ``state`` table."""
    if value is None:
        conn.execute("DELETE FROM state WHERE key = ?", (key,))
    else:
        conn.execute(
            "INSERT INTO state (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )


def _find_duplicate(
    conn: sqlite3.Connection, record: AlertRecord, dedupe_window_s: float
) -> str | None:
    if record.client_ref is not None:
        row = conn.execute(
            "SELECT alert_id FROM alerts WHERE client_ref = ? AND status = 'accepted'",
            (record.client_ref,),
        ).fetchone()
        return row[0] if row else None
    if record.body_hash is None or dedupe_window_s <= 0:
        return None
    row = conn.execute(
        "SELECT alert_id FROM alerts WHERE body_hash = ? AND status = 'accepted'"
        " AND received_at >= ? ORDER BY seq LIMIT 1",
        (record.body_hash, record.received_at - dedupe_window_s),
    ).fetchone()
    return row[0] if row else None


def _insert_duplicate(
    conn: sqlite3.Connection, record: AlertRecord, first: str, message: str
) -> Admission:
    record.status = "duplicate"
    record.error = "duplicate"
    record.fields = None  # a refusal of its own, not the first one's field problems
    # Refused before any exchange was contacted: DESIGN's "rejected".
    record.outcome = "rejected"
    record.message = message
    record.reason = message
    _insert_alert(conn, record, duplicate_of=first)
    return Admission(record.alert_id, duplicate_of=first)


def _signed_again_message(first: str) -> str:
    return (
        f"this exact signed body was already received (alert {first}); a signed request "
        "is taken once, so that a captured one cannot be replayed: to send another alert, "
        "change the body (a new client_ref or timestamp)"
    )


def _duplicate_message(record: AlertRecord, first: str) -> str:
    if record.client_ref is not None:
        return (
            f"client_ref {record.client_ref!r} was already used by alert {first}; "
            "each alert needs its own (TradingView: include {{timenow}} in it)"
        )
    return (
        f"the same alert arrived within the dedupe window (alert {first}); "
        "add a client_ref to tell repeated alerts apart"
    )


def _insert_alert(
    conn: sqlite3.Connection, record: AlertRecord, duplicate_of: str | None = None
) -> None:
    conn.execute(
        """INSERT INTO alerts (alert_id, received_at, client, via_tunnel, status, error, message,
               fields, client_ref, body_hash, duplicate_of, symbol, side, qty, test, alert, raw,
               outcome, reason, trail, latency, replay_of, first_seen, last_seen, mode, origin)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        (
            record.alert_id,
            record.received_at,
            record.client,
            int(record.via_tunnel),
            record.status,
            record.error,
            record.message,
            json.dumps(record.fields) if record.fields else None,
            record.client_ref,
            record.body_hash,
            duplicate_of,
            record.symbol,
            record.side,
            record.qty,
            int(record.test),
            json.dumps(record.alert) if record.alert is not None else None,
            record.raw,
            record.outcome,
            record.reason,
            json.dumps(record.trail),
            json.dumps(record.latency),
            record.replay_of,
            record.received_at,
            record.received_at,
            record.mode,
            record.origin,
        ),
    )
