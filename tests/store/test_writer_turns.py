"""The journal writer takes an event loop's writes once per turn of the loop: they still
commit in the order they were made, none is lost at close, and a blocking caller is never
kept waiting for a turn its own wait prevents."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from contextlib import closing
from pathlib import Path

from tvdesk.store.errors import JournalError
from tvdesk.store.journal import Journal, read_state, write_state


def _write(key: str, value: str, ran: list[str]):
    def op(conn: sqlite3.Connection) -> str:
        ran.append(key)
        write_state(conn, key, value)
        return key

    return op


def _state(path: Path, key: str) -> str | None:
    with closing(sqlite3.connect(path)) as conn:
        return read_state(conn, key)


async def test_writes_of_one_turn_commit_in_the_order_they_were_made(tmp_path: Path):
    journal = Journal(tmp_path / "journal.sqlite3")
    journal.open()
    ran: list[str] = []
    try:
        # One turn of the loop: awaited, fire-and-forget and failing writes, interleaved.
        async def nowait() -> None:
            journal.run_nowait(_write("b", "2", ran))

        def broken(conn: sqlite3.Connection) -> None:
            ran.append("broken")
            conn.execute("INSERT INTO no_such_table VALUES (1)")

        first, _, failing, last = await asyncio.gather(
            journal.run(_write("a", "1", ran)),
            nowait(),
            journal.run(broken),
            journal.run(_write("c", "3", ran)),
            return_exceptions=True,
        )
        assert (first, last) == ("a", "c")
        # Refused alone: its neighbours committed.
        assert isinstance(failing, JournalError) and "no_such_table" in str(failing)
    finally:
        journal.close()
    assert ran == ["a", "b", "broken", "c"]
    path = tmp_path / "journal.sqlite3"
    assert [_state(path, k) for k in "abc"] == ["1", "2", "3"]


async def test_a_write_queued_just_before_close_is_committed(tmp_path: Path):
    journal = Journal(tmp_path / "journal.sqlite3")
    journal.open()
    ran: list[str] = []
    # Queued in this turn, closed in the same turn: the loop never turned in between.
    journal.run_nowait(_write("kill_switch", "on", ran), durable=True)
    journal.close()
    assert ran == ["kill_switch"]
    assert _state(tmp_path / "journal.sqlite3", "kill_switch") == "on"


async def test_a_blocking_write_from_the_loop_thread_or_another_thread_returns(tmp_path: Path):
    journal = Journal(tmp_path / "journal.sqlite3")
    journal.open()
    ran: list[str] = []
    try:
        # run_sync blocks its thread until the commit, so it cannot wait for a loop turn.
        assert journal.run_sync(_write("here", "1", ran), timeout=10) == "here"
        result: list[str] = []
        thread = threading.Thread(
            target=lambda: result.append(journal.run_sync(_write("there", "2", ran), timeout=10))
        )
        thread.start()
        thread.join(15)
        assert result == ["there"]
    finally:
        journal.close()
    assert _state(tmp_path / "journal.sqlite3", "there") == "2"
