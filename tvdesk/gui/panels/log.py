"""Log: every alert and its orders, live; filters, details with the trail, CSV, replay."""

from __future__ import annotations

import contextlib
import csv
import json
from pathlib import Path
from typing import Any

from PySide6.QtCore import QItemSelection, QModelIndex, Qt
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)
from qasync import asyncSlot

from tvdesk.gui.aio import ask, busy
from tvdesk.gui.bridge import Bridge
from tvdesk.gui.handle import EngineHandle
from tvdesk.gui.models.log_model import COLUMNS, LogFilter, LogModel, LogRow
from tvdesk.gui.panels.connect import trail_text
from tvdesk.store.export import spreadsheet_safe

PAGE = 500
OUTCOMES = (
    "",
    "pending",
    "filled",
    "open",
    "canceled",
    "dry_run",
    "rejected",
    "failed",
    "duplicate",
)
REPLAYABLE = ("rejected", "failed")


def details_text(record: dict[str, Any]) -> str:
    """The details pane: outcome, redacted raw alert, trail with timings, orders."""
    lines = [
        f"{record['alert_id']} · {record['status']} · {record.get('outcome') or '–'}",
        record.get("reason") or record.get("message") or "",
    ]
    if record.get("replay_of"):
        lines.append(f"replay of {record['replay_of']}")
    if record.get("fields"):
        lines += ["", "Field problems:"]
        lines += [f"  {name}: {problem}" for name, problem in record["fields"].items()]
    raw = record.get("raw")
    if raw:
        with contextlib.suppress(ValueError):
            raw = json.dumps(json.loads(raw), indent=2)
        lines += ["", "Alert as received (secrets removed):", raw]
    lines += ["", "Decision trail:", trail_text(record) or "  (none yet)"]
    for order in record.get("orders", []):
        lines.append(
            f"\nOrder {order['client_order_id']} {order['side']} {order['qty']} "
            f"{order['symbol']} on {order['exchange']} ({order['mode']}): {order['status']}, "
            f"filled {order['filled']} @ {order.get('avg_price') or '–'}"
        )
    return "\n".join(lines)


