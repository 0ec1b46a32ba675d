"""The journal file itself: WAL, synced commits for what must survive, and its schema."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from tests.kit.engine_proc import run_cli
from tvdesk.store.errors import JournalError
from tvdesk.store.journal import Journal
from tvdesk.store.schema import SCHEMA_VERSION

FULL, NORMAL = 2, 1


def synchronous(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA synchronous").fetchone()[0])


async def test_admissions_commit_synced_and_only_redoable_writes_skip_the_fsync(tmp_path: Path):
    journal = Journal(tmp_path / "journal.sqlite3")
    journal.open()
    try:
        assert await journal.run(synchronous) == FULL  # every run() is durable by default
        # A paper outcome (durable=False) alone may skip the fsync: lost, it is redone.
        assert await journal.run(synchronous, durable=False) == NORMAL
        assert await journal.run(synchronous) == FULL
    finally:
        journal.close()
    with closing(sqlite3.connect(tmp_path / "journal.sqlite3")) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_journal_from_a_newer_tvdesk_is_refused_by_the_engine_and_the_export(tmp_path: Path):
    data = tmp_path / "data"
    data.mkdir()
    with closing(sqlite3.connect(data / "journal.sqlite3")) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")

    with pytest.raises(JournalError, match=r"newer tvdesk .*upgrade tvdesk or use another"):
        Journal(data / "journal.sqlite3").open()
    exported = run_cli("export", "--data-dir", str(data))
    assert exported.returncode != 0 and exported.stdout == ""
    assert exported.stderr.startswith("tvdesk: ") and "Traceback" not in exported.stderr
    assert f"schema {SCHEMA_VERSION + 1}" in exported.stderr
    started = run_cli(
        "--headless", "--no-tunnel", "--port", "0", "--data-dir", str(data),
        env={"TVDESK_WEBHOOK_SECRET": "journal-test-secret-123"},
    )  # fmt: skip
    assert started.returncode != 0 and "Traceback" not in started.stderr
    assert "newer tvdesk" in started.stderr
    with closing(sqlite3.connect(data / "journal.sqlite3")) as conn:  # left as it was
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1


async def test_the_database_itself_refuses_a_second_accepted_alert_with_one_client_ref(
    tmp_path: Path,
):
    journal = Journal(tmp_path / "journal.sqlite3")
    journal.open()
    journal.close()
    insert = (
        "INSERT INTO alerts (alert_id, received_at, status, client_ref, outcome)"
        " VALUES (?, 0, ?, 'ref-1', 'pending')"
    )
    with closing(sqlite3.connect(tmp_path / "journal.sqlite3")) as conn:
        conn.execute(insert, ("first", "accepted"))
        conn.execute(insert, ("refused-copy", "duplicate"))  # refusals may repeat it
        with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
            conn.execute(insert, ("second", "accepted"))


@pytest.mark.parametrize("version", [1, 2])
def test_an_older_journal_exports_as_it_is(tmp_path: Path, version: int):
    from tvdesk.store.schema import _MIGRATIONS, _split_sql

    data = tmp_path / "data"
    data.mkdir()
    with closing(sqlite3.connect(data / "journal.sqlite3")) as conn:
        for number in range(version):
            for statement in _split_sql(_MIGRATIONS[number]):
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {version}")
        conn.execute(
            "INSERT INTO alerts (alert_id, received_at, client, status, outcome)"
            " VALUES ('01OLDJOURNAL', 1.0, '127.0.0.1', 'accepted', 'pending')"
        )
        conn.commit()

    exported = run_cli("export", "--data-dir", str(data))

    assert exported.returncode == 0, exported.stderr
    assert [json.loads(line)["alert_id"] for line in exported.stdout.splitlines()] == [
        "01OLDJOURNAL"
    ]
    with closing(sqlite3.connect(data / "journal.sqlite3")) as conn:  # read, not migrated
        assert conn.execute("PRAGMA user_version").fetchone()[0] == version


async def test_a_version_1_journal_is_migrated_and_its_pending_alert_still_runs(tmp_path: Path):
    from tests.kit.paper import PaperDesk
    from tvdesk.store.schema import _MIGRATIONS, _split_sql

    path = tmp_path / "journal.sqlite3"
    with closing(sqlite3.connect(path)) as conn:
        for statement in _split_sql(_MIGRATIONS[0]):
            conn.execute(statement)
        conn.execute("PRAGMA user_version = 1")
        alert = {"symbol": "BINANCE:BTCUSDT", "side": "buy", "qty": "0.01", "price": "50000"}
        conn.execute(
            "INSERT INTO alerts (alert_id, received_at, client, status, client_ref, alert,"
            " outcome) VALUES ('01OLDV1ALERT', 1.0, '127.0.0.1', 'accepted', 'v1', ?, 'pending')",
            (json.dumps(alert),),
        )
        conn.commit()

    async with PaperDesk(tmp_path) as desk:
        decided = await desk.outcome("01OLDV1ALERT")
        assert decided.outcome == "filled", decided.reason
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 6
        assert conn.execute("SELECT mode FROM alerts WHERE client_ref = 'v1'").fetchone() == (None,)
