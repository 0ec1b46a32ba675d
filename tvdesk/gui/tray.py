"""Tray icon with the engine's state, and desktop notifications.

Where the desktop has no system tray (some Linux desktops, offscreen), the window
minimises instead of hiding and notifications go to its status bar.
"""

from __future__ import annotations

from collections import Counter, deque

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMainWindow, QMenu, QSystemTrayIcon

from tvdesk.core.events import (
    AlertDecided,
    CircuitChanged,
    ExchangeWarning,
    KillSwitchChanged,
    OrderFilled,
    TunnelChanged,
)
from tvdesk.gui.prefs import Prefs
from tvdesk.gui.resources import state_icon

NOTICE_MS = 10_000


class Tray(QObject):
    show_requested = Signal()
    kill_requested = Signal()
    quit_requested = Signal()

    def __init__(self, window: QMainWindow, prefs: Prefs) -> None:
        super().__init__(window)
        self.window = window
        self.prefs = prefs
        self.available = QSystemTrayIcon.isSystemTrayAvailable()
        self.notices: deque[str] = deque(maxlen=50)  # the latest, newest last
        self._fills: Counter[str] = Counter()
        self._rejections: list[str] = []
        self.icon: QSystemTrayIcon | None = None
        if self.available:
            self.icon = QSystemTrayIcon(state_icon("busy"), self)
            menu = QMenu(window)
            show = QAction("Show tvdesk", menu)
            show.triggered.connect(self.show_requested)
            kill = QAction("Kill switch: refuse every new order", menu)
            kill.triggered.connect(self.kill_requested)
            quit_action = QAction("Quit tvdesk", menu)
            quit_action.triggered.connect(self.quit_requested)
            menu.addAction(show)
            menu.addAction(kill)
            menu.addSeparator()
            menu.addAction(quit_action)
            self.icon.setContextMenu(menu)
            self.icon.activated.connect(self._activated)
            self.icon.show()

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self.show_requested.emit()

    def set_state(self, state: str, live: bool, tooltip: str) -> None:
        """``state``: ok | busy | error | off; the window icon follows too."""
        icon = state_icon(state, live)
        self.window.setWindowIcon(icon)
        if self.icon is not None:
            self.icon.setIcon(icon)
            self.icon.setToolTip(tooltip)

    def notify(self, title: str, text: str, *, warning: bool = False) -> None:
        notice = f"{title}: {text}"
        self.notices.append(notice)
        if not self.prefs.notifications:
            return
        if self.icon is not None and self.icon.supportsMessages():
            kind = QSystemTrayIcon.MessageIcon
            self.icon.showMessage(title, text, kind.Warning if warning else kind.Information)
        else:
            self.window.statusBar().showMessage(notice, NOTICE_MS)

    def hide(self) -> None:
        if self.icon is not None:
            self.icon.hide()

    # -- engine events, summarised once per bridge flush ---------------------------------

    def on_event_order_filled(self, event: OrderFilled) -> None:
        self._fills[f"{event.side} {event.symbol}"] += 1

    def on_event_alert_decided(self, event: AlertDecided) -> None:
        if event.outcome in ("rejected", "failed"):
            self._rejections.append(event.reason)

    def on_event_tunnel_changed(self, event: TunnelChanged) -> None:
        if event.state in ("down", "error"):
            self.notify(
                "Tunnel down", event.error or "TradingView cannot reach tvdesk", warning=True
            )

    def on_event_kill_switch_changed(self, event: KillSwitchChanged) -> None:
        title = "Kill switch ON" if event.on else "Kill switch off"
        self.notify(title, event.reason, warning=event.on)

    def on_event_circuit_changed(self, event: CircuitChanged) -> None:
        if event.open:
            self.notify(f"{event.exchange}: live orders paused", event.reason, warning=True)
        else:
            self.notify(f"{event.exchange}: live orders resumed", event.reason)

    def on_event_exchange_warning(self, event: ExchangeWarning) -> None:
        self.notify(event.exchange, event.message, warning=True)

    def flush(self) -> None:
        if self._fills:
            total = sum(self._fills.values())
            what = ", ".join(f"{n}× {name}" for name, n in self._fills.most_common(3))
            self.notify(f"{total} fill{'s' if total > 1 else ''}", what)
            self._fills.clear()
        if self._rejections:
            count = len(self._rejections)
            title = f"{count} alert{'s' if count > 1 else ''} rejected"
            self.notify(title, self._rejections[-1], warning=True)
            self._rejections.clear()
