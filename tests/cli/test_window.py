"""`tvdesk` without --headless on a machine with no display says so instead of aborting."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="DISPLAY is how Linux says it")
def test_no_display_is_a_clear_refusal_not_a_crash(tmp_path: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
        and not k.startswith("TVDESK_")
    }
    result = subprocess.run(
        [sys.executable, "-m", "tvdesk", "--no-tunnel", "--data-dir", str(tmp_path / "d")],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2
    assert "no display" in result.stderr and "tvdesk --headless" in result.stderr
    assert "Traceback" not in result.stderr
