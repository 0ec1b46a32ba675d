"""Linux: the process age from /proc (psutil's counts from a boot time rounded to the
second), sleep held off by systemd-inhibit, a display only where X11 or Wayland says so."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Mapping

from tvdesk.support.platform.posix import Posix


class Linux(Posix):
    name = "linux"

    def process_age(self) -> float:
        with open("/proc/self/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        started_ticks = int(fields[19])  # field 22, starttime, in clock ticks since boot
        return time.clock_gettime(time.CLOCK_BOOTTIME) - started_ticks / os.sysconf("SC_CLK_TCK")

    def inhibitor(self, pid: int) -> list[str] | None:
        program = shutil.which("systemd-inhibit")
        if program is None:
            return None
        # Holds the lock while `tail` waits for tvdesk to exit, so a crash frees it too.
        return [
            program,
            "--what=sleep:idle",
            "--who=tvdesk",
            "--why=waiting for TradingView alerts",
            "--mode=block",
            "tail",
            f"--pid={pid}",
            "-f",
            "/dev/null",
        ]

    def has_display(self, environ: Mapping[str, str]) -> bool:
        # A server, a container, SSH without X forwarding: Qt would abort on opening one.
        return bool(environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"))

    def qt_display_plugin(self) -> str | None:
        # Qt's X11 plugin needs xcb libraries a minimal desktop install may lack.
        return "libqxcb.so"
