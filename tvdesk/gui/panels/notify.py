"""Notifications: Telegram, Discord and ntfy set up in one place, and a test send.

The tokens go to the keystore as in the Secrets panel (masked, Reveal, Save); the chat
id, the Discord switch, the ntfy topic and the events go to ``[notify]`` in settings.toml
through the engine. "Send test notification" saves what was typed, then runs the check
``tvdesk notify-test`` runs and shows, per channel, "sent" or the reason it was not.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)
from qasync import asyncSlot

from tvdesk.config.keystore import DISCORD_WEBHOOK_URL, NTFY_TOKEN, TELEGRAM_BOT_TOKEN
from tvdesk.config.load import SettingsError
from tvdesk.config.schema import NOTIFY_EVENTS, NotifySettings
from tvdesk.core.events import SettingsChanged
from tvdesk.gui.aio import busy
from tvdesk.gui.handle import EngineHandle
from tvdesk.gui.panels.secrets import SecretField
from tvdesk.notify.check import CHANNELS, Outcome, send_test
from tvdesk.notify.senders import PUBLIC, Endpoints

EVENT_LABELS = {
    "fill": "An order filled",
    "rejected": "An alert did not trade (risk limit, unknown symbol, exchange refused…)",
    "tunnel_down": "The tunnel went down, came back or changed its URL",
    "kill_switch": "The kill switch turned on or off",
    "daily_loss": "The daily loss limit stopped trading",
}
NOT_SET_UP = {
    "Telegram": "not set up (enter a bot token and a chat id)",
    "Discord": "not set up (tick Discord and store its webhook URL)",
    "ntfy": "not set up (enter a topic)",
}
COLOURS = {True: "#2ea043", False: "#da3633", None: ""}


class NotifyPanel(QWidget):
    def __init__(self, handle: EngineHandle) -> None:
        super().__init__()
        self.handle = handle
        self.dirty = False  # the form holds [notify] changes not yet applied
        self.endpoints: Endpoints = PUBLIC  # where Telegram and ntfy are; tests: loopback fakes
        keystore = handle.keystore

        self.telegram_token = SecretField(keystore, TELEGRAM_BOT_TOKEN, "telegramToken")
        self.chat_id = QLineEdit(objectName="telegramChat", placeholderText="123456789")
        telegram_box = QGroupBox("Telegram")
        form = QFormLayout(telegram_box)
        form.addRow(self._caption("Bot token", self.telegram_token), self.telegram_token)
        form.addRow(self._caption("Chat id", self.chat_id), self.chat_id)
        form.addRow(
            hint(
                "Talk to @BotFather: /newbot gives the token. Send your bot a message, then "
                "ask @userinfobot for your chat id (a group's id is negative)."
            )
        )

        self.discord = QCheckBox("Post to a Discord channel", objectName="discordOn")
        self.discord_url = SecretField(keystore, DISCORD_WEBHOOK_URL, "discordUrl")
        discord_box = QGroupBox("Discord")
        form = QFormLayout(discord_box)
        form.addRow(self.discord)
        form.addRow(self._caption("Webhook URL", self.discord_url), self.discord_url)
        form.addRow(
            hint(
                "Channel settings → Integrations → Webhooks → Copy Webhook URL. The whole "
                "URL is the secret: whoever has it can post to the channel."
            )
        )

        self.topic = QLineEdit(objectName="ntfyTopic", placeholderText="tvdesk-7Hq2mZx9")
        self.ntfy_token = SecretField(keystore, NTFY_TOKEN, "ntfyToken")
        ntfy_box = QGroupBox("ntfy")
        form = QFormLayout(ntfy_box)
        form.addRow(self._caption("Topic", self.topic), self.topic)
        form.addRow(self._caption("Access token", self.ntfy_token), self.ntfy_token)
        form.addRow(
            hint(
                "On ntfy.sh anyone who knows a topic can read it: pick one nobody can guess. "
                "The access token is only for a reserved or protected topic."
            )
        )

        self.events = {
            name: QCheckBox(EVENT_LABELS.get(name, name), objectName=f"notify_{name}")
            for name in NOTIFY_EVENTS
        }
        events_box = QGroupBox("Tell me when")
        grid = QGridLayout(events_box)
        for i, box in enumerate(self.events.values()):
            grid.addWidget(box, i // 2, i % 2)

        for line in (self.chat_id, self.topic):
            line.textEdited.connect(self._edited)
        for box in (self.discord, *self.events.values()):
            box.clicked.connect(self._edited)
        self.apply = QPushButton("&Apply", objectName="applyNotify", enabled=False)
        self.apply.clicked.connect(self.save)
        self.revert = QPushButton("Revert", objectName="revertNotify", enabled=False)
        self.revert.clicked.connect(self.load)
        self.test = QPushButton("Send test notification", objectName="testNotify")
        self.test.clicked.connect(self.send_test)
        self.error = QLabel(objectName="notifyError", wordWrap=True)
        self.error.setStyleSheet("color: #da3633;")
        self.error.hide()
        self.results = {
            name: QLabel(objectName=f"notifyResult_{name}", wordWrap=True) for name in CHANNELS
        }
        buttons = QHBoxLayout()
        buttons.addWidget(self.test)
        buttons.addStretch()
        buttons.addWidget(self.revert)
        buttons.addWidget(self.apply)
        test_box = QGroupBox("Try it")
        test_layout = QVBoxLayout(test_box)
        test_layout.addLayout(buttons)
        test_layout.addWidget(self.error)
        test_layout.addWidget(
            hint(
                "The test saves what you typed, then sends one line to each channel set up, "
                "as `tvdesk notify-test` does. Each channel step by step: docs/notify.md."
            )
        )
        for label in self.results.values():
            label.hide()
            test_layout.addWidget(label)

        body = QWidget()
        layout = QVBoxLayout(body)
        for box in (telegram_box, discord_box, ntfy_box, events_box, test_box):
            layout.addWidget(box)
        layout.addStretch()
        scroll = QScrollArea(widgetResizable=True, frameShape=QScrollArea.Shape.NoFrame)
        scroll.setWidget(body)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        self.load()

    def _caption(self, text: str, buddy: QWidget) -> QLabel:
        """A row's caption, as wide in every box so the fields line up."""
        label = QLabel(text)
        label.setMinimumWidth(label.fontMetrics().horizontalAdvance("Access token") + 8)
        label.setBuddy(buddy)
        return label

    # -- [notify] in settings.toml ------------------------------------------------------

    def load(self) -> None:
        notify = self.handle.settings().notify
        self.chat_id.setText(notify.telegram_chat_id)
        self.discord.setChecked(notify.discord)
        self.topic.setText(notify.ntfy_topic)
        for name, box in self.events.items():
            box.setChecked(name in notify.events)
        self._dirty(False)
        self.show_error("")

    def values(self) -> NotifySettings:
        return NotifySettings(
            events=[name for name, box in self.events.items() if box.isChecked()],
            telegram_chat_id=self.chat_id.text().strip(),
            discord=self.discord.isChecked(),
            ntfy_topic=self.topic.text().strip(),
        )

    def _edited(self) -> None:
        self._dirty(True)

    def _dirty(self, dirty: bool) -> None:
        self.dirty = dirty
        self.apply.setEnabled(dirty)
        self.revert.setEnabled(dirty)

    def show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))

    @asyncSlot()
    async def save(self) -> None:
        async with busy(self.test):
            await self._save()

    async def _save(self) -> bool:
        """The form's [notify] to the engine (and settings.toml); False with the reason shown."""
        notify = self.values()

        def apply(engine: Any) -> None:
            engine.update_settings(replace(engine.settings, notify=notify))

        self.apply.setEnabled(False)
        try:
            await self.handle.call(apply)
        except SettingsError as exc:
            self.show_error(str(exc))
            self._dirty(True)
            return False
        self.show_error("")
        self._dirty(False)
        return True

    # -- the test send ------------------------------------------------------------------

    @asyncSlot()
    async def send_test(self) -> None:
        fields = (self.telegram_token, self.discord_url, self.ntfy_token)
        async with busy(self.test):
            if not all([field.save_typed() for field in fields]):
                self.show_error("A token was not saved (see above): nothing was sent.")
                return
            if self.dirty and not await self._save():
                return
            self.show_error("")
            for name, label in self.results.items():
                label.setText(f"{name}: sending…")
                label.setStyleSheet("")
                label.show()
            endpoints = self.endpoints
            outcomes = await self.handle.call(
                lambda engine: send_test(engine.settings.notify, engine.keystore, endpoints)
            )
        for outcome in outcomes:
            self.show_outcome(outcome)
        if all(outcome.sent is None for outcome in outcomes):
            self.show_error("No channel is set up yet: nothing was sent.")

    def show_outcome(self, outcome: Outcome) -> None:
        label = self.results[outcome.channel]
        text = str(outcome)
        if outcome.sent is None:
            text = f"{outcome.channel}: {NOT_SET_UP[outcome.channel]}"
        label.setText(text)
        colour = COLOURS[outcome.sent]
        label.setStyleSheet(f"color: {colour};" if colour else "")
        label.show()

    def on_event_settings_changed(self, event: SettingsChanged) -> None:
        """settings.toml edited by hand, or changed elsewhere: show it, unless mid-edit."""
        if not self.dirty:
            self.load()


def hint(text: str) -> QLabel:
    label = QLabel(text, wordWrap=True, objectName="notifyHint")
    label.setTextFormat(Qt.TextFormat.PlainText)
    # Muted but readable, as the Risk panel's hints.
    label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
    return label
