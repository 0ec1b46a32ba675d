"""The alert/order log as a Qt table model: fed by engine events, bounded in memory.

Events only collect changes; ``commit()`` (called once per bridge flush) applies them
with one ``beginInsertRows`` for all new rows and one ``dataChanged`` for the updated
range, so a 2,000-alert burst costs the view a handful of refreshes, not thousands.
Older rows are dropped from memory and paged back in from the journal on demand.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor

from tvdesk.core.decimals import plain
from tvdesk.core.events import (
    AlertAccepted,
    AlertDecided,
    AlertRejected,
    OrderCanceled,
    OrderFilled,
    OrderSubmitted,
)

MAX_ROWS = 5_000  # kept in memory while the view is pinned to the newest row
COLUMNS = ("Time", "Source", "Symbol", "Side", "Qty", "Status", "Outcome", "Latency", "Reason")
COL_OUTCOME = COLUMNS.index("Outcome")
# Translucent tints read on light and dark palettes alike.
_TINTS = {
    "filled": QColor(46, 160, 67, 70),
    "open": QColor(210, 153, 34, 60),
    "canceled": QColor(128, 128, 128, 40),
    "dry_run": QColor(56, 139, 253, 60),
    "rejected": QColor(218, 54, 51, 70),
    "failed": QColor(218, 54, 51, 110),
    "duplicate": QColor(128, 128, 128, 60),
}
AnyIndex = QModelIndex | QPersistentModelIndex
ROOT = QModelIndex()


@dataclass
class LogRow:
    key: str  # alert_id, or a made-up key for a refusal the journal only summarised
    received_at: float
    client: str
    symbol: str = ""
    side: str = ""
    qty: str = ""
    status: str = "accepted"  # accepted | rejected | duplicate
    outcome: str = "pending"
    reason: str = ""
    latency_ms: float | None = None
    test: bool = False
    alert_id: str | None = None
    seq: int | None = None
    orders: list[str] = field(default_factory=list)
    pos: int = 0  # position key: rows are contiguous in pos, so index = pos - first pos

    @classmethod
    def from_journal(cls, record: dict[str, Any]) -> LogRow:
        latency = record.get("latency_ms") or {}
        outcome = record.get("outcome") or record["status"]
        return cls(
            key=record["alert_id"],
            alert_id=record["alert_id"],
            seq=record.get("seq"),
            received_at=record["received_at"],
            client=record.get("client") or "",
            symbol=record.get("symbol") or "",
            side=record.get("side") or "",
            qty=record.get("qty") or "",
            status=record["status"],
            outcome=outcome,
            reason=record.get("reason") or record.get("message") or "",
            latency_ms=round(sum(latency.values()), 1) if outcome != "pending" else None,
            test=bool(record.get("test")),
            orders=[f"{o['status']} {o['filled']}/{o['qty']}" for o in record.get("orders", [])],
        )

    def cell(self, column: int) -> str:
        if column == 0:
            return time.strftime("%H:%M:%S", time.localtime(self.received_at))
        if column == 4:
            return _amount(self.qty) + (" (test)" if self.test else "")
        if column == 7:
            return "" if self.latency_ms is None else f"{self.latency_ms:.1f} ms"
        if column == 8:
            return self.reason
        return (self.client, self.symbol, self.side, "", self.status, self.outcome)[column - 1]


class LogModel(QAbstractTableModel):
    newer_missing = Signal(list)  # alert ids decided that the model never saw (replays, flatten)

    def __init__(self, max_rows: int = MAX_ROWS) -> None:
        super().__init__()
        self.max_rows = max_rows
        self._rows: list[LogRow] = []
        self._by_key: dict[str, LogRow] = {}
        self._new: list[LogRow] = []
        self._changed: set[str] = set()
        self._missing: list[str] = []
        self._refusals = 0
        self.pinned = True  # the view follows the newest row; set by the view
        self.has_older = True

    # -- Qt model API ---------------------------------------------------------

    def rowCount(self, parent: AnyIndex = ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: AnyIndex = ROOT) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        row = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return row.cell(index.column())
        if role == Qt.ItemDataRole.BackgroundRole:
            return _TINTS.get(row.outcome if row.status == "accepted" else row.status)
        if role == Qt.ItemDataRole.ToolTipRole:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row.received_at))
            return f"{stamp} · {row.key}\n{row.reason}"
        if role == Qt.ItemDataRole.UserRole:
            return row
        return None

    # -- reading ----------------------------------------------------------------

    def row_at(self, i: int) -> LogRow:
        return self._rows[i]

    def index_of(self, key: str) -> int | None:
        row = self._by_key.get(key)
        return None if row is None or not self._rows else row.pos - self._rows[0].pos

    def rows(self) -> list[LogRow]:
        return list(self._rows)

    # -- engine events (collected; applied by commit) ----------------------------

    def on_event_alert_accepted(self, event: AlertAccepted) -> None:
        self._stage(
            LogRow(
                key=event.alert_id,
                alert_id=event.alert_id,
                received_at=event.at,
                client=event.client,
                symbol=event.symbol,
                side=event.side or "",
                qty=event.qty or "",
                test=event.test,
            )
        )

    def on_event_alert_rejected(self, event: AlertRejected) -> None:
        self._refusals += 1
        status = "duplicate" if event.error == "duplicate" else "rejected"
        self._stage(
            LogRow(
                key=event.alert_id or f"refused-{event.at}-{self._refusals}",
                alert_id=event.alert_id,
                received_at=event.at,
                client=event.client,
                status=status,
                outcome=status,
                reason=f"{event.error}: {event.message}",
            )
        )

    def on_event_alert_decided(self, event: AlertDecided) -> None:
        row = self._by_key.get(event.alert_id)
        if row is None:
            self._missing.append(event.alert_id)
            return
        row.outcome, row.reason = event.outcome, event.reason
        if row.latency_ms is None:
            row.latency_ms = round(max(0.0, event.at - row.received_at) * 1000, 1)
        self._changed.add(row.key)

    def on_event_order_submitted(self, event: OrderSubmitted) -> None:
        self._order(event.alert_id, f"submitted {event.qty}")

    def on_event_order_filled(self, event: OrderFilled) -> None:
        self._order(event.alert_id, f"filled {event.qty} @ {event.price}")

    def on_event_order_canceled(self, event: OrderCanceled) -> None:
        self._order(event.alert_id, f"canceled {event.qty}")

    def _order(self, alert_id: str, text: str) -> None:
        row = self._by_key.get(alert_id)
        if row is not None:
            row.orders.append(text)
            self._changed.add(row.key)

    def _stage(self, row: LogRow) -> None:
        if row.key not in self._by_key:
            self._by_key[row.key] = row
            self._new.append(row)

    # -- applying ---------------------------------------------------------------

    def commit(self) -> None:
        """Apply what the events collected: one insert, one update, maybe one trim."""
        if self._new:
            first = len(self._rows)
            next_pos = self._rows[-1].pos + 1 if self._rows else 0
            for i, row in enumerate(self._new):
                row.pos = next_pos + i
            self.beginInsertRows(QModelIndex(), first, first + len(self._new) - 1)
            self._rows.extend(self._new)
            self._new = []
            self.endInsertRows()
        if self._changed:
            positions = [i for k in self._changed if (i := self.index_of(k)) is not None]
            self._changed.clear()
            if positions:
                top = self.index(min(positions), 0)
                self.dataChanged.emit(top, self.index(max(positions), len(COLUMNS) - 1))
        self._trim()
        if self._missing:
            missing, self._missing = self._missing, []
            self.newer_missing.emit(missing)

    def _trim(self) -> None:
        limit = self.max_rows if self.pinned else 2 * self.max_rows
        excess = len(self._rows) - limit
        if excess <= 0:
            return
        self.beginRemoveRows(QModelIndex(), 0, excess - 1)
        for row in self._rows[:excess]:
            self._by_key.pop(row.key, None)
        del self._rows[:excess]
        self.endRemoveRows()
        self.has_older = True

    def add_journal_rows(self, records: list[dict[str, Any]], *, older: bool) -> int:
        """Rows read from the journal: ``older`` ones go on top, the rest at the bottom."""
        rows = [LogRow.from_journal(r) for r in records if r["alert_id"] not in self._by_key]
        rows.sort(key=lambda r: (r.seq or 0, r.received_at))
        if not rows:
            return 0
        for row in rows:
            self._by_key[row.key] = row
        if older:
            start = self._rows[0].pos - len(rows) if self._rows else 0
            for i, row in enumerate(rows):
                row.pos = start + i
            self.beginInsertRows(QModelIndex(), 0, len(rows) - 1)
            self._rows[:0] = rows
            self.endInsertRows()
        else:
            self._new.extend(rows)
            self.commit()
        return len(rows)

    def oldest_alert_id(self) -> str | None:
        return next((r.alert_id for r in self._rows if r.alert_id), None)


class LogFilter(QSortFilterProxyModel):
    """Filter by outcome/status, symbol and free text (any column, the reason included)."""

    def __init__(self) -> None:
        super().__init__()
        self.outcome = ""
        self.symbol = ""
        self.text = ""

    def set_filter(self, outcome: str, symbol: str, text: str) -> None:
        if hasattr(self, "endFilterChange"):  # Qt 6.10+; invalidateRowsFilter is deprecated
            self.beginFilterChange()
        self.outcome, self.symbol, self.text = outcome, symbol.strip().upper(), text.lower()
        if hasattr(self, "endFilterChange"):
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self.invalidateRowsFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: AnyIndex) -> bool:
        if not (self.outcome or self.symbol or self.text):
            return True
        model = self.sourceModel()
        assert isinstance(model, LogModel)
        row = model.row_at(source_row)
        if self.outcome and self.outcome not in (row.outcome, row.status):
            return False
        if self.symbol and self.symbol not in row.symbol.upper():
            return False
        if self.text:
            haystack = " ".join(row.cell(c) for c in range(len(COLUMNS))) + " " + row.key
            return self.text in haystack.lower()
        return True


def _amount(text: str) -> str:
    """4E-9 as 0.000000004, 1.50000 as 1.5; anything else as it came."""
    try:
        value = Decimal(text)
    except (InvalidOperation, ValueError):
        return text
    return plain(value) if value.is_finite() else text
