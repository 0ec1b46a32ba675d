"""`tvdesk export` to a standard output whose encoding cannot hold the trail's "→" (a
Windows console or pipe: cp1252): the export is UTF-8, never a UnicodeEncodeError."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tvdesk.store.schema import connect, migrate


def journal_with_a_mapped_alert(path: Path) -> None:
    conn = connect(path)
    migrate(conn)
    conn.execute(
        "INSERT INTO alerts (alert_id, received_at, status, raw, outcome, reason) "
        "VALUES ('A1', 1700000000.0, 'accepted', '{}', 'rejected', ?)",
        ("BTCUSDT → BTC/USDT: ünmapped",),
    )
    conn.close()


def test_export_to_a_cp1252_stdout_is_utf8(tmp_path: Path) -> None:
    journal_with_a_mapped_alert(tmp_path / "journal.sqlite3")
    done = subprocess.run(
        [sys.executable, "-m", "tvdesk", "export", "--data-dir", str(tmp_path)],
        capture_output=True,
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONIOENCODING": "cp1252",
            "PYTHONPATH": str(Path(__file__).parents[2]),
        },
        stdin=subprocess.DEVNULL,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr.decode("utf-8", "replace")
    record = json.loads(done.stdout.decode("utf-8").splitlines()[0])
    assert record["reason"] == "BTCUSDT → BTC/USDT: ünmapped"
