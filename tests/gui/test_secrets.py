"""Secrets panel: typed secrets land in the keyring, never in settings.toml or on screen."""

from __future__ import annotations

import keyring
import pytest
from keyring.backends import fail
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from tests.gui.helpers import close_window, find_box, post_alert, until
from tests.kit.paper import SECRET, paper_settings
from tvdesk.config.keystore import WEBHOOK_SECRET, Keystore, service_name
from tvdesk.config.paths import resolve_paths
from tvdesk.gui.app import bring_up, build_window
from tvdesk.gui.resources import MASK

NGROK = "2bFakeNgrokToken_0123456789abcdef"
API_KEY, API_SECRET, API_PASSWORD = "okx-key-0123456789", "okx-secret-abcdef0123", "pass-phrase-9"


def stored(memory_keyring, window) -> dict[str, str]:
    service = service_name(window.handle.paths.data_dir)
    return {name: value for (svc, name), value in memory_keyring.entries.items() if svc == service}


async def test_typed_secrets_go_to_the_keyring_only(window, memory_keyring, qtbot):
    panel = window.secrets_panel
    window.tabs.setCurrentWidget(panel)
    assert not panel.banner.isVisible()
    qtbot.keyClicks(panel.ngrok.input, NGROK)
    qtbot.mouseClick(panel.ngrok.save, Qt.MouseButton.LeftButton)
    assert panel.ngrok.input.text() == ""  # the field is cleared once stored
    assert "stored in the OS keyring" in panel.ngrok.input.placeholderText()

    panel.exchange.setCurrentText("okx")
    for suffix, value in (("api_key", API_KEY), ("api_secret", API_SECRET)):
        field = panel.credentials[suffix]
        qtbot.keyClicks(field.input, value)
        qtbot.mouseClick(field.save, Qt.MouseButton.LeftButton)
    field = panel.credentials["api_password"]
    qtbot.keyClicks(field.input, API_PASSWORD)
    qtbot.keyClick(field.input, Qt.Key.Key_Tab)
    qtbot.mouseClick(field.save, Qt.MouseButton.LeftButton)

    entries = stored(memory_keyring, window)
    assert entries["ngrok_authtoken"] == NGROK
    assert entries["okx_api_key"] == API_KEY
    assert entries["okx_api_secret"] == API_SECRET
    assert entries["okx_api_password"] == API_PASSWORD

    await window.handle.call(lambda e: e.set_mode("paper"))  # any settings write
    text = window.handle.paths.settings_file.read_text(encoding="utf-8")
    for secret in (NGROK, API_KEY, API_SECRET, API_PASSWORD, SECRET):
        assert secret not in text


async def test_stored_secrets_show_only_on_reveal(window, qtbot):
    panel = window.secrets_panel
    qtbot.keyClicks(panel.ngrok.input, NGROK)
    qtbot.mouseClick(panel.ngrok.save, Qt.MouseButton.LeftButton)
    assert panel.ngrok.input.text() == ""
    assert panel.webhook.text() == MASK
    qtbot.mouseClick(panel.reveal, Qt.MouseButton.LeftButton)
    assert panel.webhook.text() == SECRET
    qtbot.mouseClick(panel.reveal, Qt.MouseButton.LeftButton)
    assert panel.webhook.text() == MASK
    qtbot.mouseClick(panel.ngrok.reveal, Qt.MouseButton.LeftButton)
    assert panel.ngrok.input.text() == NGROK
    qtbot.mouseClick(panel.ngrok.reveal, Qt.MouseButton.LeftButton)
    assert panel.ngrok.input.text() == ""
    qtbot.mouseClick(panel.copy, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == SECRET


async def test_rotating_keeps_the_old_secret_for_the_grace_window(window, session, qtbot):
    panel = window.secrets_panel
    qtbot.mouseClick(panel.rotate, Qt.MouseButton.LeftButton)
    box = await until(lambda: find_box("rotateBox"), what="the rotate question")
    assert "10 min" in box.text()
    qtbot.mouseClick(box.findChild(type(panel.rotate), "confirmRotate"), Qt.MouseButton.LeftButton)
    await until(lambda: window.handle.keystore.get(WEBHOOK_SECRET) != SECRET, what="a new secret")
    await until(lambda: "still accepted for 9:" in panel.grace.text(), what="the countdown")
    # The old secret (the helper signs with it) still works during the grace window.
    await post_alert(session, window)
    assert SECRET not in window.connect_panel.message.toPlainText()


@pytest.fixture
def no_keyring(monkeypatch):
    monkeypatch.setenv("TVDESK_WEBHOOK_SECRET", SECRET)
    keyring.set_keyring(fail.Keyring())


async def test_a_missing_keyring_is_said_plainly(tmp_path, no_keyring, qtbot):
    data = tmp_path / "data"
    window = build_window(
        paper_settings(), Keystore(service_name(data)), resolve_paths(data), tunnel=False
    )
    window.show()
    assert await bring_up(window)
    try:
        panel = window.secrets_panel
        window.tabs.setCurrentWidget(panel)
        assert panel.banner.isVisible() and "No usable OS keyring" in panel.banner.text()
        assert not panel.rotate.isEnabled()  # the secret comes from TVDESK_WEBHOOK_SECRET
        qtbot.keyClicks(panel.ngrok.input, NGROK)
        qtbot.mouseClick(panel.ngrok.save, Qt.MouseButton.LeftButton)
        assert "could not be stored" in panel.ngrok.note.text()
        assert NGROK not in panel.ngrok.note.text()
    finally:
        await close_window(window)


async def test_the_exchange_box_offers_only_tested_ccxt_ids(window, qtbot):
    """A typed name ("Binance Futures") would key secrets no broker ever reads."""
    from tvdesk.brokers.venues import OFFERED

    box = window.secrets_panel.exchange
    assert not box.isEditable()
    assert [box.itemText(i) for i in range(box.count())] == list(OFFERED)
    box.setFocus()
    qtbot.keyClicks(box, "Binance Futures")
    assert box.currentText() in OFFERED
