"""A repeating log line is written once per interval, then counted."""

from __future__ import annotations

import errno
import logging

from tvdesk.support.repeats import RepeatFilter


def test_held_back_lines_are_counted_once_the_interval_is_over() -> None:
    written: list[logging.LogRecord] = []
    repeats = RepeatFilter(written.append, interval_s=60)

    def line(at: float, name: str = "aiohttp.server", msg: str = "Error handling request"):
        record = logging.makeLogRecord({"name": name, "msg": msg, "levelname": "ERROR"})
        record.created = at
        if repeats.filter(record):
            written.append(record)

    for n in range(100):
        line(1000.0 + n / 10)  # one kind: the template, whatever the client
    assert [r.getMessage() for r in written] == ["Error handling request"]
    line(1061.0, name="tvdesk.engine", msg="something else")  # any line after the minute
    assert written[1].held_back == 99
    assert written[1].getMessage().startswith("Error handling request (and 99 more")
    assert written[2].getMessage() == "something else"
    line(1062.0)  # the next minute starts afresh
    assert written[3].getMessage() == "Error handling request"
    repeats.flush()
    assert len(written) == 4  # nothing held back, nothing to say


def test_only_lines_a_stranger_can_repeat_are_held_back() -> None:
    written: list[logging.LogRecord] = []
    repeats = RepeatFilter(written.append)

    def passed(name: str, msg: str, **extra: object) -> int:
        before = len(written)
        for n in range(10):
            record = logging.makeLogRecord({"name": name, "msg": msg, "args": (n,), **extra})
            if repeats.filter(record):
                written.append(record)
        return len(written) - before

    assert passed("tvdesk.events", "alert %d decided") == 10
    assert passed("asyncio", "accept failed %d") == 1
    assert passed("tvdesk.engine.listeners", "refused %d", repeats=True) == 1
    exhausted = OSError(errno.EMFILE, "Too many open files")
    assert passed("tvdesk.tunnel", "cannot start %d", exc_info=(OSError, exhausted, None)) == 1
    other = OSError(errno.ENOENT, "No such file or directory")
    assert passed("tvdesk.tunnel", "cannot start %d", exc_info=(OSError, other, None)) == 10
