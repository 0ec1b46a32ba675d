"""Logs: JSON lines in a size-rotated file, written off the event loop's thread."""

from __future__ import annotations

import contextlib
import json
import logging
import logging.handlers
import os
import queue
import stat
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from tvdesk.core.events import Event
from tvdesk.core.network import network_of
from tvdesk.support.platform import current
from tvdesk.support.repeats import RepeatFilter

_listener: logging.handlers.QueueListener | None = None
_repeats: RepeatFilter | None = None


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        # The file and the console share one formatter: format each record once.
        cached = getattr(record, "_json", None)
        if cached is not None:
            return cached
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
        held_back = getattr(record, "held_back", None)
        if held_back is not None:
            line["held_back"] = held_back
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        text = json.dumps(line, ensure_ascii=False, default=str)
        record._json = text  # type: ignore[attr-defined]
        return text


class _PrivateRotatingFile(logging.handlers.RotatingFileHandler):
    """Each log file (the first, and each one after a rotation) is made owner-only (0600):
    the log tells what the trader trades, and the umask would leave it readable to all.

    Lines are written without a flush each (the writer flushes once per batch) and the
    file's size is counted as it is written: the stock handler looks the file up twice
    and seeks to its end before every line.
    """

    def _open(self) -> Any:
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | current().binary_flag()
        fd = os.open(self.baseFilename, flags, 0o600)
        status = os.fstat(fd)
        self._size = status.st_size
        # Never rotate anything but a regular file (/dev/null, a pipe: bpo-45401).
        self._regular = stat.S_ISREG(status.st_mode)
        return os.fdopen(fd, self.mode, encoding=self.encoding, errors=self.errors)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + self.terminator
            size = len(line.encode(self.encoding or "utf-8", "replace"))
            if self.stream is None:
                self.stream = self._open()
            rotates = self._regular and self.maxBytes > 0
            if rotates and self._size and self._size + size > self.maxBytes:
                self.doRollover()
            self.stream.write(line)
            self._size += size
        except Exception:
            self.handleError(record)


