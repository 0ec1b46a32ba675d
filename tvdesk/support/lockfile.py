"""One engine per data dir: two engines would execute every alert twice."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import IO

from tvdesk.support.platform import Platform, current


class DataDirLocked(Exception):
    """Another tvdesk already runs on this data dir; the message names it."""


class DataDirLock:
    """An OS-level exclusive lock on ``tvdesk.lock``, released by the OS if we die.

    The holder's name is kept beside it in ``tvdesk.lock.holder``, written once the lock
    is taken: Windows refuses other processes a read of a locked file, so a second tvdesk
    could never read the name from the lock file itself.
    """

    def __init__(self, path: Path, platform: Platform | None = None) -> None:
        self.path = path
        self._platform = platform or current()
        self.holder_path = path.with_name(path.name + ".holder")
        self._file: IO[bytes] | None = None

    def acquire(self, holder: str) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        f = os.fdopen(fd, "r+b")  # held open while locked
        try:
            self._platform.lock(f.fileno())
        except OSError:
            f.close()
            who = self._read_holder() or "another process"
            raise DataDirLocked(
                f"tvdesk is already running on {self.path.parent} ({who}); "
                "stop it first, or use another --data-dir"
            ) from None
        self._file = f
        # Created owner-only (0600): it names the process, and it lives beside the journal.
        fd = os.open(self.holder_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(f"pid {os.getpid()}, {holder}")

    def release(self) -> None:
        if self._file is None:
            return
        # A dead holder's file is harmless (the next holder rewrites it), so a failure to
        # remove it (Windows: another process is reading it) is no error.
        with contextlib.suppress(OSError):
            self.holder_path.unlink()
        try:
            self._platform.unlock(self._file.fileno())
        finally:
            self._file.close()
            self._file = None

    def _read_holder(self) -> str:
        try:
            return self.holder_path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            return ""
