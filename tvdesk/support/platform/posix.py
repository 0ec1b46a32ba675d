"""What every POSIX system shares: psutil for processes, flock for the lock, a sleep
inhibitor as a child process that holds off sleep while it runs, the loop's own signal
handlers, new sessions for helper processes, uvloop, chmod."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any

from tvdesk.support.platform import base

if TYPE_CHECKING:
    import asyncio


class Posix(base.PsutilProcesses):
    name = "posix"
    inhibitor_name = "systemd-inhibit"  # named when there is none

    def __init__(
        self,
        *,
        psutil: ModuleType | None = None,
        fcntl: ModuleType | None = None,
        signal: ModuleType | None = None,
    ) -> None:
        super().__init__(psutil=psutil)
        self._fcntl = fcntl
        self._signal = signal

    def lock(self, fd: int) -> None:
        fcntl = self._flock()
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def unlock(self, fd: int) -> None:
        fcntl = self._flock()
        fcntl.flock(fd, fcntl.LOCK_UN)

    def keep_awake(self) -> base.WakeHold:
        command = self.inhibitor(os.getpid())
        if command is None:
            raise base.CannotKeepAwake(f"no sleep inhibitor here ({self.inhibitor_name})")
        return InhibitorProcess(command)

    def inhibitor(self, pid: int) -> list[str] | None:
        """The command that holds off sleep while it runs and ends when ``pid`` ends."""
        return None

    def on_stop(
        self, callback: Callable[[], object], loop: asyncio.AbstractEventLoop | None = None
    ) -> None:
        signal = self._signals()
        for sig in (signal.SIGINT, signal.SIGTERM):
            if loop is None:
                signal.signal(sig, base.handler(callback, None))
                continue
            try:
                loop.add_signal_handler(sig, callback)
            except (NotImplementedError, RuntimeError):  # a loop without them, a thread
                signal.signal(sig, base.handler(callback, loop))

    def on_reload(self, callback: Callable[[], object], loop: asyncio.AbstractEventLoop) -> bool:
        loop.add_signal_handler(self._signals().SIGHUP, callback)
        return True

    def ignore_interrupt(self) -> None:
        signal = self._signals()
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    def detached(self) -> dict[str, Any]:
        # A session of its own: the terminal's Ctrl+C goes to its foreground group only.
        return {"start_new_session": True}

    def event_loop_factory(self) -> Callable[[], asyncio.AbstractEventLoop]:
        # uvloop: the door answers more alerts per CPU second. A source install without
        # it runs on asyncio's own loop, only slower.
        try:
            import uvloop  # a plain import: PyInstaller must see it
        except ImportError:
            import asyncio

            return asyncio.new_event_loop
        return uvloop.new_event_loop

    def has_mode_bits(self) -> bool:
        return True

    def binary_flag(self) -> int:
        return 0  # POSIX never translates line ends

    def has_display(self, environ: Mapping[str, str]) -> bool:
        return True

    def qt_display_plugin(self) -> str | None:
        return None

    def _flock(self) -> ModuleType:
        if self._fcntl is None:
            import fcntl

            self._fcntl = fcntl
        return self._fcntl

    def _signals(self) -> ModuleType:
        if self._signal is None:
            import signal

            self._signal = signal
        return self._signal


class InhibitorProcess:
    """A sleep inhibitor running as a child; it also ends by itself when tvdesk ends."""

    def __init__(self, command: list[str]) -> None:
        self.command = command
        self._proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.pid = self._proc.pid

    def release(self) -> None:
        self._proc.terminate()
        self._proc.wait(timeout=5)
