"""``tvdesk`` with no flags: the window first, then the engine on the same (qasync) loop.

The engine runs on the window's Qt event loop through qasync. tests/perf/bench_gui.py
measured the loop's longest stall during a 2,000-alert burst at 29 ms that way (median
of 3) and 69 ms with the engine on a loop in a thread of its own, whose Python work
holds the GIL the window needs (see README). ``EngineHandle`` keeps the choice in one
place (``THREADED_ENGINE``); no panel depends on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from tvdesk.config.keystore import Keystore, service_name
from tvdesk.config.load import SettingsError, load_settings
from tvdesk.config.paths import Paths, resolve_paths
from tvdesk.config.save import write_default_settings
from tvdesk.config.schema import Settings
from tvdesk.engine.engine import Engine
from tvdesk.engine.reload import apply_overrides
from tvdesk.gui.aio import QtLoop, inform, spawn
from tvdesk.gui.collector import MainThreadCollector
from tvdesk.gui.dialogs.secrets_store import choose_keystore, show_secrets_store
from tvdesk.gui.handle import EngineHandle
from tvdesk.gui.main_window import MainWindow
from tvdesk.gui.prefs import Prefs
from tvdesk.gui.resources import app_icon
from tvdesk.notify.notifier import Notifier
from tvdesk.support import exits
from tvdesk.support.bus import EventBus
from tvdesk.support.clock import SystemClock
from tvdesk.support.logs import EventLogger, setup_logging, stop_logging
from tvdesk.support.platform import current

THREADED_ENGINE = False  # the engine on the Qt loop; see the module docstring
OnShown = Callable[[MainWindow], Awaitable[None]]


@dataclass
class GuiOptions:
    data_dir: Path | None = None
    port: int | None = None
    host: str | None = None
    tunnel: bool = True
    mode: str | None = None
    exchange: str | None = None
    exchange_url: str | None = None
    threaded_engine: bool = THREADED_ENGINE
    log_level: int = logging.INFO  # -v / --log-level
    log_file: Path | None = None  # --log-file; None: the data folder's logs/tvdesk.log

    def overrides(self) -> dict[str, Any]:
        """This run's flags: they win over settings.toml and are never written back."""
        given = {
            "listener.port": self.port,
            "listener.host": self.host,
            "exchange.default": self.exchange.lower() if self.exchange else None,
            "exchange.url": self.exchange_url,
            "mode": self.mode,
        }
        return {key: value for key, value in given.items() if value is not None}


def run(options: GuiOptions, on_shown: OnShown | None = None) -> int:
    """Open the window and run until the trader quits; returns the exit status."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("tvdesk")
    app.setWindowIcon(app_icon())
    app.setQuitOnLastWindowClosed(False)  # closing may mean "keep running in the tray"
    collector = MainThreadCollector(app)
    try:
        with asyncio.Runner(loop_factory=lambda: QtLoop(app)) as runner:
            return runner.run(_main(options, on_shown))
    finally:
        collector.close()


def load(paths: Paths) -> Settings:
    paths.ensure()
    if not paths.settings_file.exists():
        write_default_settings(paths.settings_file)
    return load_settings(paths.settings_file)


def build_window(
    settings: Settings,
    keystore: Keystore,
    paths: Paths,
    *,
    tunnel: bool = True,
    overrides: dict[str, Any] | None = None,
    threaded: bool = THREADED_ENGINE,
) -> MainWindow:
    """The engine (not started yet), its handle and the window around it."""
    bus = EventBus()
    bus.subscribe(EventLogger())
    engine = Engine(
        settings,
        keystore,
        SystemClock(),
        bus,
        paths=paths,
        tunnel_enabled=tunnel,
        overrides=overrides,
    )
    # LIVE needs consent at every start: the engine starts in PAPER (settings.toml keeps
    # "live") and bring_up asks the trader.
    live_at_start = engine.hold_paper()
    window = MainWindow(EngineHandle(engine, threaded=threaded), Prefs(paths.config_dir))
    window.live_at_start = live_at_start
    show_secrets_store(window, keystore)
    return window


async def bring_up(window: MainWindow) -> bool:
    """Start the engine behind a shown window; a LIVE start is asked for, never assumed."""
    if not await window.start_engine():
        return False
    if window.live_at_start:
        window.live_at_start = False
        why_not = await window.mode_switch.consent_at_start()
        if why_not is not None:
            window.show_banner(f"Started in PAPER mode: {why_not}", "#9a6700")
    return True


async def _main(options: GuiOptions, on_shown: OnShown | None) -> int:
    paths = resolve_paths(options.data_dir)
    try:
        settings = apply_overrides(load(paths), options.overrides())
    except SettingsError as exc:
        await inform(None, "tvdesk: the settings file has a problem", str(exc), error=True)
        return exits.USAGE
    except OSError as exc:
        await inform(None, "tvdesk", f"Cannot use the data folder: {exc}", error=True)
        return exits.USAGE
    setup_logging(options.log_file or paths.log_file, console=False, level=options.log_level)
    notifier: Notifier | None = None
    try:
        # No OS keyring (i3, sway, WSLg...): an encrypted file or this session only.
        keystore = await choose_keystore(service_name(options.data_dir), paths.config_dir)
        if keystore is None:
            return exits.OK
        window = build_window(
            settings,
            keystore,
            paths,
            tunnel=options.tunnel,
            overrides=options.overrides(),
            threaded=options.threaded_engine,
        )
        window.log_file = options.log_file or paths.log_file
        # Fed by the handle's signal: events arrive on this (the window's) thread, where
        # the notifier sends them, whichever loop the engine runs on.
        handle = window.handle
        notifier = Notifier(handle.settings, handle.keystore, SystemClock())
        handle.event.connect(notifier.on_event)
        notifier.start()
        if window.prefs.start_minimised:
            window.to_background()
        else:
            window.show()
        _quit_on_signals(window)
        if on_shown is not None:
            await on_shown(window)
        # Quitting (Ctrl+C, SIGTERM, the tray) may come while start-up still waits, e.g.
        # on a dialog: whichever happens first decides.
        up = asyncio.ensure_future(bring_up(window))
        await asyncio.wait([up, window.stopped], return_when=asyncio.FIRST_COMPLETED)
        if window.stopped.done():
            up.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await up
            return exits.OK
        if not up.result():
            return exits.USAGE
        await window.stopped
        return exits.OK
    finally:
        if notifier is not None:
            await notifier.stop()  # within 2 s, after the engine said its last
        stop_logging()


def _quit_on_signals(window: MainWindow) -> None:
    """Ctrl+C / SIGTERM quit cleanly (drain, stop); a timer lets Python see the signal."""
    current().on_stop(lambda: spawn(window.quit()))
    window.signal_timer = QTimer(window, interval=250)
    window.signal_timer.timeout.connect(lambda: None)
    window.signal_timer.start()
