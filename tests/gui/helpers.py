"""Driving the window: wait for what a person would see, send alerts to its listener."""

from __future__ import annotations

import asyncio
import gc
import itertools
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
from PySide6.QtCore import QEvent, QPoint, Qt
from PySide6.QtWidgets import QAbstractButton, QApplication, QLineEdit, QMessageBox, QWidget

from tests.kit.paper import SECRET
from tvdesk.config.keystore import WEBHOOK_SECRET, Keystore, service_name
from tvdesk.config.paths import resolve_paths
from tvdesk.config.schema import Settings
from tvdesk.core.auth import sign_tvdesk
from tvdesk.gui.app import bring_up, build_window
from tvdesk.gui.main_window import MainWindow
from tvdesk.gui.models.log_model import LogRow

_refs = itertools.count(1)


async def until(condition: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
    """Wait (running the loop) until ``condition()`` is true; qtbot.waitUntil for async tests."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not (result := condition()):
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or condition}")
        await asyncio.sleep(0.01)
    return result


async def open_window(data_dir: Path, settings: Settings, *, threaded: bool = False) -> MainWindow:
    keystore = Keystore(service_name(data_dir))
    keystore.set(WEBHOOK_SECRET, SECRET)
    window = build_window(
        settings, keystore, resolve_paths(data_dir), tunnel=False, threaded=threaded
    )
    window.show()
    assert await bring_up(window)
    return window


async def close_window(window: MainWindow) -> None:
    """Quit as the trader would (engine drained and stopped), then free the widgets."""
    await window.quit()
    window.deleteLater()
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()  # here, on the GUI thread, not in whichever thread allocates next


def alert_body(**fields: Any) -> dict[str, Any]:
    body = {"symbol": "BINANCE:BTCUSDT", "side": "buy", "qty": "0.01", "price": "50000"}
    body["client_ref"] = f"gui-{next(_refs)}"
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


async def post_alert(
    session: aiohttp.ClientSession, window: MainWindow, **fields: Any
) -> dict[str, Any]:
    """A signed alert to the window's own listener; returns the JSON reply."""
    data = json.dumps(alert_body(**fields)).encode()
    headers = {"X-TVDesk-Signature": sign_tvdesk(SECRET, data, int(time.time()))}
    url = window.connect_panel.webhook_url()
    async with session.post(url, data=data, headers=headers) as reply:
        answer = await reply.json()
        assert reply.status == 200, answer
        return answer


async def decided_row(window: MainWindow, alert_id: str) -> LogRow:
    """The log row of ``alert_id`` once the worker decided it."""
    model = window.log_panel.model

    def row() -> LogRow | None:
        i = model.index_of(alert_id)
        found = model.row_at(i) if i is not None else None
        return found if found is not None and found.outcome != "pending" else None

    return await until(row, what=f"a decided log row for {alert_id}")


def find_box(name: str) -> QMessageBox | None:
    for widget in QApplication.topLevelWidgets():
        if isinstance(widget, QMessageBox) and widget.objectName() == name and widget.isVisible():
            return widget
    return None


def child(window: QWidget, cls: type, name: str) -> Any:
    found = window.findChild(cls, name)
    assert found is not None, f"no {cls.__name__} named {name}"
    return found


def tick(qtbot: Any, box: QAbstractButton) -> None:
    """Click a check box on its box (its middle may be past the end of its label)."""
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(6, box.height() // 2))


def type_into(qtbot: Any, field: QLineEdit, text: str) -> None:
    """Replace a field's text by typing, as a person would (validators apply)."""
    field.selectAll()
    qtbot.keyClick(field, Qt.Key.Key_Delete)
    qtbot.keyClicks(field, text)
