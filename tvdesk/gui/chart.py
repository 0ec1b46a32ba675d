"""A small line chart of realised P&L over time, painted with QPainter (no web engine)."""

from __future__ import annotations

import time
from decimal import Decimal

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPaintEvent, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

UP, DOWN = QColor("#2ea043"), QColor("#da3633")


class PnlChart(QWidget):
    def __init__(self) -> None:
        super().__init__()
        self.points: list[tuple[float, float]] = []
        self.setMinimumHeight(160)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAccessibleName("Realised P&L over time")

    def sizeHint(self) -> QSize:
        return QSize(480, 220)

    def set_series(self, series: list[tuple[float, Decimal]]) -> None:
        self.points = [(at, float(value)) for at, value in series]
        if self.points:
            self.setToolTip(f"Realised P&L now: {self.points[-1][1]:,.2f}")
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
        if len(self.points) < 2:
            message = "No fills yet: realised P&L appears here after the first closing trade."
            painter.drawText(plot, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, message)
            return
        t0, t1 = self.points[0][0], self.points[-1][0]
        values = [v for _, v in self.points] + [0.0]
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
        painter.setPen(text)
        for value in (high, low):
            y = at(t0, value).y() + metrics.ascent() / 2
            painter.drawText(QPointF(4, y), f"{value:,.2f}")
        for t, align in ((t0, Qt.AlignmentFlag.AlignLeft), (t1, Qt.AlignmentFlag.AlignRight)):
            label = time.strftime("%m-%d %H:%M", time.localtime(t))
            box = QRectF(plot.left(), plot.bottom() + 4, plot.width(), metrics.height())
            painter.drawText(box, align, label)
