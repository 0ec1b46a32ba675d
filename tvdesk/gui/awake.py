"""Keep the computer from sleeping while tvdesk runs.

TradingView does not resend an alert that a sleeping PC missed, so a trader who
leaves tvdesk running overnight wants the machine awake. The display may still
turn off; only system sleep is held back.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sys


class KeepAwake:
    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self.active = False

    def start(self) -> str | None:
        """Hold off system sleep; returns why it cannot, or None when it works."""
        if self.active:
            return None
        if sys.platform == "win32":
            es_continuous, es_system_required = 0x80000000, 0x00000001
            ctypes.windll.kernel32.SetThreadExecutionState(  # type: ignore[attr-defined]
                es_continuous | es_system_required
            )
        else:
            command = _inhibitor()
            if command is None:
                return "no sleep inhibitor here (caffeinate or systemd-inhibit)"
            self._proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        self.active = True
        return None

    def stop(self) -> None:
        if not self.active:
            return
        self.active = False
        if sys.platform == "win32":
            ctypes.windll.kernel32.SetThreadExecutionState(0x80000000)  # type: ignore[attr-defined]
        elif self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=5)
            self._proc = None


def _inhibitor() -> list[str] | None:
    pid = str(os.getpid())
    if sys.platform == "darwin" and shutil.which("caffeinate"):
        return ["caffeinate", "-i", "-w", pid]
    if shutil.which("systemd-inhibit"):
        # Holds the lock while `tail` waits for tvdesk to exit, so a crash frees it too.
        return [
            "systemd-inhibit",
            "--what=sleep:idle",
            "--who=tvdesk",
            "--why=waiting for TradingView alerts",
            "--mode=block",
            "tail",
            f"--pid={pid}",
            "-f",
            "/dev/null",
        ]
    return None
