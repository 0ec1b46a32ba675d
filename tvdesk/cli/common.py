"""What the commands share: the one way to fail, and what the running engine says of itself.

A command that cannot do its job prints ``tvdesk: <why>`` on stderr and exits non-zero;
the running engine writes its ports, mode and public URL to engine.json in its data dir.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def fail(message: str, code: int = 2) -> int:
    print(f"tvdesk: {message}", file=sys.stderr)
    return code


def read_engine_file(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
