"""Icons and alert-message templates from ``tvdesk/resources/`` (package data, found with
importlib.resources in a checkout, a wheel or a bundle), and state icons drawn with QPainter."""

from __future__ import annotations

import atexit
import contextlib
from functools import cache
from importlib.resources import as_file, files
from pathlib import Path
from string import Template

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap

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


_extracted = contextlib.ExitStack()  # resources a zipped install had to unpack for Qt
atexit.register(_extracted.close)


def resource(*parts: str) -> Path:
    """A file of ``tvdesk/resources/`` as a path on disk (Qt reads icons by file name)."""
    found = files("tvdesk").joinpath("resources", *parts)
    if isinstance(found, Path):
        return found
    return _extracted.enter_context(as_file(found))


@cache
def _template(kind: str) -> Template:
    text = files("tvdesk").joinpath("resources", "templates", TEMPLATES[kind])
    return Template(text.read_text(encoding="utf-8"))


def alert_message(kind: str, secret: str) -> str:
    """The message to paste into TradingView's alert box, for ``kind`` of alert."""
    return _template(kind).substitute(secret=secret).strip()


@cache
def app_icon() -> QIcon:
    return QIcon(str(resource("tvdesk.svg")))


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
