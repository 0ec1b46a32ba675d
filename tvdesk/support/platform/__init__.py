"""What differs between Windows, macOS and Linux, one small implementation per OS: process
liveness and ending, this process's age, the single-instance lock, keeping the PC awake,
stop/reload signals, detached helper processes, the event loop, file modes, displays.
Floor 1 (support): imports psutil and uvloop (lazily) and the standard library, never Qt.

Every OS branch of tvdesk goes through ``current()``; tests pick an implementation with
``select(name, **os_calls)`` and hand it fakes of the OS calls it makes.
"""

from __future__ import annotations

import sys
from typing import Any

from tvdesk.support.platform.base import CannotKeepAwake, Platform, WakeHold

__all__ = ["CannotKeepAwake", "Platform", "WakeHold", "current", "select"]

_current: Platform | None = None


def select(name: str, **os_calls: Any) -> Platform:
    """The implementation for ``name``, a ``sys.platform`` value ("win32", "darwin", "linux").

    ``os_calls`` replace the modules it calls (``psutil``, ``msvcrt``, ``kernel32``,
    ``fcntl``, ``signal``): tests run every OS's implementation here against fakes of them.
    """
    # Plain imports (not importlib): PyInstaller must see each implementation.
    if name == "win32":
        from tvdesk.support.platform.windows import Windows

        return Windows(**os_calls)
    if name == "darwin":
        from tvdesk.support.platform.macos import MacOS

        return MacOS(**os_calls)
    if name.startswith("linux"):
        from tvdesk.support.platform.linux import Linux

        return Linux(**os_calls)
    from tvdesk.support.platform.posix import Posix

    return Posix(**os_calls)


def current() -> Platform:
    """The implementation for the OS this process runs on."""
    global _current
    if _current is None:
        _current = select(sys.platform)
    return _current
