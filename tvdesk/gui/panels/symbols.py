"""Symbols: the [[symbols]] map as an editable table (leverage and margin mode per row, and
the perpetual futures defaults a blank cell falls back to), a resolve helper, auto-mapped
pairs.

Pairs that alerts were auto-mapped to (the trail's map step ends in "(auto)") wait in
a list for one-click confirmation, which turns each into a row of the map.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)
from qasync import asyncSlot

from tvdesk.config.load import SettingsError
from tvdesk.config.schema import SymbolRule
from tvdesk.core.decimals import plain
from tvdesk.core.events import AlertDecided, SettingsChanged
from tvdesk.core.symbols import Unmapped
from tvdesk.gui.aio import busy
from tvdesk.gui.handle import EngineHandle
from tvdesk.gui.panels.perp_defaults import PerpDefaults
from tvdesk.gui.panels.symbol_rows import (
    COLUMNS,
    ENABLED,
    LEVERAGE,
    MARGIN,
    SYMBOL,
    TICKER,
    DefaultsDelegate,
    default_texts,
    leverage_text,
    parse_row,
)

PENDING_SCAN = 200  # how many recent alerts to look through for auto-mapped pairs
PENDING_DEBOUNCE_MS = 2000


def auto_pair(trail: list[dict[str, Any]]) -> tuple[str, str] | None:
    """(ticker, market) when the trail's map step was auto-resolved."""
    for entry in trail:
        detail = str(entry.get("detail", ""))
        if entry.get("step") == "map" and entry.get("ok") and detail.endswith("(auto)"):
            ticker, _, rest = detail.partition(" → ")
            return ticker.strip(), rest.split(" ×")[0].strip()
    return None


