"""Fakes of the OS calls the Windows and macOS platform implementations make, so those
implementations run here: psutil, Windows' msvcrt byte locks, kernel32's
SetThreadExecutionState, each OS's signal module, an event loop's signal handlers. Each
records what it was asked."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class FakePsutil:
    """psutil's process calls over a table of made-up processes."""

    STATUS_RUNNING = "running"
    STATUS_ZOMBIE = "zombie"

    class Error(Exception):
        pass

    class NoSuchProcess(Error):
        pass

    class AccessDenied(Error):
        pass

    def __init__(self) -> None:
        self.procs: dict[int, FakeProc] = {}
        self.calls: list[tuple[str, int]] = []

    def add(self, pid: int, *, parent: int | None = None, **kwargs: object) -> FakeProc:
        proc = FakeProc(self, pid, **kwargs)  # type: ignore[arg-type]
        self.procs[pid] = proc
        if parent is not None:
            self.procs[parent].kids.append(proc)
        return proc

    def Process(self, pid: int) -> FakeProc:  # psutil's name
        self.calls.append(("Process", pid))
        proc = self.procs.get(pid)
        if proc is None or proc.status_now == "gone":
            raise self.NoSuchProcess(pid)
        return proc


@dataclass(eq=False)
class FakeProc:
    psutil: FakePsutil
    pid: int
    status_now: str = "running"  # running | zombie | gone
    ends_on: str = "terminate"  # the first call that ends it: terminate | kill
    started: float = 0.0
    denied: bool = False
    kids: list[FakeProc] = field(default_factory=list)

    def status(self) -> str:
        if self.denied:
            raise self.psutil.AccessDenied(self.pid)
        return self.status_now

    def is_running(self) -> bool:
        return self.status_now != "gone"

    def create_time(self) -> float:
        self.psutil.calls.append(("create_time", self.pid))
        return self.started

    def children(self, recursive: bool = False) -> list[FakeProc]:
        found = list(self.kids)
        if recursive:
            for kid in self.kids:
                found += kid.children(recursive=True)
        return found

    def terminate(self) -> None:
        self._signal("terminate")

    def kill(self) -> None:
        self._signal("kill")

    def _signal(self, how: str) -> None:
        self.psutil.calls.append((how, self.pid))
        if self.ends_on == how or how == "kill":
            self.status_now = "gone"


class FakeMsvcrt:
    """msvcrt.locking as Windows does it: a byte range locked for one open file, shared by
    every "process" that uses this fake; a second locker gets EACCES."""

    LK_UNLCK, LK_LOCK, LK_NBLCK, LK_RLCK, LK_NBRLCK = range(5)

    def __init__(self) -> None:
        self.held: dict[tuple[int, int], int] = {}  # (device, inode) -> fd holding it
        self.calls: list[tuple[str, int, int]] = []  # (mode, file position, bytes)

    def locking(self, fd: int, mode: int, nbytes: int) -> None:
        key = (os.fstat(fd).st_dev, os.fstat(fd).st_ino)
        self.calls.append((mode, os.lseek(fd, 0, os.SEEK_CUR), nbytes))
        if mode == self.LK_NBLCK:
            if key in self.held:
                raise PermissionError(errno.EACCES, "Permission denied")
            self.held[key] = fd
        elif mode == self.LK_UNLCK:
            if self.held.get(key) != fd:
                raise PermissionError(errno.EACCES, "Permission denied")
            del self.held[key]

    def locked(self, path: os.PathLike[str]) -> bool:
        st = os.stat(path)
        return (st.st_dev, st.st_ino) in self.held


class FakeKernel32:
    """kernel32.SetThreadExecutionState: records each call, returns the previous state
    (0 means Windows refused)."""

    def __init__(self, refuse: bool = False) -> None:
        self.states: list[int] = []
        self.refuse = refuse

    def SetThreadExecutionState(self, flags: int) -> int:  # Windows' name
        self.states.append(flags)
        return 0 if self.refuse else 0x80000000


class FakeSignal:
    """The ``signal`` module as one OS has it: only that OS's signals exist (Windows has no
    SIGHUP: using it is an AttributeError there) and ``signal()`` refuses any other number,
    as Python on Windows does. Records each handler set."""

    SIG_DFL = 0
    SIG_IGN = 1

    def __init__(self, numbers: dict[str, int]) -> None:
        for name, number in numbers.items():
            setattr(self, name, number)
        self.names = {number: name for name, number in numbers.items()}
        self.handlers: dict[str, Any] = {}  # signal name -> handler

    @classmethod
    def windows(cls) -> FakeSignal:
        # The signals signal.signal() accepts on Windows (CPython's signalmodule.c).
        return cls(
            {
                "SIGINT": 2,
                "SIGILL": 4,
                "SIGFPE": 8,
                "SIGSEGV": 11,
                "SIGTERM": 15,
                "SIGBREAK": 21,
                "SIGABRT": 22,
            }
        )

    @classmethod
    def macos(cls) -> FakeSignal:
        return cls({"SIGHUP": 1, "SIGINT": 2, "SIGKILL": 9, "SIGTERM": 15, "SIGINFO": 29})

    def signal(self, signalnum: int, handler: Any) -> Any:
        if signalnum not in self.names:
            raise ValueError("invalid signal value")
        name = self.names[signalnum]
        before = self.handlers.get(name, self.SIG_DFL)
        self.handlers[name] = handler
        return before

    def deliver(self, name: str) -> None:
        """The OS delivers signal ``name``: Python calls its handler."""
        self.handlers[name](getattr(self, name), None)


class FakeLoop:
    """An event loop's signal handlers and thread-safe calls, recorded. ``signals=False``
    is Windows' proactor loop: ``add_signal_handler`` raises NotImplementedError."""

    def __init__(self, signals: bool = True) -> None:
        self.signals = signals
        self.signal_handlers: dict[int, Callable[[], object]] = {}
        self.soon: list[Callable[[], object]] = []

    def add_signal_handler(self, sig: int, callback: Callable[[], object]) -> None:
        if not self.signals:
            raise NotImplementedError
        self.signal_handlers[sig] = callback

    def call_soon_threadsafe(self, callback: Callable[[], object]) -> None:
        self.soon.append(callback)

    def run_soon(self) -> None:
        calls, self.soon = self.soon, []
        for callback in calls:
            callback()
