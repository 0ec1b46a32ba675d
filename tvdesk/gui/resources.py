"""Icons and alert-message templates from ``resources/``, and state icons drawn with QPainter."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from string import Template

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap

RESOURCES = Path(__file__).resolve().parents[2] / "resources"
MASK = "•" * 12

# (template file, label) per kind of TradingView alert
TEMPLATES = {
    "strategy": "strategy.json",
    "position_sync": "strategy_position_sync.json",
    "indicator": "indicator.json",
}
STATE_COLOURS = {
    "ok": QColor("#2ea043"),
    "busy": QColor("#d29922"),
    "error": QColor("#da3633"),
    "off": QColor("#8b949e"),
}


@cache
def _template(kind: str) -> Template:
    return Template((RESOURCES / "templates" / TEMPLATES[kind]).read_text(encoding="utf-8"))


def alert_message(kind: str, secret: str) -> str:
    """The message to paste into TradingView's alert box, for ``kind`` of alert."""
    return _template(kind).substitute(secret=secret).strip()


@cache
def app_icon() -> QIcon:
    return QIcon(str(RESOURCES / "tvdesk.svg"))


def state_icon(state: str, live: bool = False, size: int = 64) -> QIcon:
    """The app icon with a state dot (ok/busy/error/off) and a red frame when LIVE."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    app_icon().paint(painter, 0, 0, size, size)
    if live:
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(STATE_COLOURS["error"])
        painter.drawRoundedRect(QRectF(0, size * 0.72, size, size * 0.28), 4, 4)
    dot = size * 0.38
    painter.setPen(QColor("white"))
    painter.setBrush(STATE_COLOURS.get(state, STATE_COLOURS["off"]))
    painter.drawEllipse(QRectF(size - dot - 1, 1, dot, dot))
    painter.end()
    return QIcon(pixmap)
