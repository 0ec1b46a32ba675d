"""The journal: every alert, order and fill, in SQLite, durable before anyone is told.

One writer thread owns the write connection. Callers hand it small operations;
it runs whatever has queued up as one transaction (each operation inside its
own savepoint, so one bad row cannot sink its neighbours), commits with
``synchronous = FULL`` and only then settles the callers' futures. Under load
many alerts share one fsync (a group commit); alone, an alert costs one.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

SCHEMA_VERSION = 2
MAX_BATCH = 256
# Unauthenticated failures stored row by row per client per minute; the rest
# of a flood only bumps one summary row.
FLOOD_ROWS_PER_MINUTE = 3

_MIGRATIONS: list[str] = [
    # v1
    """
    CREATE TABLE alerts (
        seq           INTEGER PRIMARY KEY AUTOINCREMENT,  -- arrival order
        alert_id      TEXT NOT NULL UNIQUE,
        received_at   REAL NOT NULL,
        client        TEXT,
        via_tunnel    INTEGER NOT NULL DEFAULT 0,
        status        TEXT NOT NULL,          -- accepted | rejected | duplicate
        error         TEXT,                   -- reply code word when not accepted
        message       TEXT,
        fields        TEXT,                   -- JSON {field: problem} for 422
        client_ref    TEXT,
        body_hash     TEXT,
        duplicate_of  TEXT,
        symbol        TEXT,
        side          TEXT,
        qty           TEXT,
        test          INTEGER NOT NULL DEFAULT 0,
        alert         TEXT,                   -- JSON of the parsed alert
        raw           TEXT,                   -- the body, secrets and credentials removed
        outcome       TEXT,  -- pending | filled | open | rejected | failed | dry_run
        reason        TEXT,
        trail         TEXT NOT NULL DEFAULT '[]',
        latency       TEXT NOT NULL DEFAULT '{}',
        replay_of     TEXT,
        count         INTEGER NOT NULL DEFAULT 1,
        first_seen    REAL,
        last_seen     REAL,
        decided_at    REAL
    );
    -- client_ref is unique forever among accepted alerts: the database says so.
    CREATE UNIQUE INDEX alerts_client_ref ON alerts(client_ref)
        WHERE status = 'accepted' AND client_ref IS NOT NULL;
    CREATE INDEX alerts_body_hash ON alerts(body_hash, received_at)
        WHERE status = 'accepted';
    CREATE INDEX alerts_pending ON alerts(seq) WHERE outcome = 'pending';

    CREATE TABLE orders (
        client_order_id   TEXT PRIMARY KEY,
        alert_id          TEXT NOT NULL,
        exchange          TEXT NOT NULL,
        symbol            TEXT NOT NULL,
        side              TEXT NOT NULL,
        order_type        TEXT NOT NULL,
        qty               TEXT NOT NULL,
        price             TEXT,
        mode              TEXT NOT NULL,      -- paper | live
        -- submitting | open | partially_filled | filled | canceled | rejected | unknown
        status            TEXT NOT NULL,
        filled            TEXT NOT NULL DEFAULT '0',
        avg_price         TEXT,
        fee               TEXT,
        fee_currency      TEXT,
        reserved          TEXT,               -- quote (buy) or base (sell) held for a resting order
        exchange_order_id TEXT,
        expires_at        REAL,
        error             TEXT,
        created_at        REAL NOT NULL,
        updated_at        REAL NOT NULL
    );
    CREATE INDEX orders_alert ON orders(alert_id);
    CREATE INDEX orders_open ON orders(status)
        WHERE status IN ('submitting', 'open', 'partially_filled', 'unknown');

    CREATE TABLE fills (
        id               INTEGER PRIMARY KEY AUTOINCREMENT,
        client_order_id  TEXT NOT NULL,
        alert_id         TEXT NOT NULL,
        exchange         TEXT NOT NULL,
        symbol           TEXT NOT NULL,
        side             TEXT NOT NULL,
        qty              TEXT NOT NULL,
        price            TEXT NOT NULL,
        fee              TEXT NOT NULL,
        fee_currency     TEXT,
        realized_pnl     TEXT NOT NULL DEFAULT '0',
        mode             TEXT NOT NULL,
        at               REAL NOT NULL
    );
    CREATE INDEX fills_order ON fills(client_order_id);
    CREATE INDEX fills_at ON fills(at);

    CREATE TABLE positions (
        mode          TEXT NOT NULL,
        exchange      TEXT NOT NULL,
        symbol        TEXT NOT NULL,
        qty           TEXT NOT NULL,
        avg_price     TEXT NOT NULL,
        realized_pnl  TEXT NOT NULL DEFAULT '0',
        updated_at    REAL NOT NULL,
        PRIMARY KEY (mode, exchange, symbol)
    );

    CREATE TABLE balances (
        mode      TEXT NOT NULL,
        exchange  TEXT NOT NULL,
        currency  TEXT NOT NULL,
        free      TEXT NOT NULL,
        used      TEXT NOT NULL DEFAULT '0',
        PRIMARY KEY (mode, exchange, currency)
    );

    CREATE TABLE state (
        key    TEXT PRIMARY KEY,
        value  TEXT NOT NULL
    );
    """,
    # v2: the mode an alert was accepted in; it trades live only if accepted live.
    """
    ALTER TABLE alerts ADD COLUMN mode TEXT;
    """,
]


class JournalError(Exception):
    """The journal could not take a write (disk full, locked, closed)."""


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


@dataclass(frozen=True)
class Admission:
    """What the journal made of an authenticated alert."""

    alert_id: str
    duplicate_of: str | None = None  # the first alert's id when this one is a repeat


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    if readonly:
        conn = sqlite3.connect(
            f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
        )
    else:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA busy_timeout = 5000")
    conn.row_factory = sqlite3.Row
    return conn


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection) -> None:
    version = schema_version(conn)
    if version > SCHEMA_VERSION:
        raise JournalError(
            f"the journal was written by a newer tvdesk (schema {version}, this one knows "
            f"{SCHEMA_VERSION}): upgrade tvdesk or use another --data-dir"
        )
    for number in range(version, SCHEMA_VERSION):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _split_sql(_MIGRATIONS[number]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def _split_sql(script: str) -> list[str]:
    statements, current = [], []
    for line in script.splitlines():
        current.append(line)
        if sqlite3.complete_statement("\n".join(current)):
            statements.append("\n".join(current))
            current = []
    return [s for s in statements if s.strip()]


class _Op:
    __slots__ = ("durable", "fn", "future", "loop", "savepoint")

    def __init__(
        self,
        fn: Callable[[sqlite3.Connection], Any],
        future: asyncio.Future[Any] | concurrent.futures.Future[Any] | None,
        loop: asyncio.AbstractEventLoop | None,
        savepoint: bool = True,
        durable: bool = True,
    ) -> None:
        self.fn = fn
        self.future = future
        self.loop = loop
        self.durable = durable
        # An operation that writes at most one statement needs no savepoint: a
        # failing statement undoes itself. Skipping it saves two round trips.
        self.savepoint = savepoint


class Journal:
    """The SQLite journal with its group-committing writer thread."""

    def __init__(self, path: Path, *, busy_timeout_ms: int = 5000) -> None:
        self.path = path
        self._busy_timeout_ms = busy_timeout_ms
        self._queue: queue.SimpleQueue[_Op | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._closed = True
        self._synced = True  # the connection's synchronous mode is FULL
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
        self._thread = threading.Thread(
            target=self._run, args=(conn,), name="tvdesk-journal", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        """Finish every queued write, then checkpoint and close."""
        if self._thread is None:
            return
        self._closed = True
        self._queue.put(None)
        self._thread.join()
        self._thread = None

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
        self._queue.put(_Op(fn, future, loop, savepoint=not single, durable=durable))
        return await future

    def run_sync(self, fn: Callable[[sqlite3.Connection], T], timeout: float = 30.0) -> T:
        """The blocking twin of :meth:`run`, for threads that are not the event loop."""
        if self._closed:
            raise JournalError("the journal is closed")
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._queue.put(_Op(fn, future, None))
        return future.result(timeout)

    def run_nowait(self, fn: Callable[[sqlite3.Connection], Any], *, durable: bool = False) -> None:
        """Queue a one-statement write nobody waits for (refused requests).

        Such writes ride along with the next synced commit; ``durable=True`` makes
        their own commit synced, for a write that must survive a power cut.
        """
        if not self._closed:
            self._queue.put(_Op(fn, None, None, savepoint=False, durable=durable))

    # -- the door's writes -------------------------------------------------

    async def admit(self, record: AlertRecord, dedupe_window_s: float) -> Admission:
        """Journal an authenticated request; an accepted one is checked for duplicates.

        Runs on the single writer thread, so the duplicate check and the insert
        are one atomic step with respect to every other alert.
        """

        def op(conn: sqlite3.Connection) -> Admission:
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
                    record.status = "duplicate"
                    record.error = "duplicate"
                    # Refused before any exchange was contacted: DESIGN's "rejected".
                    record.outcome = "rejected"
                    record.message = _duplicate_message(record, first)
                    record.reason = record.message
                    _insert_alert(conn, record, duplicate_of=first)
                    return Admission(record.alert_id, duplicate_of=first)
            _insert_alert(conn, record)
            return Admission(record.alert_id)

        return await self.run(op, single=True)

    def record_nowait(self, record: AlertRecord) -> None:
        """Journal a refused request without waiting for the commit."""
        self.run_nowait(lambda conn: _insert_alert(conn, record))

    def refuse_unauthenticated(self, record: AlertRecord) -> None:
        """Journal a refused, unauthenticated request without waiting.

        The first few per client and minute are stored as they are; the rest
        of a flood only count up one summary row, so nobody can fill the
        disk by knocking.
        """
        minute = int(record.received_at // 60)
        key = (record.client, record.error or "", minute)
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
            record.message = f"{record.message} (repeated requests from {record.client} summarised)"
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

    # -- the writer thread -------------------------------------------------

    def _run(self, conn: sqlite3.Connection) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            batch: list[_Op] = []
            if first is None:
                stopping = True
            else:
                batch.append(first)
            while len(batch) < MAX_BATCH:
                try:
                    op = self._queue.get_nowait()
                except queue.Empty:
                    break
                if op is None:
                    stopping = True
                    continue
                batch.append(op)
            if batch:
                self._commit_batch(conn, batch)
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            log.warning("journal checkpoint at close failed", exc_info=True)
        conn.close()

    def _commit_batch(self, conn: sqlite3.Connection, batch: list[_Op]) -> None:
        results: list[tuple[_Op, bool, Any]] = []
        durable = any(op.durable for op in batch)
        if durable != self._synced:
            conn.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
            self._synced = durable
        try:
            conn.execute("BEGIN IMMEDIATE")
            for op in batch:
                if op.savepoint:
                    conn.execute("SAVEPOINT op")
                try:
                    value = op.fn(conn)
                except Exception as exc:
                    if isinstance(exc, sqlite3.Error):
                        exc = JournalError(f"the journal refused a write: {exc}")
                    if op.savepoint:
                        conn.execute("ROLLBACK TO op")
                        conn.execute("RELEASE op")
                    results.append((op, False, exc))
                else:
                    if op.savepoint:
                        conn.execute("RELEASE op")
                    results.append((op, True, value))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            log.error("journal commit failed: %s", exc)
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            error = JournalError(f"the journal could not commit: {exc}")
            results = [(op, False, error) for op in batch]
        self._settle(results)

    @staticmethod
    def _settle(results: list[tuple[_Op, bool, Any]]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Op, bool, Any]]] = {}
        for item in results:
            op, ok, value = item
            if op.future is None:
                if not ok:
                    log.error("journal write failed: %s", value)
                continue
            if op.loop is None:
                assert isinstance(op.future, concurrent.futures.Future)
                if ok:
                    op.future.set_result(value)
                else:
                    op.future.set_exception(value)
            else:
                by_loop.setdefault(op.loop, []).append(item)
        for loop, items in by_loop.items():
            # One wake-up of the event loop per batch, not one per alert.
            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits
                loop.call_soon_threadsafe(_settle_async, items)


def _settle_async(items: list[tuple[_Op, bool, Any]]) -> None:
    for op, ok, value in items:
        future = op.future
        assert isinstance(future, asyncio.Future)
        if future.done():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


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
               outcome, reason, trail, latency, replay_of, first_seen, last_seen, mode)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
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
        ),
    )
