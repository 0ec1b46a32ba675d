"""Notifications tab: tokens typed in the window reach the keystore, [notify] reaches
settings.toml, and "Send test notification" delivers to loopback fakes of the APIs
(tests/kit/fake_notify.py) and says, per channel, "sent" or why not, never with a token."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QPicture
from PySide6.QtWidgets import QAbstractButton, QLabel, QLineEdit, QScrollArea, QWidget

from tests.gui.helpers import tick, until
from tests.kit.fake_notify import BOT_TOKEN, CHAT_ID, TOPIC, FakeNotify
from tvdesk.config.keystore import TELEGRAM_BOT_TOKEN, service_name
from tvdesk.gui.main_window import MainWindow
from tvdesk.gui.panels.notify import NotifyPanel
from tvdesk.notify.senders import Endpoints

WRONG_TOKEN = "7412345678:AAWrongTokenNobodyIssued_k3Jd9sQ"


@pytest.fixture
async def fake() -> AsyncIterator[FakeNotify]:
    api = FakeNotify()
    await api.start()
    yield api
    await api.stop()


@pytest.fixture
def panel(window: MainWindow, fake: FakeNotify) -> NotifyPanel:
    window.tabs.setCurrentWidget(window.notify_panel)
    window.notify_panel.endpoints = Endpoints(fake.url, fake.url)  # the APIs, on loopback
    return window.notify_panel


def click(qtbot, button: QAbstractButton) -> None:
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


async def test_a_typed_token_and_chat_id_deliver_a_test_line(
    window, panel, fake, qtbot, memory_keyring
):
    qtbot.keyClicks(panel.telegram_token.input, BOT_TOKEN)
    qtbot.keyClicks(panel.chat_id, CHAT_ID)
    click(qtbot, panel.test)

    telegram = panel.results["Telegram"]
    await until(lambda: outcome_shown(telegram), what="the test's outcome")
    assert telegram.text() == "Telegram: sent"
    assert panel.results["Discord"].text().startswith("Discord: not set up")
    assert panel.results["ntfy"].text().startswith("ntfy: not set up")
    assert len(fake.delivered["telegram"]) == 1
    assert fake.delivered["telegram"][0].startswith("tvdesk: test notification from ")
    assert fake.requests[0].detail["chat_id"] == CHAT_ID

    # Saved, each where it belongs: the token in the keyring, the chat id in settings.toml.
    service = service_name(window.handle.paths.data_dir)
    assert memory_keyring.entries[(service, TELEGRAM_BOT_TOKEN)] == BOT_TOKEN
    settings_text = window.handle.paths.settings_file.read_text(encoding="utf-8")
    assert f'telegram_chat_id = "{CHAT_ID}"' in settings_text
    assert BOT_TOKEN not in settings_text
    assert window.handle.settings().notify.telegram_chat_id == CHAT_ID
    assert panel.telegram_token.input.text() == ""
    assert "stored in the OS keyring" in panel.telegram_token.input.placeholderText()
    assert_never_shown(window, panel, BOT_TOKEN)


async def test_a_wrong_token_shows_the_reason_and_never_the_token(window, panel, fake, qtbot):
    qtbot.keyClicks(panel.telegram_token.input, WRONG_TOKEN)
    qtbot.keyClicks(panel.chat_id, CHAT_ID)
    click(qtbot, panel.test)

    telegram = panel.results["Telegram"]
    await until(lambda: outcome_shown(telegram), what="the test's outcome")
    assert telegram.text().startswith("Telegram: NOT sent — ")
    assert "401: Unauthorized" in telegram.text()
    assert "check telegram_bot_token" in telegram.text()  # what to fix
    assert fake.delivered["telegram"] == []
    assert [seen.status for seen in fake.requests] == [401]
    assert_never_shown(window, panel, WRONG_TOKEN)
    # The check sees painted text at all: the reason it shows is in the same picture.
    assert "Unauthorized".encode("utf-16-be") in painted(scrolled_body(panel))


async def test_revealing_a_stored_token_shows_it_until_hidden(panel, qtbot):
    qtbot.keyClicks(panel.telegram_token.input, BOT_TOKEN)
    click(qtbot, panel.telegram_token.save)
    assert panel.telegram_token.input.text() == ""
    click(qtbot, panel.telegram_token.reveal)
    assert panel.telegram_token.input.displayText() == BOT_TOKEN
    click(qtbot, panel.telegram_token.reveal)
    assert panel.telegram_token.input.text() == ""


async def test_channels_and_events_are_applied_to_settings(window, panel, qtbot):
    assert all(box.isChecked() for box in panel.events.values())  # all five by default
    tick(qtbot, panel.discord)
    tick(qtbot, panel.events["fill"])
    qtbot.keyClicks(panel.topic, TOPIC)
    assert panel.apply.isEnabled()
    click(qtbot, panel.apply)
    await until(lambda: not panel.apply.isEnabled(), what="the settings applied")

    notify = window.handle.settings().notify
    assert notify.discord is True
    assert notify.ntfy_topic == TOPIC
    assert notify.events == ["rejected", "tunnel_down", "kill_switch", "daily_loss"]
    text = window.handle.paths.settings_file.read_text(encoding="utf-8")
    assert "discord = true" in text
    assert f'ntfy_topic = "{TOPIC}"' in text
    assert '"fill"' not in text


async def test_a_chat_id_tvdesk_cannot_use_is_refused_by_name(window, panel, fake, qtbot):
    qtbot.keyClicks(panel.telegram_token.input, BOT_TOKEN)
    qtbot.keyClicks(panel.chat_id, "my chat")
    click(qtbot, panel.test)

    await until(lambda: panel.error.isVisible(), what="the settings error")
    assert "telegram_chat_id" in panel.error.text()
    assert "chat id" in panel.error.text()  # and what it must look like
    assert panel.apply.isEnabled()  # still to be fixed and applied
    assert window.handle.settings().notify.telegram_chat_id == ""
    assert fake.requests == []


def outcome_shown(label: QLabel) -> bool:
    return bool(label.text()) and "sending" not in label.text()


def assert_never_shown(window: MainWindow, panel: NotifyPanel, token: str) -> None:
    """Not in any text the window holds for display, nor in what it paints."""
    for widget in window.findChildren(QWidget):
        shown = [widget.toolTip()]
        if isinstance(widget, QLabel | QAbstractButton):
            shown.append(widget.text())
        if isinstance(widget, QLineEdit):
            shown += [widget.displayText(), widget.placeholderText()]
        assert not any(token in text for text in shown), widget.objectName()
    # A QPicture records every string drawn, in UTF-16: the screenshot, as text.
    for picture in (painted(window), painted(scrolled_body(panel))):
        assert token.encode("utf-16-be") not in picture


def scrolled_body(panel: NotifyPanel) -> QWidget:
    """The whole panel, including what is scrolled out of view."""
    return panel.findChild(QScrollArea).widget()


def painted(widget: QWidget) -> bytes:
    picture = QPicture()
    widget.render(picture)
    return bytes(picture.data())
