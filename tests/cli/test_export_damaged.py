"""`tvdesk export` on a damaged journal: one line on stderr naming the file, a non-zero
exit, no traceback, and a previous export file left whole (the real CLI as a process)."""

from __future__ import annotations

import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.kit.engine_proc import run_cli
from tvdesk.store.schema import connect, migrate

MARKER = b"DAMAGE-ME-"
PAGE = 4096


def journal_with_alerts(path: Path, count: int = 200) -> None:
    """A real journal (tvdesk's own schema) holding enough alerts to span many pages."""
    conn = connect(path)
    migrate(conn)
    conn.executemany(
        "INSERT INTO alerts (alert_id, received_at, status, raw) VALUES (?, ?, 'accepted', ?)",
        [(f"A{i:04d}", 1_700_000_000.0 + i, (MARKER * 40).decode()) for i in range(count)],
    )
    conn.close()  # the last connection checkpoints the WAL into the file


def not_sqlite(path: Path) -> None:
    path.write_bytes(b"these are not the bytes of a database\n" * 200)


def truncated(path: Path) -> None:
    journal_with_alerts(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def without_tables(path: Path) -> None:
    journal_with_alerts(path)
    conn = sqlite3.connect(path)
    conn.executescript("DROP TABLE orders; DROP TABLE alerts;")
    conn.close()


def damaged_page(path: Path) -> None:
    """A page of alerts overwritten (a bad sector, a half-synced copy): found only while
    reading, after the journal opened fine."""
    journal_with_alerts(path)
    data = bytearray(path.read_bytes())
    start = data.rindex(MARKER) // PAGE * PAGE
    data[start : start + PAGE] = b"\xa5" * PAGE
    path.write_bytes(bytes(data))


DAMAGE: dict[str, Callable[[Path], None]] = {
    "not sqlite": not_sqlite,
    "truncated": truncated,
    "without tables": without_tables,
    "damaged page": damaged_page,
}


def assert_one_line(result: subprocess.CompletedProcess[str], journal: Path) -> None:
    assert result.returncode != 0, result.stdout[-500:]
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("tvdesk: ")
    assert str(journal) in lines[0]


@pytest.mark.parametrize("damage", DAMAGE, ids=list(DAMAGE))
@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_damaged_journal_is_one_line_not_a_traceback(
    tmp_path: Path, damage: str, fmt: str
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    journal = data_dir / "journal.sqlite3"
    DAMAGE[damage](journal)

    result = run_cli("export", "--data-dir", str(data_dir), "--format", fmt)

    assert_one_line(result, journal)


def test_a_journal_damaged_half_way_leaves_the_previous_export_whole(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    damaged_page(data_dir / "journal.sqlite3")
    previous = tmp_path / "alerts.csv"
    previous.write_text("last week's export\n", encoding="utf-8")

    result = run_cli("export", "--data-dir", str(data_dir), "--format", "csv", "-o", str(previous))

    assert_one_line(result, data_dir / "journal.sqlite3")
    assert "damaged" in result.stderr
    assert previous.read_text(encoding="utf-8") == "last week's export\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alerts.csv", "data"]
