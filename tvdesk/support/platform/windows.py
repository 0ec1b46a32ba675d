"""Windows: psutil for processes (never os.kill: signal 0 there is CTRL_C_EVENT and any
other signal terminates), msvcrt byte locks, SetThreadExecutionState for sleep."""

from __future__ import annotations

import os
from types import ModuleType
from typing import Any

from tvdesk.support.platform import base

ES_CONTINUOUS = 0x80000000
ES_SYSTEM_REQUIRED = 0x00000001


class Windows(base.PsutilProcesses):
    name = "windows"

    def __init__(
        self,
        *,
        psutil: ModuleType | None = None,
        msvcrt: ModuleType | None = None,
        kernel32: Any = None,
    ) -> None:
        super().__init__(psutil=psutil)
        self._msvcrt = msvcrt
        self._kernel32 = kernel32

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


class _ExecutionState:
    def __init__(self, kernel32: Any) -> None:
        self._kernel32 = kernel32

    def release(self) -> None:
        self._kernel32.SetThreadExecutionState(ES_CONTINUOUS)
