"""Positions: what tvdesk holds, the balances, and realised P&L over time."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)
from qasync import asyncSlot

from tvdesk.core.events import OrderFilled
from tvdesk.gui.chart import PnlChart
from tvdesk.gui.handle import EngineHandle

REFRESH_AFTER_FILL_MS = 500


def _table(name: str, headers: tuple[str, ...]) -> QTableWidget:
    table = QTableWidget(0, len(headers), objectName=name)
    table.setHorizontalHeaderLabels(headers)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.verticalHeader().hide()
    return table


def _fill(table: QTableWidget, rows: list[tuple[Any, ...]]) -> None:
    table.setRowCount(len(rows))
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            table.setItem(r, c, QTableWidgetItem(str(value)))


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


def _amount(value: Decimal) -> str:
    """Up to 8 decimals, no trailing zeros, thousands grouped: 10,025.09426875."""
    text = f"{value.quantize(Decimal('0.00000001')):,f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


class PositionsPanel(QWidget):
    def __init__(self, handle: EngineHandle) -> None:
        super().__init__()
        self.handle = handle
        self.positions = _table(
            "positionsTable", ("Exchange", "Symbol", "Quantity", "Average price", "Realised P&L")
        )
        self.balances = _table("balancesTable", ("Exchange", "Currency", "Free", "In orders"))
        self.summary = QLabel(objectName="pnlSummary")
        self.chart = PnlChart()
        self.mode = QLabel()
        tables = QHBoxLayout()
        for title, table in (("Open positions", self.positions), ("Balances", self.balances)):
            box = QGroupBox(title)
            QVBoxLayout(box).addWidget(table)
            tables.addWidget(box)
        chart_box = QGroupBox("Realised P&&L over time (net of fees)")
        chart_layout = QVBoxLayout(chart_box)
        chart_layout.addWidget(self.summary)
        chart_layout.addWidget(self.chart)
        layout = QVBoxLayout(self)
        layout.addWidget(self.mode)
        layout.addLayout(tables, 1)
        layout.addWidget(chart_box, 1)
        self._soon = QTimer(self, singleShot=True, interval=REFRESH_AFTER_FILL_MS)
        self._soon.timeout.connect(self.refresh)

    @asyncSlot()
    async def refresh(self) -> None:
        if not self.handle.running:
            return
        mode = self.handle.settings().mode

        async def read(engine: Any) -> tuple[Any, Any, Any]:
            return (
                await engine.queries.positions(mode),
                await engine.balances(mode),
                await engine.queries.pnl_history(mode),
            )

        positions, balances, history = await self.handle.call(read)
        held = [p for p in positions if p["qty"] != 0]
        _fill(
            self.positions,
            [
                (
                    p["exchange"],
                    p["symbol"],
                    _amount(p["qty"]),
                    _amount(p["avg_price"]),
                    _money(p["realized_pnl"]),
                )
                for p in held
            ],
        )
        _fill(
            self.balances,
            [
                (b["exchange"], b["currency"], _amount(b["free"]), _amount(b["used"]))
                for b in balances
            ],
        )
        realised = sum((p["realized_pnl"] for p in positions), Decimal(0))
        self.summary.setText(
            f"{len(held)} open position(s) · realised P&L {_money(realised)} (all time, {mode})"
        )
        self.mode.setText(
            "LIVE account on the exchange" if mode == "live" else "Paper account (simulated)"
        )
        self.chart.set_series(history)

    def on_event_order_filled(self, event: OrderFilled) -> None:
        self._soon.start()  # one refresh after a burst of fills
