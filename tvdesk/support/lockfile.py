"""One engine per data dir: two engines would execute every alert twice."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import IO


class DataDirLocked(Exception):
    """Another tvdesk already runs on this data dir; the message names it."""


class DataDirLock:
    """An OS-level exclusive lock on ``tvdesk.lock``, released by the OS if we die."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = None

    def acquire(self, holder: str) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Created owner-only (0600): it names the process, and it lives beside the journal.
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        f = os.fdopen(fd, "r+", encoding="utf-8")  # held open while locked
        try:
            _lock(f)
        except OSError:
            f.seek(0)
            who = f.read().strip() or "another process"
            f.close()
            raise DataDirLocked(
                f"tvdesk is already running on {self.path.parent} ({who}); "
                "stop it first, or use another --data-dir"
            ) from None
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()}, {holder}")
        f.flush()
        self._file = f

    def release(self) -> None:
        if self._file is None:
            return
        try:
            self._file.seek(0)
            self._file.truncate()
            _unlock(self._file)
        finally:
            self._file.close()
            self._file = None


if sys.platform == "win32":
    import msvcrt

    def _lock(f: IO[str]) -> None:
        f.seek(0)
        msvcrt.locking(f.fileno(), msvcrt.LK_NBLCK, 1)

    def _unlock(f: IO[str]) -> None:
        f.seek(0)
        msvcrt.locking(f.fileno(), msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _lock(f: IO[str]) -> None:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(f: IO[str]) -> None:
        fcntl.flock(f.fileno(), fcntl.LOCK_UN)
