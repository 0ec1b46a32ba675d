"""The paper/live toggle: refused without credentials or a working exchange, LIVE typed."""

from __future__ import annotations

from dataclasses import replace

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel

from tests.gui.helpers import find_box, until
from tests.kit.paper import paper_settings
from tvdesk.config.schema import Settings
from tvdesk.gui.dialogs.live import LiveDialog


def live_dialog() -> LiveDialog | None:
    for widget in QApplication.topLevelWidgets():
        if isinstance(widget, LiveDialog) and widget.isVisible():
            return widget
    return None


def store_credentials(window) -> None:
    exchange = window.handle.settings().exchange.default
    window.handle.keystore.set(f"{exchange}_api_key", "key-0123456789abcdef")
    window.handle.keystore.set(f"{exchange}_api_secret", "secret-0123456789abcdef")


async def test_live_is_refused_without_credentials(window, qtbot):
    qtbot.mouseClick(window.mode_switch.button, Qt.MouseButton.LeftButton)
    box = await until(lambda: find_box("liveRefused"), what="the refusal")
    assert "no API key or API secret for binance" in box.text()
    assert "PAPER" in box.text()
    box.button(box.StandardButton.Ok).click()
    await until(lambda: window.mode_switch.button.isEnabled(), what="the toggle to come back")
    assert window.handle.settings().mode == "paper"
    assert window.status.mode.text() == "PAPER"


@pytest.fixture
def settings() -> Settings:
    # Credentials are there, but the exchange is a closed loopback port: the check fails.
    base = paper_settings()
    return replace(base, exchange=replace(base.exchange, url="http://127.0.0.1:9"))


async def test_live_is_refused_when_the_exchange_check_fails(window, qtbot):
    store_credentials(window)
    qtbot.mouseClick(window.mode_switch.button, Qt.MouseButton.LeftButton)
    box = await until(lambda: find_box("liveRefused"), timeout=30, what="the refusal")
    assert "binance" in box.text()
    box.button(box.StandardButton.Ok).click()
    assert window.handle.settings().mode == "paper"


async def test_live_needs_live_typed_and_paper_is_one_click(window, qtbot, monkeypatch):
    store_credentials(window)

    async def exchange_ok() -> None:  # the one thing that cannot exist here: a real exchange
        return None

    monkeypatch.setattr(window.handle._engine, "check_live", exchange_ok)
    qtbot.mouseClick(window.mode_switch.button, Qt.MouseButton.LeftButton)
    dialog = await until(live_dialog, what="the live dialog")
    facts = [label.text() for label in dialog.findChildren(QLabel)]
    assert "binance" in facts and "set (OS keyring)" in facts  # what will happen, and where
    # No character of the key itself: secrets stay out of the window unless revealed.
    assert not any("0123" in text or "cdef" in text for text in facts)
    assert any("max order value 1000" in text for text in facts)
    assert not dialog.ok.isEnabled()
    qtbot.keyClicks(dialog.word, "live")
    assert not dialog.ok.isEnabled()  # case matters: it must be typed deliberately
    dialog.word.clear()
    qtbot.keyClicks(dialog.word, "LIVE")
    assert dialog.ok.isEnabled()
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    await until(lambda: window.status.mode.text() == "LIVE", what="the LIVE badge")
    assert window.handle.settings().mode == "live"
    assert window.banner.isVisible() and "real orders" in window.banner.text()
    assert 'mode = "live"' in window.handle.paths.settings_file.read_text()

    qtbot.mouseClick(window.mode_switch.button, Qt.MouseButton.LeftButton)
    await until(lambda: window.status.mode.text() == "PAPER", what="paper again")
    assert live_dialog() is None  # back to paper asks nothing
    assert window.handle.settings().mode == "paper" and not window.banner.isVisible()


async def test_cancelling_the_live_dialog_stays_in_paper(window, qtbot, monkeypatch):
    store_credentials(window)

    async def exchange_ok() -> None:
        return None

    monkeypatch.setattr(window.handle._engine, "check_live", exchange_ok)
    qtbot.mouseClick(window.mode_switch.button, Qt.MouseButton.LeftButton)
    dialog = await until(live_dialog, what="the live dialog")
    qtbot.keyClicks(dialog.word, "LIVE")
    dialog.reject()
    await until(lambda: window.mode_switch.button.isEnabled(), what="the toggle to come back")
    assert window.handle.settings().mode == "paper"
