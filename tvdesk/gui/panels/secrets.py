"""Secrets: the webhook secret, the ngrok authtoken and exchange API keys, in the OS keyring.

A stored secret is never shown unless the trader presses Reveal; typing a new value
and pressing Save replaces it. Nothing here ever reaches settings.toml.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from qasync import asyncSlot

from tvdesk.brokers.venues import OFFERED
from tvdesk.config.keystore import WEBHOOK_SECRET, Keystore, KeystoreError, env_var_name
from tvdesk.core.events import SecretRotated
from tvdesk.gui.aio import ask, busy
from tvdesk.gui.handle import EngineHandle
from tvdesk.gui.resources import MASK

NGROK_TOKEN = "ngrok_authtoken"
EXCHANGES = OFFERED  # verified or checked by the tests (README, "Exchanges")
CREDENTIALS = (("api_key", "API key"), ("api_secret", "API secret"), ("api_password", "Password"))


class SecretField(QWidget):
    """One keyring entry: a masked input with Reveal, Save and Remove."""

    saved = Signal(str)  # the entry's name, after a save or a removal

    def __init__(self, keystore: Keystore, name: str, object_name: str) -> None:
        super().__init__()
        self.keystore = keystore
        self.name = name
        self.input = QLineEdit(objectName=object_name)
        self.input.setEchoMode(QLineEdit.EchoMode.Password)
        self.reveal = QPushButton("Reveal", objectName=f"{object_name}Reveal", checkable=True)
        self.reveal.toggled.connect(self._reveal)
        self.save = QPushButton("Save", objectName=f"{object_name}Save")
        self.save.clicked.connect(self._save)
        self.remove = QPushButton("Remove", objectName=f"{object_name}Remove")
        self.remove.clicked.connect(self._remove)
        self.note = QLabel(objectName=f"{object_name}Note")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        for widget in (self.input, self.reveal, self.save, self.remove):
            row.addWidget(widget, 1 if widget is self.input else 0)
        layout.addLayout(row)
        layout.addWidget(self.note)
        self.set_name(name)

    def set_name(self, name: str) -> None:
        self.name = name
        self.reveal.setChecked(False)
        self.input.clear()
        self.refresh()

    def refresh(self, error: str = "") -> None:
        try:
            source = self.keystore.source(self.name)
        except KeystoreError as exc:
            source, error = None, str(exc)
        from_env = source == "env"
        self.input.setReadOnly(from_env)
        self.save.setEnabled(not from_env)
        self.remove.setEnabled(source == "keyring")
        self.reveal.setEnabled(source is not None)
        placeholder = {
            "env": f"set by {env_var_name(self.name)} (change it there)",
            "keyring": "stored in the OS keyring — type a new value to replace it",
            None: "not set",
        }[source]
        self.input.setPlaceholderText(placeholder)
        self.show_note(error, error=True)

    def show_note(self, text: str, *, error: bool = False) -> None:
        self.note.setText(text)
        self.note.setStyleSheet("color: #da3633;" if error else "")
        self.note.setVisible(bool(text))

    def _reveal(self, on: bool) -> None:
        if on:
            self.input.setText(self.keystore.get(self.name) or "")
            self.input.setEchoMode(QLineEdit.EchoMode.Normal)
        else:
            self.input.clear()
            self.input.setEchoMode(QLineEdit.EchoMode.Password)

    def save_typed(self) -> bool:
        """Save a value typed but not yet saved (a revealed one is stored already).

        False when the keystore refused it; the field's note then says why.
        """
        typed = self.input.text().strip() and not self.reveal.isChecked()
        return not (typed and self.save.isEnabled()) or self._save()

    def _save(self) -> bool:
        value = self.input.text().strip()
        try:
            self.keystore.set(self.name, value)
        except KeystoreError as exc:
            self.refresh(str(exc))
            return False
        self.reveal.setChecked(False)
        self.input.clear()
        self.refresh()
        self.show_note("Saved in the OS keyring.")
        self.saved.emit(self.name)
        return True

    def _remove(self) -> None:
        try:
            self.keystore.delete(self.name)
        except KeystoreError as exc:
            self.refresh(str(exc))
            return
        self.reveal.setChecked(False)
        self.refresh()
        self.saved.emit(self.name)


class SecretsPanel(QWidget):
    changed = Signal(str)  # a secret was saved, removed or rotated

    def __init__(self, handle: EngineHandle) -> None:
        super().__init__()
        self.handle = handle
        keystore = handle.keystore
        self.grace_until = 0.0

        usable, why = keystore.available()
        self.banner = QLabel(why, objectName="keyringBanner", wordWrap=True)
        self.banner.setStyleSheet(
            "QLabel { background: #da3633; color: white; padding: 8px; border-radius: 4px; }"
        )
        self.banner.setVisible(not usable)

        self.webhook = QLineEdit(MASK, readOnly=True, objectName="webhookSecret")
        self.reveal = QPushButton("Reveal", objectName="revealWebhook", checkable=True)
        self.reveal.toggled.connect(self._show_webhook)
        self.copy = QPushButton("Copy", objectName="copyWebhook")
        self.copy.clicked.connect(self._copy_webhook)
        self.rotate = QPushButton("Rotate…", objectName="rotateWebhook")
        self.rotate.clicked.connect(self.rotate_secret)
        self.grace = QLabel(objectName="graceCountdown")
        self._countdown = QTimer(self, interval=1000)
        self._countdown.timeout.connect(self._tick)
        webhook_box = QGroupBox("Webhook secret — proves an alert comes from your TradingView")
        row = QHBoxLayout()
        for widget in (self.webhook, self.reveal, self.copy, self.rotate):
            row.addWidget(widget, 1 if widget is self.webhook else 0)
        webhook_layout = QVBoxLayout(webhook_box)
        webhook_layout.addLayout(row)
        webhook_layout.addWidget(self.grace)

        self.ngrok = SecretField(keystore, NGROK_TOKEN, "ngrokToken")
        self.ngrok.saved.connect(self.changed)
        ngrok_box = QGroupBox("ngrok authtoken — gives tvdesk a public URL for TradingView")
        ngrok_layout = QVBoxLayout(ngrok_box)
        ngrok_layout.addWidget(self.ngrok)
        ngrok_layout.addWidget(
            QLabel(
                'Free at <a href="https://dashboard.ngrok.com/get-started/your-authtoken">'
                "dashboard.ngrok.com</a> → Your Authtoken.",
                openExternalLinks=True,
            )
        )

        # Only ccxt ids tvdesk has tested (a typed name would key secrets nobody reads); an
        # exchange set by hand in settings.toml is listed too, so its keys can be stored.
        self.exchange = QComboBox(objectName="exchangeChoice")
        default = handle.settings().exchange.default
        self.exchange.addItems([*EXCHANGES, *([default] if default not in EXCHANGES else [])])
        self.exchange.setCurrentText(default)
        self.exchange.currentTextChanged.connect(self._exchange_changed)
        self.credentials = {
            suffix: SecretField(keystore, self._entry(suffix), f"exchange_{suffix}")
            for suffix, _ in CREDENTIALS
        }
        exchange_box = QGroupBox("Exchange API keys — only needed for live trading")
        form = QFormLayout(exchange_box)
        form.addRow("E&xchange", self.exchange)
        for suffix, label in CREDENTIALS:
            self.credentials[suffix].saved.connect(self.changed)
            form.addRow(label, self.credentials[suffix])
        form.addRow(
            QLabel(
                "Create a key with trading permission only — never withdrawals. "
                "The password is only for exchanges that have one (OKX, KuCoin, Bitget).",
                wordWrap=True,
            )
        )

        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addWidget(webhook_box)
        layout.addWidget(ngrok_box)
        layout.addWidget(exchange_box)
        layout.addWidget(QLabel("Telegram, Discord and ntfy tokens: the Notifications tab."))
        layout.addStretch()
        self.refresh()

    def _entry(self, suffix: str) -> str:
        return f"{self.exchange.currentText().strip().lower()}_{suffix}"

    def _exchange_changed(self) -> None:
        for suffix, field in self.credentials.items():
            field.set_name(self._entry(suffix))

    def refresh(self) -> None:
        keystore = self.handle.keystore
        from_env = keystore.source(WEBHOOK_SECRET) == "env"
        self.rotate.setEnabled(not from_env)
        self.rotate.setToolTip(
            f"set by {env_var_name(WEBHOOK_SECRET)}: change it there" if from_env else ""
        )
        if keystore.get(WEBHOOK_SECRET) is not None:
            until = keystore.webhook_secrets(time.time()).previous_expires_at
            self._start_countdown(until or 0.0)

    # -- webhook secret ------------------------------------------------------------

    def _show_webhook(self, on: bool) -> None:
        secret = self.handle.keystore.get(WEBHOOK_SECRET) or ""
        self.webhook.setText(secret if on else MASK)

    def _copy_webhook(self) -> None:
        QGuiApplication.clipboard().setText(self.handle.keystore.get(WEBHOOK_SECRET) or "")

    @asyncSlot()
    async def rotate_secret(self) -> None:
        grace = self.handle.settings().auth.rotation_grace_s
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Rotate the webhook secret?",
            "A new webhook secret replaces the current one. Alerts signed with the old one "
            f"keep working for {grace // 60} min {grace % 60} s: paste the new alert message "
            "into your TradingView alerts before then.",
            QMessageBox.StandardButton.Cancel,
            self,
        )
        box.addButton("Rotate", QMessageBox.ButtonRole.AcceptRole).setObjectName("confirmRotate")
        box.setObjectName("rotateBox")
        if await ask(box) == QMessageBox.StandardButton.Cancel:
            return
        async with busy(self.rotate):
            try:
                await self.handle.call(lambda engine: engine.rotate_secret())
            except KeystoreError as exc:
                self.grace.setText(str(exc))
                return
        self.reveal.setChecked(False)
        self._show_webhook(False)
        self.changed.emit(WEBHOOK_SECRET)

    def _start_countdown(self, until: float) -> None:
        self.grace_until = until
        self._tick()
        if until > time.time():
            self._countdown.start()

    def _tick(self) -> None:
        left = int(self.grace_until - time.time())
        if left <= 0:
            self._countdown.stop()
            self.grace.setText("Only the current secret is accepted.")
            return
        self.grace.setText(
            f"The previous secret is still accepted for {left // 60}:{left % 60:02d}."
        )

    def on_event_secret_rotated(self, event: SecretRotated) -> None:
        self._start_countdown(event.previous_valid_until)
