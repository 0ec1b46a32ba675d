"""Headless logs: JSON lines, and a knocking flood does not fill the disk."""

from __future__ import annotations

import json
import logging
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
        for i in range(500):
            logger(AlertRejected(60.0 + i * 0.01, None, "203.0.113.9", "unauthorized", "wrong"))
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
    assert summary["count"] == 497 and summary["client"] == "203.0.113.9"
    # One line per alert, at its decision; "accepted" is only worth a line when debugging.
    assert [line["outcome"] for line in lines if line.get("event") == "AlertDecided"] == ["filled"]
    assert not any(line.get("event") == "AlertAccepted" for line in lines)
    assert all(line["ts"].endswith("Z") for line in lines)
