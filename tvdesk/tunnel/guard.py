"""The ngrok agent's guard: a tiny process that ends the agent when tvdesk ends.

A Python runs ``GUARD_CODE`` with -I -c (isolated: no user paths, no PYTHON* variables;
the code puts this tvdesk's own folder first on the path); a frozen (PyInstaller) tvdesk,
whose executable runs no -c, runs ``tvdesk --tunnel-guard``, which lands in ``main``
before anything else is imported. Either way the processes are ended through the
platform module (never ``os.kill``: on Windows signal 0 is CTRL_C_EVENT).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

from tvdesk.support.platform import Platform, current

GUARD_FLAG = "--tunnel-guard"  # tvdesk's hidden command line for a frozen build
GRACE_S = 3.0  # how long an agent has to end politely before it is killed

_ROOT = str(Path(__file__).resolve().parents[2])  # the folder holding this tvdesk package
GUARD_CODE = (
    f"import sys; sys.path.insert(0, {_ROOT!r}); "
    "from tvdesk.tunnel.guard import main; sys.exit(main())"
)


def watched(lines: Iterable[str]) -> set[int]:
    """The pids still to guard once tvdesk's pipe closes: ``<pid>`` adds, ``-<pid>`` drops."""
    pids: set[int] = set()
    for raw in lines:
        line = raw.strip()
        if line.startswith("-"):
            pids.discard(int(line[1:]))
        elif line:
            pids.add(int(line))
    return pids


def main(platform: Platform | None = None) -> int:
    # It holds the read end of a pipe only tvdesk writes to; when tvdesk ends in any way,
    # kill -9 included, the pipe closes and the guard ends the agents it was told about.
    platform = platform or current()
    platform.ignore_interrupt()  # Ctrl-C is for tvdesk, not its guard
    pids = watched(sys.stdin)
    platform.end_processes(pids, GRACE_S)
    return 0
