"""``tvdesk``: the window, refused plainly where there is no display to open it on.

Qt is imported only inside ``cmd_window``: headless mode and the small tools never load it.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from tvdesk.cli.common import LogOptions, fail
from tvdesk.support import timing
from tvdesk.support.platform import current


def cmd_window(data_dir: Path | None, args: argparse.Namespace, logs: LogOptions) -> int:
    missing = _no_display()
    if missing:
        return fail(missing)
    # Imported here: headless mode and the small tools must never load Qt.
    from tvdesk.gui.app import GuiOptions, run

    options = GuiOptions(
        data_dir=data_dir,
        port=args.port,
        host=args.host,
        tunnel=not args.no_tunnel,
        mode=args.mode,
        exchange=args.exchange,
        exchange_url=args.exchange_url,
        log_level=logs.level,
        log_file=logs.file,
    )
    return run(options, _mark_window_timings if timing.enabled() else None)


def _no_display() -> str | None:
    """Why the window cannot open here (Linux without a display), before Qt aborts on it."""
    if os.environ.get("QT_QPA_PLATFORM") or current().has_display(os.environ):
        return None
    return (
        "no display to open the window on (DISPLAY and WAYLAND_DISPLAY are unset): "
        "on a server run `tvdesk --headless`; over SSH, connect with X forwarding"
    )


async def _mark_window_timings(window: Any) -> None:
    """--timing: "window shown" once it has painted, "engine ready" when the engine is."""
    if window.isVisible():
        window.repaint()
        timing.mark("window shown")

    def on_event(event: Any) -> None:
        if event.name == "EngineStarted":
            timing.mark("engine ready")

    window.handle.event.connect(on_event)
