"""The ngrok agent's guard: a tiny process that ends the agent when tvdesk ends.

Standard library only, and no tvdesk import: a Python runs ``GUARD_CODE`` with -I -c;
a frozen (PyInstaller) tvdesk, whose executable runs no -c, runs ``tvdesk
--tunnel-guard``, which lands in ``main`` before anything else is imported.
"""

from __future__ import annotations

GUARD_FLAG = "--tunnel-guard"  # tvdesk's hidden command line for a frozen build

# Runs with -I (isolated: no site, no user paths). It holds the read end of a pipe only
# tvdesk writes to; when tvdesk ends in any way, kill -9 included, the pipe closes and the
# guard ends the agents it was told about.
GUARD_CODE = """
import os, signal, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
pids = set()
for line in sys.stdin:
    line = line.strip()
    if line.startswith("-"):
        pids.discard(int(line[1:]))
    elif line:
        pids.add(int(line))
for pid in pids:
    try:
        os.kill(pid, signal.SIGTERM)
    except OSError:
        pass
deadline = time.monotonic() + 3
while pids and time.monotonic() < deadline:
    time.sleep(0.1)
    for pid in list(pids):
        try:
            os.kill(pid, 0)
        except OSError:
            pids.discard(pid)
for pid in pids:
    try:
        os.kill(pid, getattr(signal, "SIGKILL", signal.SIGTERM))
    except OSError:
        pass
"""


def main() -> int:
    exec(GUARD_CODE, {"__name__": "__tvdesk_guard__"})
    return 0
