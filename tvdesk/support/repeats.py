"""A flood of one log line becomes one line per interval with a count.

Out of file descriptors, asyncio logs each failed ``accept()``, aiohttp each broken
request, with a traceback: once seen 126,000 lines in 20 s, which rotated every earlier
log away. :class:`RepeatFilter` sits on the log handler and lets the first line of each
kind through per interval; once the interval is over (noticed at the next line of any
kind, or at :meth:`RepeatFilter.flush` on exit) one more line says how many it held back.

A kind is the logger, the message's first line (its template, not the formatted text,
so one line per client is still one kind) and the exception's type and errno. Only
lines that a stranger can make repeat are limited: the network stack's loggers, any line
about running out of a system resource, and lines logged with ``extra={"repeats": True}``.
"""

from __future__ import annotations

import errno
import logging
import threading
from collections.abc import Callable

REPEAT_INTERVAL_S = 60.0
# Loggers that speak for the network stack: a stranger decides how often they speak.
NOISY_LOGGERS = ("asyncio", "aiohttp")
# accept() and friends failing for want of descriptors or memory.
EXHAUSTED = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})

Kind = tuple[str, str, str, int | None]


def kind_of(record: logging.LogRecord) -> Kind | None:
    """The kind a record repeats, or None for a line that is always written."""
    exc = record.exc_info[1] if record.exc_info else None
    exhausted = isinstance(exc, OSError) and exc.errno in EXHAUSTED
    if not (
        exhausted or record.name.startswith(NOISY_LOGGERS) or getattr(record, "repeats", False)
    ):
        return None
    first_line = str(record.msg).split("\n", 1)[0]
    code = exc.errno if isinstance(exc, OSError) else None
    return record.name, first_line, type(exc).__name__ if exc else "", code


class RepeatFilter(logging.Filter):
    """Lets one line of each repeating kind through per interval; counts the rest."""

    def __init__(
        self, emit: Callable[[logging.LogRecord], None], interval_s: float = REPEAT_INTERVAL_S
    ):
        super().__init__()
        self._emit = emit  # writes a summary line, bypassing this filter
        self.interval_s = interval_s
        self._lock = threading.Lock()  # log lines come from several threads
        # kind -> [when its current interval started, lines held back, the first line's record]
        self._kinds: dict[Kind, list] = {}
        self._next_due = float("inf")  # earliest end of an interval with lines held back

    def filter(self, record: logging.LogRecord) -> bool:
        if record.created >= self._next_due:
            self._flush(record.created)
        kind = kind_of(record)
        if kind is None:
            return True
        with self._lock:
            seen = self._kinds.get(kind)
            if seen is not None and record.created < seen[0] + self.interval_s:
                seen[1] += 1
                self._next_due = min(self._next_due, seen[0] + self.interval_s)
                return False
            # A new interval: whatever the last one held back was summarised by _flush.
            self._kinds[kind] = [record.created, 0, record]
            if len(self._kinds) > 1000:  # bounded: forget kinds with nothing held back
                self._kinds = {k: v for k, v in self._kinds.items() if v[1] or k == kind}
        return True

    def flush(self) -> None:
        """Write a summary line for every kind with lines held back (at exit)."""
        self._flush(float("inf"))

    def _flush(self, now: float) -> None:
        due: list[tuple[logging.LogRecord, int]] = []
        with self._lock:
            self._next_due = float("inf")
            for seen in self._kinds.values():
                started, held, first = seen
                if held and now >= started + self.interval_s:
                    due.append((first, held))
                    seen[1] = 0
                elif held:
                    self._next_due = min(self._next_due, started + self.interval_s)
        for first, held in due:
            self._emit(_summary(first, held, self.interval_s))


def _summary(first: logging.LogRecord, held: int, interval_s: float) -> logging.LogRecord:
    return logging.makeLogRecord(
        {
            "name": first.name,
            "levelno": first.levelno,
            "levelname": first.levelname,
            "msg": "%s (and %d more such lines within %d s, not written one by one)",
            "args": (first.getMessage().split("\n", 1)[0], held, interval_s),
            "held_back": held,
        }
    )
