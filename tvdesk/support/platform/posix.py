"""What every POSIX system shares: psutil for processes, flock for the lock, a sleep
inhibitor as a child process that holds off sleep while it runs."""

from __future__ import annotations

import os
import subprocess
from types import ModuleType

from tvdesk.support.platform import base


class Posix(base.PsutilProcesses):
    name = "posix"
    inhibitor_name = "systemd-inhibit"  # named when there is none

    def __init__(
        self, *, psutil: ModuleType | None = None, fcntl: ModuleType | None = None
    ) -> None:
        super().__init__(psutil=psutil)
        self._fcntl = fcntl

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

    def _flock(self) -> ModuleType:
        if self._fcntl is None:
            import fcntl

            self._fcntl = fcntl
        return self._fcntl


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
