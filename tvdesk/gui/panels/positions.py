"""Positions: what tvdesk holds (side, size, entry, mark, unrealised and realised P&L, and
on a perpetual its contracts, leverage and liquidation price), the balances, and P&L.

A live perpetual shows the exchange's mark, unrealised P&L, liquidation price and leverage;
its tooltip says what the exchange holds, and a line under the table says when that is not
what tvdesk's fills hold."""

from __future__ import annotations

import time
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
from tvdesk.core.symbols import split_symbol
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


def _maybe(value: Decimal | None, show: Any) -> str:
    return "—" if value is None else show(value)


def _estimate(value: Decimal) -> str:
    """An estimated price: cents are precision enough above 100, coins' digits below."""
    return _money(value) if abs(value) >= 100 else _amount(value)


def _amount(value: Decimal) -> str:
    """Up to 8 decimals, no trailing zeros, thousands grouped: 10,025.09426875."""
    text = f"{value.quantize(Decimal('0.00000001')):,f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _size(p: dict[str, Any]) -> str:
    """Coins, and on a perpetual whose contract size is known its contracts: 0.01 BTC (1 ct)."""
    base = split_symbol(p["symbol"])[0]
    if p.get("contracts") is None:
        return f"{_amount(abs(p['qty']))} {base}"
    return f"{_amount(abs(p['qty']))} {base} ({_amount(abs(p['contracts']))} ct)"


def _on_exchange(p: dict[str, Any]) -> str:
    """What the exchange holds for a live perpetual, for the row's tooltip."""
    held = p.get("on_exchange")
    if held is None:
        return p.get("exchange_note") or ""
    base = split_symbol(p["symbol"])[0]
    size = "nothing"
    if held.qty:
        size = f"{held.side} {_amount(abs(held.qty))} {base}"
        if held.contracts is not None:
            size += f" ({_amount(abs(held.contracts))} ct)"
    read = time.strftime("%H:%M:%S", time.localtime(held.read_at))
    lines = [
        f"{p['exchange']} holds {size} (read {read})",
        f"entry {_maybe(held.entry, _amount)} · mark {_maybe(held.mark, _amount)}"
        f" · unrealised {_maybe(held.unrealized_pnl, _money)}",
        f"liquidation {_maybe(held.liquidation, _estimate)}"
        f" · leverage {_maybe(held.leverage, lambda x: f'{_amount(x)}×')}",
    ]
    if p.get("exchange_note"):
        lines.append(p["exchange_note"])
    return "\n".join(lines)


class PositionsPanel(QWidget):
    def __init__(self, handle: EngineHandle) -> None:
        super().__init__()
        self.handle = handle
        self.positions = _table(
            "positionsTable",
            (
                *("Exchange", "Symbol", "Side", "Size", "Entry", "Mark"),
                *("Unrealised P&L", "Realised P&L", "Leverage", "Liquidation (est.)"),
            ),
        )
        self.notes = QLabel(objectName="positionsNotes", wordWrap=True)
        self.notes.hide()
        self.balances = _table("balancesTable", ("Exchange", "Currency", "Free", "In use"))
        self.summary = QLabel(objectName="pnlSummary")
        self.chart = PnlChart()
        self.mode = QLabel()
        held_box = QGroupBox("Open positions")
        held_layout = QVBoxLayout(held_box)
        held_layout.addWidget(self.positions)
        held_layout.addWidget(self.notes)
        balances_box = QGroupBox("Balances")
        QVBoxLayout(balances_box).addWidget(self.balances)
        # Realised after each fill; the dashed end adds the open positions' unrealised P&L.
        chart_box = QGroupBox("P&&L over time (net of fees; dashed: with unrealised at the mark)")
        chart_layout = QVBoxLayout(chart_box)
        chart_layout.addWidget(self.summary)
        chart_layout.addWidget(self.chart)
        below = QHBoxLayout()  # the positions' ten columns get the whole width
        below.addWidget(balances_box, 2)
        below.addWidget(chart_box, 3)
        layout = QVBoxLayout(self)
        layout.addWidget(self.mode)
        layout.addWidget(held_box, 1)
        layout.addLayout(below, 1)
        self._soon = QTimer(self, singleShot=True, interval=REFRESH_AFTER_FILL_MS)
        self._soon.timeout.connect(self.refresh)

    @asyncSlot()
    async def refresh(self) -> None:
        if not self.handle.running:
            return
        mode = self.handle.settings().mode

        async def read(engine: Any) -> tuple[Any, Any, Any]:
            return (
                await engine.positions(mode),
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
                    p["side"],
                    _size(p),
                    _amount(p["avg_price"]),
                    _maybe(p["mark"], _amount),
                    _maybe(p["unrealized_pnl"], _money),
                    _money(p["realized_pnl"]),
                    _maybe(p["leverage"], lambda x: f"{_amount(x)}×"),
                    _maybe(p["liquidation"], _estimate),
                )
                for p in held
            ],
        )
        for r, p in enumerate(held):  # a live perpetual: what the exchange holds
            tip = _on_exchange(p)
            for c in range(self.positions.columnCount()):
                if (item := self.positions.item(r, c)) is not None:
                    item.setToolTip(tip)
        notes = [p["exchange_note"] for p in held if p.get("exchange_note")]
        self.notes.setText("\n".join(f"⚠ {note}" for note in notes))
        self.notes.setVisible(bool(notes))
        _fill(
            self.balances,
            [
                (b["exchange"], b["currency"], _amount(b["free"]), _amount(b["used"]))
                for b in balances
            ],
        )
        realised = sum((p["realized_pnl"] for p in positions), Decimal(0))
        unrealised = sum((p["unrealized_pnl"] or 0 for p in held), Decimal(0))
        self.summary.setText(
            f"{len(held)} open position(s) · realised P&L {_money(realised)} (all time, {mode})"
            f" · unrealised {_money(unrealised)} at the mark · total "
            f"{_money(realised + unrealised)}"
        )
        self.mode.setText(
            "LIVE account on the exchange" if mode == "live" else "Paper account (simulated)"
        )
        self.chart.set_series(history, unrealised if held else None, time.time())

    def on_event_order_filled(self, event: OrderFilled) -> None:
        self._soon.start()  # one refresh after a burst of fills
