"""Risk: every [risk] limit with its unit and meaning, the kill switch, today's counters."""

from __future__ import annotations

import time
from dataclasses import fields, replace
from decimal import Decimal, InvalidOperation
from typing import Any

from PySide6.QtCore import QRegularExpression, QTimer
from PySide6.QtGui import QPalette, QRegularExpressionValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)
from qasync import asyncSlot

from tvdesk.config.load import SettingsError
from tvdesk.config.schema import RiskSettings
from tvdesk.core.decimals import plain
from tvdesk.core.events import KillSwitchChanged, OrderFilled, SettingsChanged
from tvdesk.gui.aio import ask, busy
from tvdesk.gui.handle import EngineHandle

# field: (label, unit, one-line explanation); 0 always means "no limit"
LIMITS: dict[str, tuple[str, str, str]] = {
    "max_qty": ("Max quantity", "base units", "largest quantity one order may have"),
    "max_notional": ("Max order value", "quote currency", "largest qty × price of one order"),
    "max_position_notional": (
        "Max position value",
        "quote currency",
        "largest value tvdesk may hold in one market",
    ),
    "max_orders_per_minute": ("Orders per minute", "orders", "in any rolling 60 seconds"),
    "max_orders_per_day": ("Orders per day", "orders", "per UTC day"),
    "daily_loss_limit": (
        "Daily loss limit",
        "quote currency",
        "realised loss that stops trading until 00:00 UTC",
    ),
    "min_confidence": ("Min confidence", "0 – 1", "alerts with a lower confidence are refused"),
    "cooldown_s": ("Cooldown", "seconds", "pause per symbol after each order"),
    "max_price_deviation_pct": (
        "Max price deviation",
        "%",
        "refuse an alert whose price is this far from the exchange's",
    ),
    "max_leverage": (
        "Max leverage",
        "×",
        "highest leverage an alert, a symbol row or a default may ask for",
    ),
}
DECIMAL_RE = QRegularExpression(r"\d{0,12}(\.\d{0,8})?")  # no sign: a limit is never negative
KILL_STYLE = (
    "QPushButton {{ background: {bg}; color: white; font-size: 16pt; font-weight: bold;"
    " padding: 14px; border-radius: 6px; }}"
)
TODAY_MS = 5000


