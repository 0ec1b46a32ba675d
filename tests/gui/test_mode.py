"""The paper/live toggle: refused without credentials or a working exchange, LIVE typed."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel

from tests.gui.helpers import alert_body, close_window, find_box, until
from tests.kit.fake_binance import API_KEY, API_SECRET, FakeBinance
from tests.kit.live import live_settings
from tests.kit.paper import SECRET, paper_settings
from tvdesk.config.keystore import WEBHOOK_SECRET, Keystore, service_name
from tvdesk.config.load import load_settings
from tvdesk.config.paths import resolve_paths
from tvdesk.config.save import save_settings
from tvdesk.config.schema import Settings
from tvdesk.core.auth import sign_tvdesk
from tvdesk.gui.app import bring_up, build_window
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


# -- LIVE needs consent at every start ----------------------------------------------------


async def start_with_live_in_settings(tmp_path, fake: FakeBinance):
    """A window whose settings.toml says LIVE (keys stored, the fake Binance as exchange),
    shown and starting: returns it and its bring_up, which waits for the trader."""
    data = tmp_path / "data"
    paths = resolve_paths(data)
    paths.ensure()
    settings = live_settings(fake.url)
    save_settings(settings, paths.settings_file)
    keystore = Keystore(service_name(data))
    keystore.set(WEBHOOK_SECRET, SECRET)
    keystore.set("binance_api_key", API_KEY)
    keystore.set("binance_api_secret", API_SECRET)
    window = build_window(load_settings(paths.settings_file), keystore, paths, tunnel=False)
    window.show()
    return window, asyncio.ensure_future(bring_up(window))


async def signed_mode(session, window) -> tuple[str, str]:
    """(the mode /health reports, the mode an alert accepted now is journaled in)."""
    async with session.get(window.connect_panel.webhook_url().replace("/webhook", "/health")) as r:
        health = (await r.json())["mode"]
    data = json.dumps(alert_body(test=True)).encode()
    headers = {"X-TVDesk-Signature": sign_tvdesk(SECRET, data, int(time.time()))}
    async with session.post(window.connect_panel.webhook_url(), data=data, headers=headers) as r:
        alert_id = (await r.json())["alert_id"]
    journaled = await window.handle.call(
        lambda e: e.journal.run(
            lambda c: c.execute(
                "SELECT mode FROM alerts WHERE alert_id = ?", (alert_id,)
            ).fetchone()[0]
        )
    )
    return health, journaled


async def test_a_live_start_asks_and_declining_stays_in_paper(tmp_path, memory_keyring, session):
    async with FakeBinance() as fake:
        window, up = await start_with_live_in_settings(tmp_path, fake)
        try:
            assert window.status.mode.text() == "PAPER"  # nothing live before the answer
            dialog = await until(live_dialog, timeout=30, what="the live question at start")
            facts = [label.text() for label in dialog.findChildren(QLabel)]
            assert "binance" in facts and "set (OS keyring)" in facts
            assert any("max order value" in text for text in facts)
            assert any("USDT" in text for text in facts)  # the balance the check just read
            assert not dialog.ok.isEnabled()
            # While the trader reads, alerts still arrive: they trade paper.
            assert await signed_mode(session, window) == ("paper", "paper")
            dialog.reject()
            assert await up
            assert window.handle.settings().mode == "paper"
            assert window.status.mode.text() == "PAPER"
            assert "Started in PAPER mode: LIVE was not confirmed" in window.banner.text()
            assert await signed_mode(session, window) == ("paper", "paper")
            assert fake.orders == {}  # nothing ever reached the exchange
            # The trader's choice stays recorded: the next start asks again.
            assert load_settings(window.handle.paths.settings_file).mode == "live"
        finally:
            await close_window(window)


async def test_a_live_start_goes_live_once_live_is_typed(tmp_path, memory_keyring, session, qtbot):
    async with FakeBinance() as fake:
        window, up = await start_with_live_in_settings(tmp_path, fake)
        try:
            dialog = await until(live_dialog, timeout=30, what="the live question at start")
            qtbot.keyClicks(dialog.word, "LIVE")
            qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
            assert await up
            assert window.handle.settings().mode == "live"
            assert window.status.mode.text() == "LIVE"
            assert await signed_mode(session, window) == ("live", "live")
            assert load_settings(window.handle.paths.settings_file).mode == "live"
        finally:
            await close_window(window)
