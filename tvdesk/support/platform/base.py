"""The one interface every OS implements, and the process calls they share (psutil)."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterable, Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import asyncio  # the guard process runs this module: nothing it does not need


class CannotKeepAwake(Exception):
    """This machine offers no way to hold off sleep; the message says what is missing."""


class WakeHold(Protocol):
    """Sleep is held off until ``release()``."""

    def release(self) -> None: ...


class Platform(Protocol):
    name: str

    def alive(self, pid: int) -> bool:
        """Whether process ``pid`` is running (a zombie, exited but not reaped, is not)."""
        ...

    def end_processes(self, pids: Iterable[int], grace: float) -> list[int]:
        """End each process and its children: politely, then by force after ``grace`` s.

        Returns once they have all ended, with the pids that would not (none, normally).
        """
        ...

    def process_age(self) -> float:
        """Seconds since the OS started this process; OSError when the OS can't say."""
        ...

    def lock(self, fd: int) -> None:
        """Lock the open file ``fd`` for this process alone; OSError if another holds it.

        The OS drops the lock when the process dies, however it dies.
        """
        ...

    def unlock(self, fd: int) -> None: ...

    def keep_awake(self) -> WakeHold:
        """Hold off system sleep (the display may still turn off); CannotKeepAwake if not."""
        ...

    def on_stop(
        self, callback: Callable[[], object], loop: asyncio.AbstractEventLoop | None = None
    ) -> None:
        """Ctrl+C and the OS's polite "please end" call ``callback``: on ``loop`` when
        given, else straight from Python's signal handler (on the main thread)."""
        ...

    def on_reload(self, callback: Callable[[], object], loop: asyncio.AbstractEventLoop) -> bool:
        """The OS's "re-read your settings" (SIGHUP) calls ``callback`` on ``loop``; False
        where the OS has no such signal."""
        ...

    def ignore_interrupt(self) -> None:
        """Ctrl+C in the terminal no longer ends this process (it is for tvdesk, not a
        helper process of tvdesk's)."""
        ...

    def detached(self) -> dict[str, Any]:
        """``subprocess.Popen`` arguments that keep a helper process out of reach of the
        terminal's Ctrl+C, so tvdesk ends it itself, in order."""
        ...

    def event_loop_factory(self) -> Callable[[], asyncio.AbstractEventLoop]:
        """The fastest asyncio loop that runs here (uvloop where it does)."""
        ...

    def has_mode_bits(self) -> bool:
        """Whether files carry owner/group/other mode bits (chmod) that make them private."""
        ...

    def binary_flag(self) -> int:
        """The ``os.open`` flag that stops the C runtime from translating line ends in a
        file Python writes itself (0 where no runtime does)."""
        ...

    def has_display(self, environ: Mapping[str, str]) -> bool:
        """Whether a window can open here, by the environment this process was given."""
        ...

    def qt_display_plugin(self) -> str | None:
        """The Qt platform plugin whose system libraries a desktop may lack, else None."""
        ...


def load_psutil(given: ModuleType | None) -> ModuleType:
    """``given`` (a test's fake), else the real psutil, imported only when first needed."""
    if given is not None:
        return given
    import psutil  # a plain import: PyInstaller must see it

    return psutil


class PsutilProcesses:
    """Process liveness, termination and age through psutil: what every OS here shares.

    ``psutil`` is a test's fake, else the real module, imported when first needed.
    """

    def __init__(self, *, psutil: ModuleType | None = None) -> None:
        self._psutil = psutil

    @property
    def psutil(self) -> ModuleType:
        self._psutil = load_psutil(self._psutil)
        return self._psutil

    def alive(self, pid: int) -> bool:
        return alive(self.psutil, pid)

    def end_processes(self, pids: Iterable[int], grace: float) -> list[int]:
        # On Windows terminate() is TerminateProcess: it has no polite signal for a process
        # without a window, so "politely" and "by force" are the same call there.
        return end_processes(self.psutil, pids, grace)

    def process_age(self) -> float:
        # Windows: GetProcessTimes' creation time; macOS: kinfo_proc; both as a Unix time.
        return time.time() - self.psutil.Process(os.getpid()).create_time()


def handler(
    callback: Callable[[], object], loop: asyncio.AbstractEventLoop | None
) -> Callable[..., object]:
    """A Python signal handler calling ``callback``: handed to ``loop`` (thread-safe) when
    given, else called at once."""
    if loop is None:
        return lambda *_: callback()
    return lambda *_: loop.call_soon_threadsafe(callback)


def alive(psutil: ModuleType, pid: int) -> bool:
    try:
        return _running(psutil, psutil.Process(pid))
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True  # it exists; it belongs to another user


def end_processes(psutil: ModuleType, pids: Iterable[int], grace: float) -> list[int]:
    """Returns the pids still running at the end (none, unless the OS refused)."""
    procs = []
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            proc = psutil.Process(pid)
            procs += [*proc.children(recursive=True), proc]
    # psutil checks before each signal that the pid still names the process listed here.
    _signal(psutil, procs, "terminate")
    left = _wait(psutil, procs, grace)
    _signal(psutil, left, "kill")
    return [proc.pid for proc in _wait(psutil, left, grace)]


def _running(psutil: ModuleType, proc: Any) -> bool:
    """A zombie (ended, not yet reaped by its parent) has ended."""
    try:
        return bool(proc.is_running()) and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True  # it exists; it belongs to another user


def _signal(psutil: ModuleType, procs: list[Any], how: str) -> None:
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            getattr(proc, how)()


def _wait(psutil: ModuleType, procs: list[Any], grace: float) -> list[Any]:
    # Polled, not psutil.wait_procs: that waits the whole grace for a zombie whose parent
    # is not this process.
    deadline = time.monotonic() + grace
    while True:
        left = [proc for proc in procs if _running(psutil, proc)]
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.05)
