"""The event plumbing: the bridge's batching, the window's start and stop.

qasync under load (the PySide6 pin's canary) is tests/gui/test_qasync_regression.py.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.kit.paper import SECRET
from tvdesk.core.events import AlertDecided, EngineStopped
from tvdesk.gui.bridge import Bridge, handler_name
from tvdesk.support.bus import EventBus

ROOT = Path(__file__).resolve().parents[2]


class Recorder:
    def __init__(self) -> None:
        self.decided: list[str] = []
        self.batches = 0

    def on_event_alert_decided(self, event: AlertDecided) -> None:
        self.decided.append(event.alert_id)


async def test_a_burst_of_events_is_one_batch_in_order(window):
    bridge = Bridge(window.handle, interval_ms=20, parent=window)
    recorder = Recorder()
    bridge.register(recorder)
    bridge.flushed.connect(lambda: setattr(recorder, "batches", recorder.batches + 1))
    for i in range(2000):
        window.handle.event.emit(AlertDecided(0.0, f"a{i}", "filled", ""))
    assert recorder.decided == []  # nothing handed out yet: batched
    while recorder.batches == 0:
        await asyncio.sleep(0.005)
    assert recorder.batches == 1
    assert recorder.decided == [f"a{i}" for i in range(2000)]
    assert handler_name("EngineStopped") == "on_event_engine_stopped"
    assert EngineStopped(0.0).name == "EngineStopped"
    assert isinstance(window.handle._engine.bus, EventBus)


def test_the_window_starts_without_ccxt_and_quits_cleanly_on_sigterm(tmp_path):
    trap = tmp_path / "trap" / "ccxt"
    trap.mkdir(parents=True)
    (trap / "__init__.py").write_text("raise ImportError('ccxt imported at GUI start')\n")
    env = {
        **os.environ,
        "PYTHONPATH": f"{trap.parent}{os.pathsep}{ROOT}",
        "QT_QPA_PLATFORM": "offscreen",
        "TVDESK_WEBHOOK_SECRET": SECRET,
    }
    command = [
        sys.executable,
        "-m",
        "tvdesk",
        "--timing",
        "--no-tunnel",
        "--port",
        "0",
        "--data-dir",
        str(tmp_path / "data"),
    ]
    proc = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if "tvdesk timing: engine ready" in line:
            break
    else:
        raise AssertionError("".join(lines))
    proc.send_signal(signal.SIGTERM)
    _, rest = proc.communicate(timeout=20)
    assert proc.returncode == 0, rest
    text = "".join(lines) + rest
    assert "window shown" in text and "ccxt imported" not in text
    assert "Traceback" not in text
    assert not (tmp_path / "data" / "engine.json").exists()  # stopped: engine.json removed
