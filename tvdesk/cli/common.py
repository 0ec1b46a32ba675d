"""What the commands share: the one way to fail, the log options, and what the running
engine says of itself.

A command that cannot do its job prints ``tvdesk: <why>`` on stderr and exits with a code
from the one table (tvdesk.support.exits); the running engine writes its ports, mode and
public URL to engine.json in its data dir.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tvdesk.support import exits

LOG_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def fail(message: str, code: int = exits.USAGE) -> int:
    print(f"tvdesk: {message}", file=sys.stderr)
    return code


@dataclass(frozen=True)
class LogOptions:
    """-v / --log-level and --log-file: how much the engine logs, and where."""

    level: int = logging.INFO
    file: Path | None = None  # None: logs/tvdesk.log in the data folder

    def where(self, default: Path) -> Path:
        return self.file if self.file is not None else default

    def problem(self) -> str | None:
        """Why --log-file cannot be written (before anything starts), or None."""
        if self.file is None:
            return None
        path = self.file
        if path.is_dir():
            return f"--log-file {path} is a folder: name a file in it, like {path / 'tvdesk.log'}"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            return f"--log-file {path}: cannot make its folder ({exc.strerror or exc})"
        target = path if path.exists() else path.parent
        if not os.access(target, os.W_OK):
            return f"--log-file {path}: {target} is not writable: pick another place"
        return None


def read_engine_file(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