class RiskPanel(QWidget):
    def __init__(self, handle: EngineHandle) -> None:
        super().__init__()
        self.handle = handle
        self.inputs: dict[str, QLineEdit | QSpinBox] = {}
        types = {f.name: f.type for f in fields(RiskSettings)}
        grid = QGridLayout()
        for row, (name, (label, unit, help_text)) in enumerate(LIMITS.items()):
            widget: QLineEdit | QSpinBox
            if types[name] in (int, "int"):
                widget = QSpinBox(maximum=1_000_000, objectName=f"risk_{name}")
                widget.valueChanged.connect(self._edited)
            else:
                widget = QLineEdit(objectName=f"risk_{name}")
                widget.setValidator(QRegularExpressionValidator(DECIMAL_RE, widget))
                widget.textEdited.connect(self._edited)
            caption = QLabel(f"{label}:")
            caption.setBuddy(widget)
            self.inputs[name] = widget
            grid.addWidget(caption, row, 0)
            grid.addWidget(widget, row, 1)
            grid.addWidget(QLabel(unit), row, 2)
            hint = QLabel(help_text, objectName="riskHint")
            # Muted but readable: a disabled label's colour is too faint on most palettes.
            hint.setForegroundRole(QPalette.ColorRole.PlaceholderText)
            grid.addWidget(hint, row, 3)
        grid.setColumnStretch(3, 1)
        self.apply = QPushButton("&Apply limits", objectName="applyRisk", enabled=False)
        self.apply.clicked.connect(self.save)
        self.revert = QPushButton("Revert", objectName="revertRisk", enabled=False)
        self.revert.clicked.connect(self.load)
        self.error = QLabel(objectName="riskError", wordWrap=True)
        self.error.setStyleSheet("color: #da3633;")
        buttons = QHBoxLayout()
        buttons.addWidget(QLabel("0 means no limit. Changes apply to the next alert."))
        buttons.addStretch()
        buttons.addWidget(self.revert)
        buttons.addWidget(self.apply)
        limits_box = QGroupBox("Risk limits")
        limits_layout = QVBoxLayout(limits_box)
        limits_layout.addLayout(grid)
        limits_layout.addLayout(buttons)
        limits_layout.addWidget(self.error)

        self.kill = QPushButton(objectName="killSwitch")
        self.kill.clicked.connect(self.toggle_kill)
        self.and_flatten = QCheckBox("and close positions", objectName="killFlatten")
        kill_box = QGroupBox("Kill switch — refuses every new order, queued alerts included")
        kill_layout = QHBoxLayout(kill_box)
        kill_layout.addWidget(self.kill, 1)
        kill_layout.addWidget(self.and_flatten)

        self.today = QLabel(objectName="todayCounters")
        self.loss_bar = QProgressBar(objectName="lossBar", textVisible=True)
        today_box = QGroupBox("Today (UTC)")
        today_layout = QVBoxLayout(today_box)
        today_layout.addWidget(self.today)
        today_layout.addWidget(self.loss_bar)
        self._today_timer = QTimer(self, interval=TODAY_MS)
        self._today_timer.timeout.connect(self.refresh_today)
        self._soon = QTimer(self, singleShot=True, interval=300)  # one refresh after a burst
        self._soon.timeout.connect(self.refresh_today)

        layout = QVBoxLayout(self)
        layout.addWidget(kill_box)
        layout.addWidget(limits_box)
        layout.addWidget(today_box)
        layout.addStretch()
        self.load()

    # -- limits -----------------------------------------------------------------------

    def load(self) -> None:
        risk = self.handle.settings().risk
        for name, widget in self.inputs.items():
            value = getattr(risk, name)
            if isinstance(widget, QSpinBox):
                widget.setValue(int(value))
            else:
                widget.setText(plain(Decimal(value)))
        self.show_kill(risk.kill_switch)
        self._dirty(False)
        self.error.clear()

    def values(self) -> dict[str, Any]:
        """The limits as typed; ValueError names the first one that is not valid."""
        out: dict[str, Any] = {}
        for name, widget in self.inputs.items():
            if isinstance(widget, QSpinBox):
                out[name] = widget.value()
                continue
            try:
                value = Decimal(widget.text() or "0")
            except InvalidOperation:
                raise ValueError(f"{LIMITS[name][0]} is not a number") from None
            if value < 0:
                raise ValueError(f"{LIMITS[name][0]} cannot be negative")
            if name == "min_confidence" and value > 1:
                raise ValueError("Min confidence is between 0 and 1")
            if name == "max_leverage" and 0 < value < 1:
                raise ValueError("Max leverage is 1 or more (like 3 for 3×), or 0 for no limit")
            out[name] = value
        return out

    def _edited(self) -> None:
        self._dirty(True)

    def _dirty(self, dirty: bool) -> None:
        self.apply.setEnabled(dirty)
        self.revert.setEnabled(dirty)

    @asyncSlot()
    async def save(self) -> None:
        try:
            values = self.values()
        except ValueError as exc:
            self.error.setText(str(exc))
            return

        def apply(engine: Any) -> None:
            risk = replace(engine.settings.risk, **values)  # the kill switch stays as it is now
            engine.update_settings(replace(engine.settings, risk=risk))

        async with busy(self.apply):
            try:
                await self.handle.call(apply)
            except SettingsError as exc:
                self.error.setText(str(exc))
                return
        self.error.clear()
        self._dirty(False)
        self.refresh_today()

    # -- kill switch ------------------------------------------------------------------

    def show_kill(self, on: bool) -> None:
        self.kill.setText("KILL SWITCH ON — click to resume trading" if on else "KILL SWITCH")
        self.kill.setStyleSheet(KILL_STYLE.format(bg="#6e7781" if on else "#da3633"))
        self.kill.setToolTip(
            "New orders are refused until you resume." if on else "Stop all new orders now."
        )
        self.and_flatten.setEnabled(not on)

    @asyncSlot()
    async def toggle_kill(self) -> None:
        on = not self.handle.settings().risk.kill_switch
        flatten = on and self.and_flatten.isChecked()
        if not on and self.handle.settings().mode == "live" and not await self._confirm_resume():
            return
        async with busy(self.kill):
            if on:
                await self.handle.call(lambda e: e.set_kill_switch(True, "kill switch (window)"))
                if flatten:
                    await self.handle.call(lambda e: e.flatten())
            else:
                await self.handle.call(lambda e: e.resume())
        self.show_kill(self.handle.settings().risk.kill_switch)

    async def _confirm_resume(self) -> bool:
        """Lifting the kill switch in LIVE lets real orders through again: asked, not assumed."""
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Resume LIVE trading",
            "tvdesk is LIVE: resuming lets every new alert that passes the risk limits place "
            "a REAL order again. Resume?",
            parent=self,
        )
        box.setObjectName("resumeLiveBox")
        resume = box.addButton("Resume live trading", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        await ask(box)
        confirmed = box.clickedButton() is resume
        box.deleteLater()
        return confirmed

    # -- today ------------------------------------------------------------------------

    @asyncSlot()
    async def refresh_today(self) -> None:
        if not self.handle.running:
            return
        mode = self.handle.settings().mode
        today = await self.handle.call(lambda e: e.queries.today(time.time(), mode))
        pnl = Decimal(today["realized_pnl"])
        limit = Decimal(self.handle.settings().risk.daily_loss_limit)
        self.today.setText(
            f"{today['alerts']} alerts ({today['refused']} refused at the door) · "
            f"{today['orders']} orders · {today['fills']} fills · realised P&L ({mode}) {pnl:,.2f}"
        )
        if limit > 0:
            used = max(Decimal(0), -pnl) / limit * 100
            self.loss_bar.setValue(min(100, int(used)))
            self.loss_bar.setFormat(f"loss {max(Decimal(0), -pnl):,.2f} of {limit:,.2f} limit")
        else:
            self.loss_bar.setValue(0)
            self.loss_bar.setFormat("no daily loss limit set")

    def start(self) -> None:
        self._today_timer.start()
        self.refresh_today()

    def on_event_kill_switch_changed(self, event: KillSwitchChanged) -> None:
        self.show_kill(event.on)

    def on_event_order_filled(self, event: OrderFilled) -> None:
        self._soon.start()

    def on_event_settings_changed(self, event: SettingsChanged) -> None:
        """settings.toml edited by hand, or changed elsewhere: show it, unless mid-edit."""
        if not self.apply.isEnabled():
            self.load()