class _Console(logging.StreamHandler):
    """stderr, written once per batch: stderr is line-buffered (unbuffered under
    PYTHONUNBUFFERED), so writing it line by line costs a system call per line."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self._pending: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._pending.append(self.format(record) + self.terminator)
        except Exception:
            self.handleError(record)

    def flush(self) -> None:
        text, self._pending = "".join(self._pending), []
        # stderr gone (its terminal closed): the file still has every line.
        with contextlib.suppress(OSError, ValueError):
            if text:
                self.stream.write(text)
            super().flush()


class _Writer(logging.handlers.QueueListener):
    """The thread that writes the log, in batches.

    After each batch it rests a moment: lines logged meanwhile queue up without waking
    it (waking a thread for every line costs the event loop more than the line itself),
    and are written in one go, each handler flushed once. Idle, it sleeps until a line
    comes.
    """

    BATCH = 1000
    REST_S = 0.05

    def __init__(self, q: queue.SimpleQueue[Any], *handlers: logging.Handler) -> None:
        super().__init__(q, *handlers, respect_handler_level=True)
        self._records = q

    def _monitor(self) -> None:
        q = self._records
        while True:
            batch = [q.get()]
            while len(batch) < self.BATCH:
                try:
                    batch.append(q.get_nowait())
                except queue.Empty:
                    break
            for record in batch:
                if record is None:  # QueueListener.stop's sentinel
                    self._flush()
                    return
                self.handle(record)
            self._flush()
            if len(batch) < self.BATCH:
                time.sleep(self.REST_S)

    def _flush(self) -> None:
        for handler in self.handlers:
            handler.flush()


class _HandOff(logging.handlers.QueueHandler):
    """Hands the record itself to the writer thread.

    The stock QueueHandler formats and copies every record on the caller's
    thread — the event loop answering TradingView; here the writer does it.
    """

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        return record


def setup_logging(
    log_file: Path, *, console: bool, level: int = logging.INFO, max_bytes: int = 5_000_000
) -> None:
    """Send every log record to ``log_file`` (and stderr when ``console``) as JSON lines.

    A line a stranger can make repeat (the network stack's, running out of descriptors)
    is written once per minute with a count: a flood never rotates the log away.
    """
    global _listener, _repeats
    stop_logging()
    log_file.parent.mkdir(parents=True, exist_ok=True)
    formatter = JsonFormatter()
    handlers: list[logging.Handler] = []
    file_handler = _PrivateRotatingFile(
        log_file, maxBytes=max_bytes, backupCount=5, encoding="utf-8"
    )
    file_handler.setFormatter(formatter)
    handlers.append(file_handler)
    if console:
        stream = _Console(sys.stderr)
        stream.setFormatter(formatter)
        handlers.append(stream)
    q: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    root = logging.getLogger()
    hand_off = _HandOff(q)
    _repeats = RepeatFilter(hand_off.emit)
    hand_off.addFilter(_repeats)
    root.handlers[:] = [hand_off]
    root.setLevel(level)
    _listener = _Writer(q, *handlers)
    _listener.start()


def stop_logging() -> None:
    """Flush and close the log handlers (at exit)."""
    global _listener, _repeats
    if _repeats is not None:
        _repeats.flush()  # what a flood held back is counted before the file closes
        _repeats = None
    if _listener is not None:
        _listener.stop()
        for handler in _listener.handlers:
            handler.close()
        _listener = None


_event_log = logging.getLogger("tvdesk.events")
_WARNINGS = {"AlertRejected", "KillSwitchChanged", "TunnelChanged"}
# Said again by the alert's decision line, so only worth a line when debugging.
_DEBUG = {"AlertAccepted", "OrderSubmitted"}
# Refusals of unauthenticated requests: anyone can cause them, so a flood is summarised.
_KNOCKS = {"unauthorized", "rate_limited", "invalid_json", "too_large"}
KNOCKS_LOGGED_PER_MINUTE = 3


class EventLogger:
    """The headless front-end: each engine event becomes one structured log line.

    A flood of refused, unauthenticated requests from one network is logged as
    its first few lines per minute plus one summary line, so nobody can fill
    the disk by knocking.
    """

    def __init__(self) -> None:
        self._knocks: dict[str, tuple[int, int]] = {}  # network -> (minute, count)

    def __call__(self, event: Event) -> None:
        knock = event.name == "AlertRejected" and getattr(event, "error", "") in _KNOCKS
        if knock and not self._count_knock(event):
            return
        name = event.name
        if name in _WARNINGS:
            level = logging.WARNING
        elif name in _DEBUG:
            level = logging.DEBUG
        else:
            level = logging.INFO
        if _event_log.isEnabledFor(level):
            # Made directly: Logger.log would walk the stack for a caller no line shows.
            extra = {"event": event.to_dict()}
            record = _event_log.makeRecord(
                _event_log.name, level, "", 0, name, (), None, extra=extra
            )
            _event_log.handle(record)

    def _count_knock(self, event: Event) -> bool:
        # Per network (/24, /64), so hopping addresses does not buy more lines.
        client = network_of(str(getattr(event, "client", "")))
        minute = int(event.at // 60)
        for other, (seen_minute, count) in list(self._knocks.items()):
            if seen_minute != minute:
                del self._knocks[other]
                if count > KNOCKS_LOGGED_PER_MINUTE:
                    _event_log.warning(
                        "%d more refused requests from %s in that minute were not logged",
                        count - KNOCKS_LOGGED_PER_MINUTE,
                        other,
                        extra={
                            "event": {
                                "event": "RefusalsSummarised",
                                "client": other,
                                "count": count - KNOCKS_LOGGED_PER_MINUTE,
                            }
                        },
                    )
        _, count = self._knocks.get(client, (minute, 0))
        self._knocks[client] = (minute, count + 1)
        return count < KNOCKS_LOGGED_PER_MINUTE
