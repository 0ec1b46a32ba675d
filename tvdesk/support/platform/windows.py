"""Windows: psutil for processes (never os.kill: signal 0 there is CTRL_C_EVENT and any
other signal terminates), msvcrt byte locks, SetThreadExecutionState for sleep, Python's
own signal handlers (Windows' asyncio loop has none), process groups for helpers."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any

from tvdesk.support.platform import base

if TYPE_CHECKING:
    import asyncio

ES_CONTINUOUS = 0x80000000
ES_SYSTEM_REQUIRED = 0x00000001
# Popen creationflags (winbase.h); subprocess defines them only on Windows.
CREATE_NEW_PROCESS_GROUP = 0x00000200
CREATE_NO_WINDOW = 0x08000000
O_BINARY = 0x8000  # fcntl.h's _O_BINARY; os defines it only on Windows


class Windows(base.PsutilProcesses):
    name = "windows"

    def __init__(
        self,
        *,
        psutil: ModuleType | None = None,
        msvcrt: ModuleType | None = None,
        kernel32: Any = None,
        signal: ModuleType | None = None,
    ) -> None:
        super().__init__(psutil=psutil)
        self._msvcrt = msvcrt
        self._kernel32 = kernel32
        self._signal = signal

    def lock(self, fd: int) -> None:
        # Byte 0 locked: while it is, Windows refuses other processes any read of that
        # byte, which is why the holder's name is kept in another file (lockfile.py).
        msvcrt = self._locking()
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)

    def unlock(self, fd: int) -> None:
        msvcrt = self._locking()
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

    def keep_awake(self) -> base.WakeHold:
        kernel32 = self._kernel()
        # Per thread: the GUI thread asks and releases; it lasts until released or exit.
        if not kernel32.SetThreadExecutionState(ES_CONTINUOUS | ES_SYSTEM_REQUIRED):
            raise base.CannotKeepAwake("Windows refused SetThreadExecutionState")
        return _ExecutionState(kernel32)

    def on_stop(
        self, callback: Callable[[], object], loop: asyncio.AbstractEventLoop | None = None
    ) -> None:
        # Windows' asyncio loop has no signal handlers (add_signal_handler raises): Python's
        # own handler hands the call to the loop. Ctrl+Break is a console's other "stop";
        # SIGTERM comes only from Python itself (there is no polite kill from outside).
        signal = self._signals()
        for sig in (signal.SIGINT, signal.SIGBREAK, signal.SIGTERM):
            signal.signal(sig, base.handler(callback, loop))

    def on_reload(self, callback: Callable[[], object], loop: asyncio.AbstractEventLoop) -> bool:
        return False  # no SIGHUP on Windows: settings reload from the window or a restart

    def ignore_interrupt(self) -> None:
        signal = self._signals()
        for sig in (signal.SIGINT, signal.SIGBREAK):
            signal.signal(sig, signal.SIG_IGN)

    def detached(self) -> dict[str, Any]:
        # A process group of its own gets no Ctrl+C from the console; no console window
        # pops up for it when tvdesk runs without one (the windowed bundle).
        return {"creationflags": CREATE_NEW_PROCESS_GROUP | CREATE_NO_WINDOW}

    def event_loop_factory(self) -> Callable[[], asyncio.AbstractEventLoop]:
        import asyncio

        return asyncio.new_event_loop  # uvloop does not run on Windows

    def has_mode_bits(self) -> bool:
        return False  # no mode bits to tighten; the folders' ACLs follow the user's profile

    def binary_flag(self) -> int:
        return O_BINARY

    def has_display(self, environ: Mapping[str, str]) -> bool:
        return True  # a Windows session always has its desktop

    def qt_display_plugin(self) -> str | None:
        return None  # qwindows.dll needs nothing beyond Windows itself

    def _locking(self) -> ModuleType:
        if self._msvcrt is None:
            import msvcrt

            self._msvcrt = msvcrt
        return self._msvcrt

    def _kernel(self) -> Any:
        if self._kernel32 is None:
            import ctypes

            self._kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
        return self._kernel32

    def _signals(self) -> ModuleType:
        if self._signal is None:
            import signal

            self._signal = signal
        return self._signal


class _ExecutionState:
    def __init__(self, kernel32: Any) -> None:
        self._kernel32 = kernel32

    def release(self) -> None:
        self._kernel32.SetThreadExecutionState(ES_CONTINUOUS)
