"""The group-commit writer: one thread owns the journal's write connection.

Callers hand it small operations; it runs whatever has queued up as one
transaction (each operation inside its own savepoint, so one bad row cannot
sink its neighbours), commits with ``synchronous = FULL`` and only then settles
the callers' futures. Under load many alerts share one fsync (a group commit);
alone, an alert costs one.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from typing import Any

from tvdesk.store.errors import JournalError

log = logging.getLogger(__name__)

MAX_BATCH = 256


class WriteOp:
    """One queued write: ``fn(conn)`` and the future that waits for its commit."""

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


class Writer:
    """The writer thread and its queue; :meth:`submit` hands it an operation.

    An event loop's operations are handed over once per turn of the loop (``submit``
    called on the loop thread queues them in a list that a callback hands over whole), so
    the thread is woken once for all the alerts a turn received, not once for each: a
    thread wake-up costs more than most of the Python an alert needs.
    """

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[WriteOp | list[WriteOp] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._synced = True  # the connection's synchronous mode is FULL
        # Operations of the loop's current turn, not yet handed over, per loop.
        self._turn: dict[asyncio.AbstractEventLoop, list[WriteOp]] = {}

    def start(self, conn: sqlite3.Connection) -> None:
        """Start the thread; from now on it owns ``conn`` and closes it on :meth:`stop`."""
        self._thread = threading.Thread(
            target=self._run, args=(conn,), name="tvdesk-journal", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Finish every queued write, then checkpoint and close."""
        if self._thread is None:
            return
        for loop in list(self._turn):
            self._hand_over(loop)
        self._queue.put(None)
        self._thread.join()
        self._thread = None

    def submit(self, op: WriteOp) -> None:
        """Queue ``op``: at the end of this turn of the running loop, or now off any loop.

        A caller that blocks until the commit (a ``concurrent.futures`` future) is handed
        over at once: its loop, if it has one, cannot turn while it waits.
        """
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None or isinstance(op.future, concurrent.futures.Future):
            self._queue.put(op)
            return
        turn = self._turn.get(loop)
        if turn is None:
            self._turn[loop] = [op]
            loop.call_soon(self._hand_over, loop)
        else:
            turn.append(op)

    def _hand_over(self, loop: asyncio.AbstractEventLoop) -> None:
        turn = self._turn.pop(loop, None)
        if turn:
            self._queue.put(turn[0] if len(turn) == 1 else turn)

    def _run(self, conn: sqlite3.Connection) -> None:
        stopping = False
        carry: list[WriteOp] = []  # taken from the queue past MAX_BATCH: the next batch's
        while not stopping:
            batch, carry = carry, []
            if not batch:
                stopping = self._take(self._queue.get(), batch)
            while len(batch) < MAX_BATCH and not stopping:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                stopping = self._take(item, batch)
            if len(batch) > MAX_BATCH:
                batch, carry = batch[:MAX_BATCH], batch[MAX_BATCH:]
            if batch:
                self._commit_batch(conn, batch)
            if stopping and carry:
                self._commit_batch(conn, carry)
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            log.warning("journal checkpoint at close failed", exc_info=True)
        conn.close()

    @staticmethod
    def _take(item: WriteOp | list[WriteOp] | None, batch: list[WriteOp]) -> bool:
        """Add a queued item to ``batch``; True when it is the stop mark."""
        if item is None:
            return True
        if isinstance(item, list):
            batch.extend(item)
        else:
            batch.append(item)
        return False

    def _commit_batch(self, conn: sqlite3.Connection, batch: list[WriteOp]) -> None:
        results: list[tuple[WriteOp, bool, Any]] = []
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
    def _settle(results: list[tuple[WriteOp, bool, Any]]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[WriteOp, bool, Any]]] = {}
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


def _settle_async(items: list[tuple[WriteOp, bool, Any]]) -> None:
    for op, ok, value in items:
        future = op.future
        assert isinstance(future, asyncio.Future)
        if future.done():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)
