"""macOS: the process age from psutil (the kernel's own kinfo_proc, read as a struct),
sleep held off by caffeinate."""

from __future__ import annotations

import shutil

from tvdesk.support.platform.posix import Posix


class MacOS(Posix):
    name = "macos"
    inhibitor_name = "caffeinate"

    def inhibitor(self, pid: int) -> list[str] | None:
        program = shutil.which("caffeinate")
        # -i: no idle sleep; -w: until tvdesk exits, so a crash frees it too.
        return None if program is None else [program, "-i", "-w", str(pid)]