class LogPanel(QWidget):
    def __init__(self, handle: EngineHandle, bridge: Bridge) -> None:
        super().__init__()
        self.handle = handle
        self.model = LogModel()
        bridge.register(self.model)
        bridge.flushed.connect(self.model.commit)
        self.model.newer_missing.connect(self._fetch_missing)
        self.proxy = LogFilter()
        self.proxy.setSourceModel(self.model)
        self._loading_older = False

        self.outcome = QComboBox(objectName="filterOutcome")
        self.outcome.addItems(["all outcomes", *OUTCOMES[1:]])
        self.symbol = QLineEdit(objectName="filterSymbol", placeholderText="symbol")
        self.text = QLineEdit(objectName="filterText", placeholderText="search any column")
        self.text.setClearButtonEnabled(True)
        for signal in (self.outcome.currentIndexChanged, self.symbol.textChanged):
            signal.connect(self._filter)
        self.text.textChanged.connect(self._filter)
        self.export = QPushButton("E&xport CSV…", objectName="exportCsv")
        self.export.clicked.connect(self.export_csv)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Show:"))
        bar.addWidget(self.outcome)
        bar.addWidget(self.symbol)
        bar.addWidget(self.text, 1)
        bar.addWidget(self.export)

        self.view = QTableView(objectName="logTable")
        self.view.setModel(self.proxy)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.verticalHeader().hide()
        rows = self.view.verticalHeader()
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        rows.setDefaultSectionSize(self.fontMetrics().height() + 6)
        header = self.view.horizontalHeader()
        header.setStretchLastSection(True)
        for column, width in enumerate((70, 90, 130, 45, 90, 80, 80, 75)):
            header.resizeSection(column, width)
        self.view.selectionModel().selectionChanged.connect(self._selected)
        scroll = self.view.verticalScrollBar()
        scroll.valueChanged.connect(self._scrolled)
        self.proxy.rowsAboutToBeInserted.connect(self._note_pinned)
        self.proxy.rowsInserted.connect(self._follow)

        self.details = QPlainTextEdit(readOnly=True, objectName="logDetails")
        self.details.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.details.setPlaceholderText("Select an alert to see its trail.")
        self.replay = QPushButton("Replay &alert", objectName="replayAlert", enabled=False)
        self.replay.setToolTip(
            "Run this alert again now (after fixing the mapping or a limit): only the "
            "duplicate and age checks are skipped."
        )
        self.replay.clicked.connect(self.replay_selected)
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.addWidget(self.details)
        side_layout.addWidget(self.replay)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.view)
        split.addWidget(side)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)

        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(split)
        self._selected_row: LogRow | None = None
        self._replaying = False

    # -- loading ----------------------------------------------------------------------

    async def load(self) -> None:
        """The newest page of the journal; live events take over from here."""
        page = await self.handle.call(lambda e: e.queries.alerts_page(limit=PAGE))
        self.model.has_older = len(page) == PAGE
        self.model.add_journal_rows(page, older=True)
        self.view.scrollToBottom()

    @asyncSlot()
    async def load_older(self) -> None:
        oldest = self.model.oldest_alert_id()
        if self._loading_older or not self.model.has_older or oldest is None:
            return
        self._loading_older = True
        try:
            first = await self.handle.call(lambda e: e.queries.alert(oldest))
            seq = first["seq"] if first else None
            page = await self.handle.call(
                lambda e: e.queries.alerts_page(limit=PAGE, before_seq=seq)
            )
            self.model.has_older = len(page) == PAGE
            added = self.model.add_journal_rows(page, older=True)
            if added:
                self.view.verticalScrollBar().setValue(added * self.view.rowHeight(0))
        finally:
            self._loading_older = False

    @asyncSlot(list)
    async def _fetch_missing(self, alert_ids: list[str]) -> None:
        """Alerts tvdesk made itself (replay, flatten) arrive without an AlertAccepted."""
        oldest = self.model.row_at(0).received_at if self.model.rowCount() else 0.0
        records = []
        for alert_id in alert_ids:
            record = await self.handle.call(lambda e, i=alert_id: e.queries.alert(i))
            if record and record["received_at"] >= oldest:
                records.append(record)
        self.model.add_journal_rows(records, older=False)

    # -- view behaviour ------------------------------------------------------------------

    def _note_pinned(self) -> None:
        scroll = self.view.verticalScrollBar()
        self.model.pinned = scroll.value() >= scroll.maximum() - 2

    def _follow(self, parent: QModelIndex, first: int, last: int) -> None:
        if self.model.pinned and first > 0:
            self.view.scrollToBottom()

    def _scrolled(self, value: int) -> None:
        scroll = self.view.verticalScrollBar()
        self.model.pinned = value >= scroll.maximum() - 2
        if value == 0 and scroll.maximum() > 0:
            self.load_older()

    def _filter(self) -> None:
        outcome = OUTCOMES[self.outcome.currentIndex()]
        self.proxy.set_filter(outcome, self.symbol.text(), self.text.text())

    # -- details and replay ---------------------------------------------------------------

    @asyncSlot(QItemSelection, QItemSelection)
    async def _selected(self, selected: QItemSelection, deselected: QItemSelection) -> None:
        rows = self.view.selectionModel().selectedRows()
        row: LogRow | None = rows[0].data(Qt.ItemDataRole.UserRole) if rows else None
        self._selected_row = row
        self.replay.setEnabled(False)
        if row is None:
            self.details.clear()
            return
        if row.alert_id is None:
            self.details.setPlainText(f"{row.status}: {row.reason}\n(from {row.client})")
            return
        record = await self.handle.call(lambda e: e.queries.alert(row.alert_id))
        if record is None or self._selected_row is not row:
            return
        self.details.setPlainText(details_text(record))
        self.replay.setEnabled(
            not self._replaying
            and record["status"] == "accepted"
            and record.get("outcome") in REPLAYABLE
            and bool(record.get("raw"))
        )

    @asyncSlot()
    async def replay_selected(self) -> None:
        """One replay per click: a click while one runs does nothing, a repeat asks."""
        row = self._selected_row
        # Checked and set before the first await: two quick clicks queue two of these.
        if row is None or row.alert_id is None or self._replaying:
            return
        self._replaying = True
        try:
            async with busy(self.replay):
                await self._replay(row)
        finally:
            self._replaying = False

    async def _replay(self, row: LogRow) -> None:
        alert_id = row.alert_id
        earlier = await self.handle.call(lambda e: e.queries.replays_of(alert_id))
        if earlier and not await self._confirm_again(alert_id, earlier[-1]):
            return
        if self.handle.settings().mode == "live" and not await self._confirm_live(row):
            return
        try:
            new_id = await self.handle.call(lambda e: e.replay(alert_id, again=bool(earlier)))
        except Exception as exc:  # EngineError: the message says why
            self.details.appendPlainText(f"\nReplay refused: {exc}")
            return
        self.details.appendPlainText(f"\nReplayed as {new_id}: see the newest row.")

    async def _confirm_again(self, alert_id: str | None, replay_id: str) -> bool:
        """A repeat may place a second order: asked, with No as the default."""
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Replay again?",
            f"alert {alert_id} was already replayed as {replay_id}: replay it again?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            self,
        )
        box.setObjectName("replayAgainBox")
        box.setDefaultButton(QMessageBox.StandardButton.No)
        box.setEscapeButton(QMessageBox.StandardButton.No)
        await ask(box)
        again = box.clickedButton() is box.button(QMessageBox.StandardButton.Yes)
        box.deleteLater()
        if not again:
            self.details.appendPlainText("\nReplay cancelled: nothing was sent.")
        return again

    async def _confirm_live(self, row: LogRow) -> bool:
        """A replay in LIVE mode sends a real order: the trader says yes to it first."""
        exchange = self.handle.settings().exchange.default
        what = " ".join(part for part in (row.side, row.qty, row.symbol) if part) or "the alert"
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Replay in LIVE mode",
            f"tvdesk is LIVE: replaying sends a REAL order to {exchange}: {what}, "
            "sized and priced as of now. Send it?",
            parent=self,
        )
        box.setObjectName("replayLiveBox")
        send = box.addButton("Send a real order", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        await ask(box)
        confirmed = box.clickedButton() is send
        box.deleteLater()
        if not confirmed:
            self.details.appendPlainText("\nReplay cancelled: nothing was sent.")
        return confirmed

    # -- export -----------------------------------------------------------------------------

    @asyncSlot()
    async def export_csv(self) -> None:
        dialog = QFileDialog(self, "Export the log", "tvdesk-log.csv", "CSV files (*.csv)")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setDefaultSuffix("csv")
        if await ask(dialog) and dialog.selectedFiles():
            self.write_csv(Path(dialog.selectedFiles()[0]))
        dialog.deleteLater()

    def write_csv(self, path: Path) -> int:
        """The rows the filter shows, oldest first; returns how many."""
        with open(path, "w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(["alert_id", *COLUMNS, "orders"])
            for i in range(self.proxy.rowCount()):
                row: LogRow = self.proxy.index(i, 0).data(Qt.ItemDataRole.UserRole)
                cells = [row.cell(c) for c in range(len(COLUMNS))]
                line = [row.alert_id or "", *cells, "; ".join(row.orders)]
                # The same escaping as `tvdesk export`: no alert text runs as a formula.
                writer.writerow([spreadsheet_safe(cell) for cell in line])
        return self.proxy.rowCount()
