"""The always-visible status bar: listener, tunnel, mode, exchange, queue, last alert."""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QLabel, QStatusBar
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


class StatusBar(QStatusBar):
    def __init__(self, handle: EngineHandle) -> None:
        super().__init__()
        self.handle = handle
        self.listener = QLabel("Listener: starting…")
        self.tunnel = QLabel("Tunnel: –")
        self.mode = QLabel("PAPER")
        self.kill = QLabel("KILL SWITCH ON")
        self.kill.setStyleSheet(mode_badge_style("live"))
        self.kill.hide()
        self.exchange = QLabel("Exchange: –")
        self.queue = QLabel("Queue: 0")
        self.last_alert = QLabel("No alerts yet")
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
            self.exchange.setToolTip("Paper mode needs no exchange connection.")
            return
        text = f"Exchange: {name} {connection['state']}"
        if connection.get("markets"):
            text += f" ({connection['markets']} markets)"
        if circuit.get("state") == "open":
            text += " · circuit OPEN"
        self.exchange.setText(text)
        self.exchange.setToolTip(circuit.get("reason") or connection.get("error") or "")

    def show_tunnel(self, tunnel: dict[str, Any]) -> None:
        state = tunnel["state"]
        url = tunnel.get("public_url")
        text = f"Tunnel: {state}" + (f" {url}" if url else "")
        self.tunnel.setText(text)
        self.tunnel.setToolTip(tunnel.get("error") or url or "")

    @asyncSlot()
    async def poll(self) -> None:
        if self._polling or not self.handle.running:
            return
        self._polling = True
        try:
            self.show_status(await self.handle.call(lambda engine: engine.status()))
        finally:
            self._polling = False

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