class SymbolsPanel(QWidget):
    def __init__(self, handle: EngineHandle) -> None:
        super().__init__()
        self.handle = handle
        self.table = QTableWidget(0, len(COLUMNS), objectName="symbolTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        for column in (LEVERAGE, MARGIN, ENABLED):  # wide enough for "default: cross"
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        defaults = DefaultsDelegate(lambda: default_texts(self.handle.settings().exchange), self)
        self.table.setItemDelegate(defaults)
        self.table.itemChanged.connect(self._edited)
        self.defaults = PerpDefaults(handle)
        self.defaults.saved.connect(self.table.viewport().update)
        self.add = QPushButton("&Add row", objectName="addSymbol")
        self.add.clicked.connect(lambda: self.add_row(SymbolRule("", self._exchange(), "")))
        self.remove = QPushButton("Remove ro&w", objectName="removeSymbol")
        self.remove.clicked.connect(self._remove_rows)
        self.save_button = QPushButton("Save &map", objectName="saveSymbols", enabled=False)
        self.save_button.clicked.connect(self.save)
        self.revert = QPushButton("Revert", objectName="revertSymbols", enabled=False)
        self.revert.clicked.connect(self.load)
        self.error = QLabel(objectName="symbolsError", wordWrap=True)
        self.error.setStyleSheet("color: #da3633;")
        buttons = QHBoxLayout()
        for button in (self.add, self.remove):
            buttons.addWidget(button)
        buttons.addStretch()
        buttons.addWidget(self.revert)
        buttons.addWidget(self.save_button)
        map_box = QGroupBox("Symbol map — the first matching enabled row wins")
        map_layout = QVBoxLayout(map_box)
        map_layout.addWidget(self.table)
        map_layout.addLayout(buttons)
        map_layout.addWidget(self.error)
        map_layout.addWidget(self.defaults)

        self.ticker = QLineEdit(objectName="resolveTicker", placeholderText="BINANCE:BTCUSDT.P")
        self.ticker.returnPressed.connect(self.resolve)
        self.exchange = QComboBox(objectName="resolveExchange", editable=True)
        self.resolve_button = QPushButton("Resol&ve", objectName="resolveButton")
        self.resolve_button.clicked.connect(self.resolve)
        self.result = QLabel(objectName="resolveResult", wordWrap=True)
        self.result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        resolve_box = QGroupBox("What would a TradingView ticker trade on?")
        row = QHBoxLayout()
        row.addWidget(QLabel("Ticker:"))
        row.addWidget(self.ticker, 2)
        row.addWidget(QLabel("on"))
        row.addWidget(self.exchange, 1)
        row.addWidget(self.resolve_button)
        resolve_layout = QVBoxLayout(resolve_box)
        resolve_layout.addLayout(row)
        resolve_layout.addWidget(self.result)

        self.pending = QListWidget(objectName="pendingPairs")
        self.pending.setMaximumHeight(120)
        self.confirm = QPushButton("Conf&irm selected", objectName="confirmPair")
        self.confirm.clicked.connect(self.confirm_selected)
        pending_box = QGroupBox("Auto-mapped pairs waiting for confirmation")
        pending_layout = QHBoxLayout(pending_box)
        pending_layout.addWidget(self.pending, 1)
        pending_layout.addWidget(self.confirm, 0, Qt.AlignmentFlag.AlignTop)
        self._scan_soon = QTimer(self, singleShot=True, interval=PENDING_DEBOUNCE_MS)
        self._scan_soon.timeout.connect(self.scan_pending)

        layout = QVBoxLayout(self)
        layout.addWidget(map_box, 1)
        layout.addWidget(resolve_box)
        layout.addWidget(pending_box)
        self.load()

    # -- the table --------------------------------------------------------------------

    def _exchange(self) -> str:
        return self.handle.settings().exchange.default

    def load(self) -> None:
        self.table.blockSignals(True)
        self.table.setRowCount(0)
        for rule in self.handle.settings().symbols:
            self.add_row(rule, dirty=False)
        self.table.blockSignals(False)
        exchanges = {self._exchange(), *(r.exchange for r in self.handle.settings().symbols)}
        current = self.exchange.currentText() or self._exchange()
        self.exchange.clear()
        self.exchange.addItems(sorted(exchanges))
        self.exchange.setCurrentText(current)
        self._dirty(False)
        self._check()

    def add_row(self, rule: SymbolRule, dirty: bool = True) -> None:
        row = self.table.rowCount()
        self.table.blockSignals(True)
        self.table.insertRow(row)
        multiplier = plain(Decimal(rule.qty_multiplier))
        leverage = leverage_text(Decimal(rule.leverage))
        texts = (rule.tv, rule.exchange, rule.symbol, multiplier, leverage, rule.margin_mode)
        for column, text in enumerate(texts):
            self.table.setItem(row, column, QTableWidgetItem(text))
        enabled = QTableWidgetItem()
        enabled.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
        enabled.setCheckState(Qt.CheckState.Checked if rule.enabled else Qt.CheckState.Unchecked)
        self.table.setItem(row, ENABLED, enabled)
        self.table.blockSignals(False)
        if dirty:
            self._dirty(True)
            self.table.setCurrentCell(row, 0)

    def _remove_rows(self) -> None:
        for row in sorted({i.row() for i in self.table.selectedIndexes()}, reverse=True):
            self.table.removeRow(row)
        self._dirty(True)

    def _edited(self) -> None:
        self._dirty(True)
        self._check()

    def _dirty(self, dirty: bool) -> None:
        self.save_button.setEnabled(dirty)
        self.revert.setEnabled(dirty)

    def _cells(self, row: int) -> tuple[list[str], bool]:
        texts = [
            (self.table.item(row, c) or QTableWidgetItem()).text().strip() for c in range(ENABLED)
        ]
        return texts, self.table.item(row, ENABLED).checkState() == Qt.CheckState.Checked

    def rules(self) -> list[SymbolRule]:
        """The table as symbol map rows; ValueError names the first row that is wrong."""
        cap = self.handle.settings().risk.max_leverage
        return [parse_row(row, *self._cells(row), cap) for row in range(self.table.rowCount())]

    def _check(self) -> None:
        """Say what is wrong with a row as soon as it is filled in enough to tell (a
        leverage on a spot market, above the risk limit, ...), not only at Save."""
        cap = self.handle.settings().risk.max_leverage
        for row in range(self.table.rowCount()):
            cells, enabled = self._cells(row)
            if not (cells[TICKER] and cells[SYMBOL]):
                continue  # still being typed in: Save names what is missing
            try:
                parse_row(row, cells, enabled, cap)
            except ValueError as exc:
                self.error.setText(str(exc))
                return
        self.error.clear()

    @asyncSlot()
    async def save(self) -> None:
        try:
            rules = self.rules()
        except ValueError as exc:
            self.error.setText(str(exc))
            return
        async with busy(self.save_button):
            try:
                await self.handle.call(
                    lambda e: e.update_settings(replace(e.settings, symbols=rules))
                )
            except SettingsError as exc:
                self.error.setText(str(exc))
                return
        self.load()

    # -- resolve helper -----------------------------------------------------------------

    @asyncSlot()
    async def resolve(self) -> None:
        ticker = self.ticker.text().strip()
        if not ticker:
            self.result.setText("Type a TradingView ticker, like BINANCE:BTCUSDT.")
            return
        exchange = self.exchange.currentText().strip().lower() or None
        try:
            mapping = await self.handle.call(lambda e: e.resolve_symbol(ticker, exchange))
        except Unmapped as exc:
            self.result.setText(f"✗ Not tradable: {exc}")
            return
        source = "from the symbol map" if mapping.source == "table" else "auto-mapped"
        self.result.setText(
            f"✓ {ticker} → {mapping.symbol} on {mapping.exchange}, quantity "
            f"×{plain(mapping.qty_multiplier)} ({source})"
        )

    # -- auto-mapped pairs -------------------------------------------------------------

    @asyncSlot()
    async def scan_pending(self) -> None:
        """List auto-mapped pairs seen in recent alerts that the map does not list yet."""
        if not self.handle.running:
            return
        page = await self.handle.call(lambda e: e.queries.alerts_page(limit=PENDING_SCAN))
        latest: dict[str, str] = {}
        for alert in page:  # newest first: one full lookup per ticker
            if alert["status"] == "accepted" and alert["symbol"] not in latest:
                latest[alert["symbol"]] = alert["alert_id"]
        mapped = {(r.tv.upper(), r.exchange) for r in self.handle.settings().symbols}
        pairs: dict[tuple[str, str], str] = {}
        for alert_id in latest.values():
            record = await self.handle.call(lambda e, i=alert_id: e.queries.alert(i))
            pair = auto_pair(record["trail"]) if record else None
            if pair and (pair[0].upper(), self._exchange()) not in mapped:
                pairs[(pair[0], self._exchange())] = pair[1]
        self.pending.clear()
        for (ticker, exchange), market in sorted(pairs.items()):
            item = QListWidgetItem(f"{ticker} → {market} on {exchange}")
            item.setData(Qt.ItemDataRole.UserRole, (ticker, exchange, market))
            self.pending.addItem(item)
        if not pairs:
            self.pending.addItem("Nothing waiting: every recent alert used the symbol map.")
        self.confirm.setEnabled(bool(pairs))

    @asyncSlot()
    async def confirm_selected(self) -> None:
        chosen = [
            item.data(Qt.ItemDataRole.UserRole)
            for item in self.pending.selectedItems()
            if item.data(Qt.ItemDataRole.UserRole)
        ]
        if not chosen and self.pending.count():
            first = self.pending.item(0).data(Qt.ItemDataRole.UserRole)
            chosen = [first] if first else []
        new = [SymbolRule(tv, exchange, market) for tv, exchange, market in chosen]
        if not new:
            return
        async with busy(self.confirm):
            await self.handle.call(
                lambda e: e.update_settings(
                    replace(e.settings, symbols=[*e.settings.symbols, *new])
                )
            )
        self.load()
        await self.scan_pending()

    def on_event_alert_decided(self, event: AlertDecided) -> None:
        if not self._scan_soon.isActive():
            self._scan_soon.start()

    def on_event_settings_changed(self, event: SettingsChanged) -> None:
        """settings.toml edited by hand, or changed elsewhere: show it, unless mid-edit."""
        if not self.save_button.isEnabled():
            self.load()
        else:
            self._check()  # risk.max_leverage may have changed
        if not self.defaults.editing():
            self.defaults.load()
        self.table.viewport().update()  # what a blank leverage / margin cell falls back to
