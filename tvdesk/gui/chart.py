"""A small line chart of P&L over time, painted with QPainter (no web engine): realised P&L
after each fill (net of fees), and from its last point a dashed step to now that adds the
open positions' unrealised P&L at the mark."""

from __future__ import annotations

import time
from decimal import Decimal

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPaintEvent, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

UP, DOWN = QColor("#2ea043"), QColor("#da3633")


class PnlChart(QWidget):
    NO_FILLS = "No fills yet: P&L appears here after the first fill."

    def __init__(self) -> None:
        super().__init__()
        self.points: list[tuple[float, float]] = []  # (at, realised P&L after that fill)
        self.total: tuple[float, float] | None = None  # (now, realised + unrealised)
        self.message: str | None = self.NO_FILLS  # what the chart says instead of a line
        self.setMinimumHeight(160)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAccessibleName("P&L over time")

    def sizeHint(self) -> QSize:
        return QSize(480, 220)

    def set_series(
        self,
        series: list[tuple[float, Decimal]],
        unrealised: Decimal | None = None,
        now: float | None = None,
    ) -> None:
        """Realised P&L after each fill; ``unrealised``: the open positions' at the mark."""
        self.points = [(at, float(value)) for at, value in series]
        self.total = None
        self.message = None if self.points else self.NO_FILLS
        if self.points:
            realised = self.points[-1][1]
            end = max(now if now is not None else time.time(), self.points[-1][0])
            tip = f"Realised P&L now: {realised:,.2f}"
            if unrealised is not None:
                self.total = (end, realised + float(unrealised))
                tip += f" · with unrealised at the mark: {self.total[1]:,.2f}"
            elif len(self.points) == 1:  # one fill: a level line up to now
                self.points.append((end, realised))
            self.setToolTip(tip)
        else:
            self.setToolTip("")
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        text = palette.color(QPalette.ColorRole.Text)
        painter.fillRect(self.rect(), palette.color(QPalette.ColorRole.Base))
        metrics = painter.fontMetrics()
        left = metrics.horizontalAdvance("-00,000.00") + 12
        plot = QRectF(left, 10, self.width() - left - 12, self.height() - metrics.height() - 22)
        painter.setPen(QPen(palette.color(QPalette.ColorRole.Mid), 1))
        painter.drawRect(plot)
        painter.setPen(text)
        if self.message is not None:
            flags = Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap
            painter.drawText(plot, flags, self.message)
            return
        ends = [*self.points, *([self.total] if self.total else [])]
        t0, t1 = ends[0][0], ends[-1][0]
        values = [v for _, v in ends] + [0.0]
        low, high = min(values), max(values)
        if high - low < 1e-9:
            low, high = low - 1, high + 1
        span = max(t1 - t0, 1e-9)

        def at(t: float, v: float) -> QPointF:
            x = plot.left() + (t - t0) / span * plot.width()
            y = plot.bottom() - (v - low) / (high - low) * plot.height()
            return QPointF(x, y)

        zero = at(t0, 0.0).y()
        painter.setPen(QPen(palette.color(QPalette.ColorRole.Mid), 1, Qt.PenStyle.DashLine))
        painter.drawLine(QPointF(plot.left(), zero), QPointF(plot.right(), zero))
        path = QPainterPath(at(*self.points[0]))
        for t, v in self.points[1:]:
            path.lineTo(at(t, v))
        painter.setPen(QPen(UP if self.points[-1][1] >= 0 else DOWN, 2))
        painter.drawPath(path)
        if self.total is not None:  # now, with the open positions' unrealised P&L
            last, total = self.points[-1], self.total
            colour = UP if total[1] >= 0 else DOWN
            painter.setPen(QPen(colour, 2, Qt.PenStyle.DashLine))
            painter.drawLine(at(*last), at(total[0], last[1]))
            painter.drawLine(at(total[0], last[1]), at(*total))
        painter.setPen(text)
        for value in (high, low):
            y = at(t0, value).y() + metrics.ascent() / 2
            painter.drawText(QPointF(4, y), f"{value:,.2f}")
        for t, align in ((t0, Qt.AlignmentFlag.AlignLeft), (t1, Qt.AlignmentFlag.AlignRight)):
            label = time.strftime("%m-%d %H:%M", time.localtime(t))
            box = QRectF(plot.left(), plot.bottom() + 4, plot.width(), metrics.height())
            painter.drawText(box, align, label)
