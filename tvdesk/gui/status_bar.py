"""The always-visible status bar: listener, tunnel, mode, exchange, queue, last alert.

Its text is never cut: on a narrow window a label is elided ("Tunnel: up https://na…") and
its tooltip holds the whole text; the PAPER/LIVE and kill switch badges never shrink.
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QPainter, QPaintEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QStatusBar
from qasync import asyncSlot

from tvdesk.core.events import (
    AlertAccepted,
    AlertRejected,
    EngineStarted,
    EngineStopped,
    KillSwitchChanged,
    TunnelChanged,
)
from tvdesk.gui.handle import EngineHandle

POLL_MS = 1000
BADGE = (
    "QLabel {{ background: {bg}; color: white; font-weight: bold; padding: 1px 8px;"
    " border-radius: 3px; }}"
)


def mode_badge_style(mode: str) -> str:
    return BADGE.format(bg="#da3633" if mode == "live" else "#57606a")


class ElidedLabel(QLabel):
    """A one-line label that shrinks to "…" rather than being cut; the tooltip has it all.

    ``text()`` stays the whole text; ``set_detail`` adds a line under it in the tooltip.
    """

    MIN_WIDTH = 48

    def __init__(self, text: str = "") -> None:
        super().__init__()
        self._detail = ""
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.setText(text)

    def setText(self, text: str) -> None:
        super().setText(text)
        self._tip()

    def set_detail(self, detail: str) -> None:
        self._detail = detail
        self._tip()

    def _tip(self) -> None:
        text = self.text()
        self.setToolTip(
            f"{text}\n{self._detail}" if self._detail and self._detail != text else text
        )

    def shown_text(self) -> str:
        """What the label paints at its current width."""
        return self.fontMetrics().elidedText(
            self.text(), Qt.TextElideMode.ElideRight, self.contentsRect().width()
        )

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        return QSize(min(hint.width(), self.MIN_WIDTH), hint.height())

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.drawText(self.contentsRect(), int(self.alignment()), self.shown_text())


class StatusBar(QStatusBar):
    settings_problem = Signal(str)  # why settings.toml on disk is refused; "" once it loads

    def __init__(self, handle: EngineHandle) -> None:
        super().__init__()
        self.handle = handle
        self.problem = ""
        # Temporary messages in a label of ours, elided like the rest (QStatusBar's own
        # would be cut where the permanent labels begin).
        self.message = ElidedLabel()
        self.message.setObjectName("status_message")
        self._message_timer = QTimer(self, singleShot=True)
        self._message_timer.timeout.connect(self.clearMessage)
        self.addWidget(self.message, 1)
        self.listener = ElidedLabel("Listener: starting…")
        self.tunnel = ElidedLabel("Tunnel: –")
        self.mode = QLabel("PAPER")
        self.kill = QLabel("KILL SWITCH ON")
        self.kill.setStyleSheet(mode_badge_style("live"))
        self.kill.hide()
        for badge in (self.mode, self.kill):
            badge.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Preferred)
        self.exchange = ElidedLabel("Exchange: –")
        self.queue = QLabel("Queue: 0")
        self.last_alert = ElidedLabel("No alerts yet")
        for name, label in (
            ("listener", self.listener),
            ("tunnel", self.tunnel),
            ("mode", self.mode),
            ("killSwitch", self.kill),
            ("exchange", self.exchange),
            ("queue", self.queue),
            ("lastAlert", self.last_alert),
        ):
            label.setObjectName(f"status_{name}")
            self.addPermanentWidget(label)
        self.show_mode(handle.settings().mode)
        self._polling = False
        self._timer = QTimer(self, interval=POLL_MS)
        self._timer.timeout.connect(self.poll)

    def show_mode(self, mode: str) -> None:
        self.mode.setText("LIVE" if mode == "live" else "PAPER")
        self.mode.setStyleSheet(mode_badge_style(mode))
        self.mode.setToolTip(
            "LIVE: alerts place real orders on the exchange"
            if mode == "live"
            else "PAPER: simulated fills, no exchange account needed"
        )

    def show_status(self, status: dict[str, Any]) -> None:
        self.listener.setText(
            f"Listener: {status['listener']['host']}:{status['listener']['port']}"
        )
        self.show_tunnel(status["tunnel"])
        # Mode and kill switch as they are now: the poll may have started before a switch.
        self.show_mode(self.handle.settings().mode)
        self.kill.setVisible(self.handle.settings().risk.kill_switch)
        self.show_exchange(status)
        self.queue.setText(f"Queue: {status['queue_depth']}")

    def show_exchange(self, status: dict[str, Any]) -> None:
        name = status["exchange"]
        connection = status.get("exchange_status") or {"state": "off"}
        circuit = status.get("circuit") or {}
        if status["mode"] != "live" and connection["state"] == "off":
            self.exchange.setText(f"Exchange: {name} · paper, not connected")
            self.exchange.set_detail("Paper mode needs no exchange connection.")
            return
        text = f"Exchange: {name} {connection['state']}"
        if connection.get("markets"):
            text += f" ({connection['markets']} markets)"
        if circuit.get("state") == "open":
            text += " · circuit OPEN"
        self.exchange.setText(text)
        self.exchange.set_detail(circuit.get("reason") or connection.get("error") or "")

    def show_tunnel(self, tunnel: dict[str, Any]) -> None:
        state = tunnel["state"]
        url = tunnel.get("public_url")
        text = f"Tunnel: {state}" + (f" {url}" if url else "")
        self.tunnel.setText(text)
        self.tunnel.set_detail(tunnel.get("error") or "")

    @asyncSlot()
    async def poll(self) -> None:
        if self._polling or not self.handle.running:
            return
        self._polling = True
        try:
            status, problem = await self.handle.call(_status_and_problem)
            self.show_status(status)
            self.show_problem(problem or "")
        finally:
            self._polling = False

    def show_problem(self, problem: str) -> None:
        if problem != self.problem:
            self.problem = problem
            self.settings_problem.emit(problem)

    # -- temporary messages (QStatusBar's API, shown in an elided label) -----------

    def showMessage(self, text: str, timeout: int = 0) -> None:
        self.message.setText(text)
        if timeout > 0:
            self._message_timer.start(timeout)
        else:
            self._message_timer.stop()

    def clearMessage(self) -> None:
        self._message_timer.stop()
        self.message.setText("")

    def currentMessage(self) -> str:
        return self.message.text()

    # -- engine events -----------------------------------------------------------

    def on_event_engine_started(self, event: EngineStarted) -> None:
        self.listener.setText(f"Listener: {event.host}:{event.port}")
        self.show_mode(event.mode)
        self._timer.start()
        self.poll()

    def on_event_engine_stopped(self, event: EngineStopped) -> None:
        self._timer.stop()
        self.listener.setText("Listener: stopped")

    def on_event_tunnel_changed(self, event: TunnelChanged) -> None:
        self.show_tunnel(
            {"state": event.state, "public_url": event.public_url, "error": event.error}
        )

    def on_event_kill_switch_changed(self, event: KillSwitchChanged) -> None:
        self.kill.setVisible(event.on)

    def on_event_alert_accepted(self, event: AlertAccepted) -> None:
        self._last(event.at)

    def on_event_alert_rejected(self, event: AlertRejected) -> None:
        self._last(event.at)

    def _last(self, at: float) -> None:
        self.last_alert.setText("Last alert: " + time.strftime("%H:%M:%S", time.localtime(at)))


async def _status_and_problem(engine: Any) -> tuple[dict[str, Any], str | None]:
    return await engine.status(), engine.settings_sync.problem
