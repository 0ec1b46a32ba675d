"""Start-up figures: how long after the process started each milestone was reached.

Anyone may call ``mark("window shown")`` or ``mark("engine ready")``; the first mark
of a name counts, later ones are ignored. ``tvdesk --timing`` turns on printing:
each mark becomes one line on stderr, ``tvdesk timing: window shown 0.84 s``.
Every mark is also logged (logger ``tvdesk.support.timing``).

"Process start" is when the operating system started the process (the platform
module asks it: /proc on Linux, psutil on Windows and macOS), so the interpreter's own
start-up (and a bundle's unpacking) count. If the OS can't say, it is when this module
was imported, which cli does first: it imports nothing else of tvdesk's but the platform
module, and no third-party package on Linux.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import TextIO

from tvdesk.support.platform import current

_IMPORTED_AT = time.perf_counter()
_log = logging.getLogger("tvdesk.support.timing")
_marks: dict[str, float] = {}
_stream: TextIO | None = None


def _process_age_at_import() -> float:
    try:
        age = current().process_age() - (time.perf_counter() - _IMPORTED_AT)
    except Exception:  # any failure: count from this import instead
        return 0.0
    return age if 0.0 <= age < 600.0 else 0.0


_AGE_AT_IMPORT = _process_age_at_import()


def since_start() -> float:
    """Seconds since the process started."""
    return _AGE_AT_IMPORT + time.perf_counter() - _IMPORTED_AT


def enable(stream: TextIO | None = None) -> None:
    """Print every mark from now on (and the ones already made) to ``stream`` (stderr)."""
    global _stream
    _stream = stream if stream is not None else sys.stderr
    for name, seconds in _marks.items():
        _print(name, seconds)


def enabled() -> bool:
    return _stream is not None


def mark(name: str) -> float:
    """Record that ``name`` happened now; returns the seconds since the process started."""
    if name in _marks:
        return _marks[name]
    seconds = since_start()
    _marks[name] = seconds
    _log.info(
        "%s %.3f s after the process started",
        name,
        seconds,
        extra={
            "event": {"event": "StartupTiming", "milestone": name, "seconds": round(seconds, 4)}
        },
    )
    if _stream is not None:
        _print(name, seconds)
    return seconds


def marks() -> dict[str, float]:
    """Every mark so far, in order: name -> seconds since the process started."""
    return dict(_marks)


def _print(name: str, seconds: float) -> None:
    assert _stream is not None
    # One write: the log's thread may write to the same stream at any moment.
    _stream.write(f"tvdesk timing: {name} {seconds:.3f} s\n")
    _stream.flush()
