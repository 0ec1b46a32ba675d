"""Start-up figures: how long after the process started each milestone was reached.

Anyone may call ``mark("window shown")`` or ``mark("engine ready")``; the first mark
of a name counts, later ones are ignored. ``tvdesk --timing`` turns on printing:
each mark becomes one line on stderr, ``tvdesk timing: window shown 0.84 s``.
Every mark is also logged (logger ``tvdesk.support.timing``).

"Process start" is when the operating system started the process (Linux: /proc,
Windows: GetProcessTimes, macOS: sysctl), so the interpreter's own start-up (and a
bundle's unpacking) count. If the OS can't say, it is when this module was
imported, which cli does first. Standard library only: it is imported before
anything else.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import TextIO

_IMPORTED_AT = time.perf_counter()
_log = logging.getLogger("tvdesk.support.timing")
_marks: dict[str, float] = {}
_stream: TextIO | None = None


def _age_linux() -> float:
    """Seconds since this process started, from /proc (10 ms resolution)."""
    with open("/proc/self/stat", "rb") as stat:
        fields = stat.read().rsplit(b")", 1)[1].split()
    started_ticks = int(fields[19])  # field 22, starttime, in clock ticks since boot
    return time.clock_gettime(time.CLOCK_BOOTTIME) - started_ticks / os.sysconf("SC_CLK_TCK")


def _age_windows() -> float:
    import ctypes
    from ctypes import wintypes

    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    created, exited, kernel, user = (wintypes.FILETIME() for _ in range(4))
    handle = kernel32.GetCurrentProcess()
    if not kernel32.GetProcessTimes(
        handle,
        ctypes.byref(created),
        ctypes.byref(exited),
        ctypes.byref(kernel),
        ctypes.byref(user),
    ):
        raise OSError("GetProcessTimes failed")
    now = wintypes.FILETIME()
    kernel32.GetSystemTimePreciseAsFileTime(ctypes.byref(now))

    def ticks(ft: wintypes.FILETIME) -> int:  # 100 ns units
        return (ft.dwHighDateTime << 32) | ft.dwLowDateTime

    return (ticks(now) - ticks(created)) / 1e7


def _age_macos() -> float:
    import ctypes
    import ctypes.util

    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    mib = (ctypes.c_int * 4)(1, 14, 1, os.getpid())  # CTL_KERN, KERN_PROC, KERN_PROC_PID
    buf = ctypes.create_string_buffer(1024)  # struct kinfo_proc (648 bytes)
    size = ctypes.c_size_t(len(buf))
    if libc.sysctl(mib, 4, buf, ctypes.byref(size), None, 0) != 0:
        raise OSError("sysctl failed")
    # kinfo_proc starts with extern_proc, whose first member is p_starttime (a timeval).
    seconds = int.from_bytes(buf.raw[0:8], "little")
    micros = int.from_bytes(buf.raw[8:12], "little")
    return time.time() - (seconds + micros / 1e6)


def _process_age_at_import() -> float:
    probe = {"linux": _age_linux, "win32": _age_windows, "darwin": _age_macos}.get(
        "linux" if sys.platform.startswith("linux") else sys.platform
    )
    if probe is None:
        return 0.0
    try:
        age = probe() - (time.perf_counter() - _IMPORTED_AT)
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
