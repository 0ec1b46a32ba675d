"""Perpetual futures defaults: ``[exchange] leverage``, ``margin_mode`` and ``position_mode``,
which a symbol map row that leaves its leverage or margin mode blank falls back to."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
)
from qasync import asyncSlot

from tvdesk.config.load import SettingsError
from tvdesk.gui.aio import busy
from tvdesk.gui.handle import EngineHandle
from tvdesk.gui.panels.symbol_rows import leverage_text, parse_leverage

MARGIN_CHOICES = (("exchange's own", ""), ("cross", "cross"), ("isolated", "isolated"))
POSITION_CHOICES = (("one-way", "oneway"), ("hedge", "hedge"))


class PerpDefaults(QGroupBox):
    saved = Signal()  # the defaults changed: what a blank row cell means changed with them

    def __init__(self, handle: EngineHandle) -> None:
        super().__init__("Perpetual futures defaults — for rows that leave them blank")
        self.handle = handle
        self.leverage = QLineEdit(objectName="defaultLeverage", placeholderText="exchange's own")
        self.leverage.setMaximumWidth(110)
        self.leverage.textEdited.connect(self._edited)
        self.margin = QComboBox(objectName="defaultMarginMode")
        self.position = QComboBox(objectName="positionMode")
        self.position.setToolTip(
            "One-way: one position per market. Hedge: a long and a short at once. "
            "Must match the position mode set on your exchange account."
        )
        for combo, choices in ((self.margin, MARGIN_CHOICES), (self.position, POSITION_CHOICES)):
            for text, value in choices:
                combo.addItem(text, value)
            combo.activated.connect(self._edited)
        self.apply = QPushButton("Apply &defaults", objectName="applyPerpDefaults", enabled=False)
        self.apply.clicked.connect(self.save)
        self.revert = QPushButton("Revert", objectName="revertPerpDefaults", enabled=False)
        self.revert.clicked.connect(self.load)
        self.error = QLabel(objectName="perpDefaultsError", wordWrap=True, visible=False)
        self.error.setStyleSheet("color: #da3633;")
        row = QHBoxLayout()
        for caption, widget in (
            ("Leverage", self.leverage),
            ("Margin mode", self.margin),
            ("Position mode", self.position),
        ):
            row.addWidget(QLabel(caption))
            row.addWidget(widget)
        row.addStretch()
        row.addWidget(self.revert)
        row.addWidget(self.apply)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.error)
        self.load()

    def load(self) -> None:
        exchange = self.handle.settings().exchange
        self.leverage.setText(leverage_text(exchange.leverage))
        self.margin.setCurrentIndex(max(0, self.margin.findData(exchange.margin_mode)))
        self.position.setCurrentIndex(max(0, self.position.findData(exchange.position_mode)))
        self._dirty(False)
        self.show_error("")

    def show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))

    def _edited(self) -> None:
        self._dirty(True)

    def _dirty(self, dirty: bool) -> None:
        self.apply.setEnabled(dirty)
        self.revert.setEnabled(dirty)

    def editing(self) -> bool:
        return self.apply.isEnabled()

    @asyncSlot()
    async def save(self) -> None:
        cap = self.handle.settings().risk.max_leverage
        try:
            text = self.leverage.text().strip()
            leverage = parse_leverage("Default", text, cap, blank="the exchange's own")
        except ValueError as exc:
            self.show_error(str(exc))
            return
        margin, position = self.margin.currentData(), self.position.currentData()

        def apply(engine: Any) -> None:
            exchange = replace(
                engine.settings.exchange,
                leverage=leverage,
                margin_mode=margin,
                position_mode=position,
            )
            engine.update_settings(replace(engine.settings, exchange=exchange))

        async with busy(self.apply):
            try:
                await self.handle.call(apply)
            except SettingsError as exc:
                self.show_error(str(exc))
                return
        self.load()
        self.saved.emit()
