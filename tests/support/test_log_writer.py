"""The log writer batches lines off the event loop's thread: nothing is lost, the console
gets the same lines, and the file still rotates at its size, each file owner-only."""

from __future__ import annotations

import json
import logging
import stat
from pathlib import Path

import pytest

from tvdesk.core.events import AlertDecided
from tvdesk.support.logs import EventLogger, setup_logging, stop_logging


@pytest.fixture
def root_saved():
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    yield
    stop_logging()
    root.handlers[:], root.level = saved


def alert_ids(path: Path) -> list[str]:
    return [json.loads(line)["alert_id"] for line in path.read_text("utf-8").splitlines()]


def test_a_burst_of_decisions_is_all_in_the_file_and_on_the_console(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], root_saved: None
) -> None:
    log_file = tmp_path / "logs" / "tvdesk.log"
    setup_logging(log_file, console=True)
    logger = EventLogger()
    ids = [f"01ALERT{n:06d}" for n in range(3000)]
    for n, alert_id in enumerate(ids):
        logger(AlertDecided(100.0 + n, alert_id, "filled", f"paper buy {n} BTC/USDT"))
    stop_logging()

    assert alert_ids(log_file) == ids
    console = [json.loads(line) for line in capfd.readouterr().err.splitlines()]
    assert [line["alert_id"] for line in console] == ids
    assert {line["logger"] for line in console} == {"tvdesk.events"}
    assert (
        console[-1]["msg"] == "AlertDecided" and console[-1]["reason"] == "paper buy 2999 BTC/USDT"
    )


def test_the_log_rotates_at_its_size_and_keeps_the_newest_lines_private(
    tmp_path: Path, root_saved: None
) -> None:
    log_file = tmp_path / "logs" / "tvdesk.log"
    setup_logging(log_file, console=False, max_bytes=4000)
    logger = EventLogger()
    ids = [f"01ALERT{n:06d}" for n in range(400)]  # about 250 bytes a line: 100 kB in all
    for n, alert_id in enumerate(ids):
        logger(AlertDecided(100.0 + n, alert_id, "filled", "paper buy 1 BTC/USDT"))
    stop_logging()

    files = [log_file, *(log_file.with_name(f"tvdesk.log.{k}") for k in range(1, 6))]
    assert all(path.exists() for path in files)
    assert not log_file.with_name("tvdesk.log.6").exists()  # five backups, no more
    for path in files:
        assert path.stat().st_size <= 4000, path
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    # Oldest backup first: together they are the newest lines, in order, none missing.
    kept = [alert_id for path in reversed(files) for alert_id in alert_ids(path)]
    assert kept == ids[-len(kept) :]
    assert len(kept) > 60  # six files of about 16 lines
