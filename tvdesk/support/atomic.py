"""The one way tvdesk replaces a file: write a temporary sibling, fsync it, rename it over
the target, fsync the folder, so a crash or a power cut leaves the old file or the new one,
never half of either."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: str | bytes, *, mode: int | None = None) -> None:
    """Replace ``path`` with ``data`` (text is written as UTF-8, newlines untouched).

    ``mode`` sets the file's permission bits (0o600 for anything holding a secret);
    without it, an existing file keeps its own and a new one gets 0o600 from mkstemp.
    The folder is created 0o700 when missing.
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(payload)
            out.flush()
            os.fsync(out.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.chmod(tmp, stat.S_IMODE(path.stat().st_mode))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    """Make a rename in ``directory`` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return  # Windows cannot open a directory; its rename is durable enough
    with contextlib.suppress(OSError):
        os.fsync(fd)
    os.close(fd)
