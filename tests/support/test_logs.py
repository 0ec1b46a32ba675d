"""Headless logs: JSON lines, and no flood (knocks, accept errors) fills the disk."""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import socket
from pathlib import Path

from tvdesk.core.events import AlertAccepted, AlertDecided, AlertRejected
from tvdesk.support.logs import EventLogger, setup_logging, stop_logging


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_flood_of_refusals_is_logged_as_a_few_lines_and_a_summary(tmp_path: Path) -> None:
    log_file = tmp_path / "logs" / "tvdesk.log"
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    setup_logging(log_file, console=False)
    try:
        logger = EventLogger()
        # One network hopping between its addresses is one knocker (/24).
        for i in range(500):
            client = f"203.0.113.{i % 250 + 1}"
            logger(AlertRejected(60.0 + i * 0.01, None, client, "unauthorized", "wrong"))
        logger(AlertAccepted(61.0, "01ABC", "198.51.100.7", "BTCUSDT", "buy", "1", False))
        logger(AlertDecided(61.1, "01ABC", "filled", "paper buy 1 BTC/USDT filled @ 1"))
        # The next minute's first event closes the previous minute's count.
        logger(AlertRejected(121.0, None, "203.0.113.9", "unauthorized", "wrong"))
    finally:
        stop_logging()
        root.handlers[:], root.level = saved
    lines = read_lines(log_file)
    refused = [line for line in lines if line.get("event") == "AlertRejected"]
    assert len(refused) == 4  # three in the first minute, one in the next
    (summary,) = [line for line in lines if line.get("event") == "RefusalsSummarised"]
    assert summary["count"] == 497 and summary["client"] == "203.0.113.0/24"
    # One line per alert, at its decision; "accepted" is only worth a line when debugging.
    assert [line["outcome"] for line in lines if line.get("event") == "AlertDecided"] == ["filled"]
    assert not any(line.get("event") == "AlertAccepted" for line in lines)
    assert all(line["ts"].endswith("Z") for line in lines)


def test_a_flood_of_accept_errors_is_one_line_and_one_count(tmp_path: Path) -> None:
    # What asyncio does on each failed accept() when the process is out of descriptors:
    # the loop's exception handler logs it, traceback and all.
    log_file = tmp_path / "logs" / "tvdesk.log"
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    setup_logging(log_file, console=False)
    loop = asyncio.new_event_loop()
    try:
        with socket.socket() as listening:
            for _ in range(200):
                loop.call_exception_handler(
                    {
                        "message": "socket.accept() out of system resource",
                        "exception": OSError(errno.EMFILE, "Too many open files"),
                        "socket": listening,
                    }
                )
        # Other lines are never held back.
        for n in range(50):
            logging.getLogger("tvdesk.engine").info("alert %d decided", n)
    finally:
        loop.close()
        stop_logging()
        root.handlers[:], root.level = saved
    lines = read_lines(log_file)
    accept = [line for line in lines if "socket.accept()" in line["msg"]]
    assert len(accept) == 2, accept
    first, count = accept
    assert "Too many open files" in first["exc"]
    assert count["held_back"] == 199 and "199 more" in count["msg"]
    assert len([line for line in lines if line["logger"] == "tvdesk.engine"]) == 50
