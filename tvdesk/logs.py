"""Logs: JSON lines in a size-rotated file, written off the event loop's thread."""

from __future__ import annotations

import json
import logging
import logging.handlers
import queue
import sys
import time
from pathlib import Path
from typing import Any

from tvdesk.core.events import Event

_listener: logging.handlers.QueueListener | None = None


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        event = getattr(record, "event", None)
        if isinstance(event, dict):
            line.update(event)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def setup_logging(
    log_file: Path, *, console: bool, level: int = logging.INFO, max_bytes: int = 5_000_000
) -> None:
    """Send every log record to ``log_file`` (and stderr when ``console``) as JSON lines."""
    global _listener
    stop_logging()
    log_file.parent.mkdir(parents=True, exist_ok=True)
    formatter = JsonFormatter()
    handlers: list[logging.Handler] = []
    file_handler = logging.handlers.RotatingFileHandler(
        log_file, maxBytes=max_bytes, backupCount=5, encoding="utf-8"
    )
    file_handler.setFormatter(formatter)
    handlers.append(file_handler)
    if console:
        stream = logging.StreamHandler(sys.stderr)
        stream.setFormatter(formatter)
        handlers.append(stream)
    q: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    root = logging.getLogger()
    root.handlers[:] = [logging.handlers.QueueHandler(q)]
    root.setLevel(level)
    _listener = logging.handlers.QueueListener(q, *handlers, respect_handler_level=True)
    _listener.start()


def stop_logging() -> None:
    """Flush and close the log handlers (at exit)."""
    global _listener
    if _listener is not None:
        _listener.stop()
        for handler in _listener.handlers:
            handler.close()
        _listener = None


_event_log = logging.getLogger("tvdesk.events")


def log_event(event: Event) -> None:
    """The headless front-end: each engine event becomes one structured log line."""
    level = logging.WARNING if event.name in _WARNINGS else logging.INFO
    _event_log.log(level, event.name, extra={"event": event.to_dict()})


_WARNINGS = {"AlertRejected", "KillSwitchChanged", "TunnelChanged"}
