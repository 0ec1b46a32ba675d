"""The main window: assembles the panels, the status bar, the tray; runs start-up and quit."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from tvdesk.config.keystore import KeystoreError
from tvdesk.core.events import EngineStarted, KillSwitchChanged
from tvdesk.engine.errors import EngineError
from tvdesk.gui.aio import ask, spawn
from tvdesk.gui.awake import KeepAwake
from tvdesk.gui.bridge import Bridge
from tvdesk.gui.handle import EngineHandle
from tvdesk.gui.menus import MenuActions, build_menus
from tvdesk.gui.panels.connect import NGROK_TOKEN, ConnectPanel
from tvdesk.gui.panels.log import LogPanel
from tvdesk.gui.panels.mode import ModeSwitch
from tvdesk.gui.panels.notify import NotifyPanel
from tvdesk.gui.panels.positions import PositionsPanel
from tvdesk.gui.panels.risk import RiskPanel
from tvdesk.gui.panels.secrets import SecretsPanel
from tvdesk.gui.panels.symbols import SymbolsPanel
from tvdesk.gui.prefs import CLOSE_ASK, CLOSE_BACKGROUND, CLOSE_QUIT, Prefs
from tvdesk.gui.status_bar import StatusBar
from tvdesk.gui.tray import Tray
from tvdesk.store.errors import JournalError
from tvdesk.support.lockfile import DataDirLocked

BANNER = "QLabel {{ background: {bg}; color: white; padding: 6px 10px; border-radius: 4px; }}"


if TYPE_CHECKING:
    from tvdesk.tunnel.events import TunnelUrlChanged


class MainWindow(QMainWindow):
    def __init__(self, handle: EngineHandle, prefs: Prefs) -> None:
        super().__init__()
        self.handle = handle
        self.prefs = prefs
        self.quitting = False
        self.live_at_start = False  # settings.toml asked for LIVE: bring_up asks the trader
        self.stopped = asyncio.get_running_loop().create_future()  # set once the engine is down
        self.awake = KeepAwake()
        self.setWindowTitle("tvdesk")
        self.resize(1100, 760)
        handle.setParent(self)
        self.bridge = Bridge(handle, parent=self)

        self.connect_panel = ConnectPanel(handle)
        self.log_panel = LogPanel(handle, self.bridge)
        self.positions_panel = PositionsPanel(handle)
        self.symbols_panel = SymbolsPanel(handle)
        self.risk_panel = RiskPanel(handle)
        self.secrets_panel = SecretsPanel(handle)
        self.notify_panel = NotifyPanel(handle)
        self.tabs = QTabWidget(objectName="panels")
        for panel, title in (
            (self.connect_panel, "&Connect"),
            (self.log_panel, "Lo&g"),
            (self.positions_panel, "&Positions"),
            (self.symbols_panel, "&Symbols"),
            (self.risk_panel, "&Risk"),
            (self.secrets_panel, "S&ecrets"),
            (self.notify_panel, "&Notifications"),
        ):
            self.tabs.addTab(panel, title)
        self.connect_panel.go_to_secrets.connect(
            lambda: self.tabs.setCurrentWidget(self.secrets_panel)
        )
        self.secrets_panel.changed.connect(self._secrets_changed)

        self.banner = QLabel(objectName="banner", wordWrap=True)
        self.banner.hide()
        # settings.toml broken while running: said until the file loads again.
        self.settings_banner = QLabel(objectName="settingsBanner", wordWrap=True)
        self.settings_banner.setStyleSheet(BANNER.format(bg="#9a6700"))
        self.settings_banner.hide()
        self.progress_text = QLabel("Starting…", objectName="startupProgress")
        self.progress = QProgressBar(maximum=0, maximumHeight=6, textVisible=False)
        central = QWidget()
        layout = QVBoxLayout(central)
        for widget in (self.banner, self.settings_banner, self.progress_text, self.progress):
            layout.addWidget(widget)
        layout.addWidget(self.tabs, 1)
        self.setCentralWidget(central)

        self.status = StatusBar(handle)
        self.status.settings_problem.connect(self.show_settings_problem)
        self.setStatusBar(self.status)
        self.log_file = handle.paths.log_file  # app.py sets --log-file's
        self.mode_switch = ModeSwitch(handle)
        self.mode_switch.changed.connect(self._mode_changed)
        toolbar = QToolBar("Mode", objectName="modeBar", movable=False)
        toolbar.addWidget(self.mode_switch)
        self.addToolBar(toolbar)
        self.tray = Tray(self, prefs)
        self.tray.show_requested.connect(self.bring_to_front)
        self.tray.kill_requested.connect(lambda: spawn(self.kill_now()))
        self.tray.quit_requested.connect(lambda: spawn(self.quit()))
        self.kill_action = build_menus(
            self,
            MenuActions(
                export_csv=self.log_panel.export_csv,
                quit=self.quit,
                kill_now=self.kill_now,
                set_pref=self.set_pref,
                prefs=self.prefs,
                paths=handle.paths,
                log_file=lambda: self.log_file,
            ),
        )
        for listener in (self, self.status, self.connect_panel, self.symbols_panel):
            self.bridge.register(listener)
        for listener in (self.risk_panel, self.secrets_panel, self.positions_panel, self.tray):
            self.bridge.register(listener)
        self.bridge.register(self.notify_panel)
        self.bridge.flushed.connect(self.tray.flush)
        self._mode_changed(handle.settings().mode)

    async def kill_now(self) -> None:
        """The kill switch on (resuming stays on the Risk tab, where the limits are)."""
        if not self.handle.running or self.handle.settings().risk.kill_switch:
            return
        await self.handle.call(lambda e: e.set_kill_switch(True, "kill switch (window)"))
        self.risk_panel.show_kill(True)

    def set_pref(self, name: str, on: bool) -> None:
        setattr(self.prefs, name, on)
        if name == "keep_awake":
            self._apply_keep_awake()

    def _apply_keep_awake(self) -> None:
        if self.prefs.keep_awake and self.handle.running:
            problem = self.awake.start()
            if problem:
                self.statusBar().showMessage(f"Cannot keep the computer awake: {problem}", 10_000)
        else:
            self.awake.stop()

    # -- start-up ----------------------------------------------------------------------

    def step(self, text: str) -> None:
        self.progress_text.setText(text)

    async def start_engine(self) -> bool:
        """Bring the engine up with visible progress; a refusal becomes a dialog."""
        self.tray.set_state("busy", False, "tvdesk: starting")
        self.step("Starting the engine: locking the data folder, opening the journal…")
        try:
            await self.handle.start()
        except (DataDirLocked, EngineError, JournalError, KeystoreError, OSError) as exc:
            self.step(f"Not started: {exc}")
            self.progress.hide()
            self.tray.set_state("error", False, "tvdesk: not started")
            await self._error("tvdesk cannot start", str(exc))
            return False
        settings = self.handle.settings()
        self.step("Loading the journal into the log…")
        await self.log_panel.load()
        self.step("Markets: paper mode maps symbols by rule, no market download needed.")
        if settings.mode == "live":
            self.step(f"Markets: {settings.exchange.default} is checked at the first live order.")
        await self.connect_panel.refresh_url()
        tunnel = await self.handle.call(lambda e: e.tunnel_status())
        self.step(
            f"Tunnel: {tunnel['state']}" + (f" — {tunnel['error']}" if tunnel["error"] else "")
        )
        self.risk_panel.start()
        self.positions_panel.refresh()
        self.symbols_panel.scan_pending()
        self.progress.hide()
        self.progress_text.hide()
        self._apply_keep_awake()
        return True

    async def _error(self, title: str, text: str) -> None:
        box = QMessageBox(
            QMessageBox.Icon.Critical, title, text, QMessageBox.StandardButton.Ok, self
        )
        box.setObjectName("startupError")
        await ask(box)
        box.deleteLater()

    # -- state shown everywhere --------------------------------------------------------------

    def _mode_changed(self, mode: str) -> None:
        self.status.show_mode(mode)
        self.mode_switch.show_mode(mode)
        if mode == "live":
            exchange = self.handle.settings().exchange.default
            self.show_banner(f"LIVE session: alerts place real orders on {exchange}.", "#da3633")
            self.tray.notify("LIVE trading", f"real orders on {exchange}", warning=True)
        else:
            self.banner.hide()
        self._tray_state()
        self.positions_panel.refresh()

    def show_banner(self, text: str, colour: str) -> None:
        self.banner.setText(text)
        self.banner.setStyleSheet(BANNER.format(bg=colour))
        self.banner.show()

    def show_settings_problem(self, problem: str) -> None:
        self.settings_banner.setText(
            "settings.toml has a problem, so tvdesk keeps trading with the settings it had "
            f"(fix the file and save it; this note goes away): {problem}"
        )
        self.settings_banner.setToolTip(problem)
        self.settings_banner.setVisible(bool(problem))

    def _tray_state(self) -> None:
        settings = self.handle.settings()
        live = settings.mode == "live"
        if settings.risk.kill_switch:
            self.tray.set_state("error", live, "tvdesk: kill switch ON")
        elif self.handle.running:
            self.tray.set_state("ok", live, f"tvdesk: running ({settings.mode})")
        else:
            self.tray.set_state("off", live, "tvdesk: stopped")

    def _secrets_changed(self, name: str) -> None:
        self.connect_panel.refresh_message()
        self.connect_panel.refresh_steps()
        if name == NGROK_TOKEN and self.handle.running:
            # A new authtoken: the tunnel starts over with it (a no-op with --no-tunnel).
            spawn(self.handle.call(lambda e: e.tunnel.restart() if e.tunnel else None))

    def on_event_engine_started(self, event: EngineStarted) -> None:
        self._tray_state()

    def on_event_kill_switch_changed(self, event: KillSwitchChanged) -> None:
        self._tray_state()

    def on_event_tunnel_url_changed(self, event: TunnelUrlChanged) -> None:
        # Every alert in TradingView still posts to the old URL: said where it can't be missed.
        self.show_banner(event.message, "#9a6700")
        self.connect_panel.steps.mark(1, False)  # the URL copied before is not this one

    # -- closing --------------------------------------------------------------------------

    def bring_to_front(self) -> None:
        self.showNormal()
        self.raise_()
        self.activateWindow()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.quitting:
            event.accept()
            return
        event.ignore()
        spawn(self.ask_close())

    async def ask_close(self) -> None:
        choice = self.prefs.close_action
        if choice == CLOSE_ASK:
            where = "in the tray" if self.tray.available else "minimised"
            box = QMessageBox(QMessageBox.Icon.Question, "Close tvdesk", "", parent=self)
            box.setObjectName("closeBox")
            box.setText(
                f"Keep tvdesk running {where}? TradingView alerts only reach tvdesk while it runs."
            )
            keep = box.addButton(f"Keep running {where}", QMessageBox.ButtonRole.AcceptRole)
            keep.setObjectName("keepRunning")
            quit_button = box.addButton("Quit", QMessageBox.ButtonRole.DestructiveRole)
            quit_button.setObjectName("quitButton")
            box.addButton(QMessageBox.StandardButton.Cancel)
            remember = QCheckBox("Remember my choice", objectName="rememberClose")
            box.setCheckBox(remember)
            await ask(box)
            clicked = box.clickedButton()
            box.deleteLater()
            if clicked not in (keep, quit_button):
                return
            choice = CLOSE_BACKGROUND if clicked is keep else CLOSE_QUIT
            if remember.isChecked():
                self.prefs.close_action = choice
        if choice == CLOSE_QUIT:
            await self.quit()
        else:
            self.to_background()

    def to_background(self) -> None:
        if self.tray.available:
            self.hide()
            self.tray.notify("tvdesk keeps running", "Alerts are still received.")
        else:
            self.showMinimized()

    async def quit(self) -> None:
        """Stop accepting, drain the worker, stop the tunnel, then close for good."""
        if self.quitting:
            return
        self.quitting = True
        self.step("Stopping: finishing the order in flight…")
        self.progress_text.show()
        try:
            await self.handle.stop()
        finally:
            self.bridge.close()
            self.awake.stop()
            self.tray.hide()
            self.handle.close()
            self.close()
            if not self.stopped.done():
                self.stopped.set_result(None)
