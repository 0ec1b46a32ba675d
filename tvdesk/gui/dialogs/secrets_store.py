"""Asked at start when no OS keyring works (i3, sway, bare XFCE, WSLg): keep the secrets in
an encrypted file unlocked by a password, or in memory for this session only. The window's
status bar then says which store is in use."""

from __future__ import annotations

import asyncio
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QMainWindow,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from tvdesk.config.keystore import WEBHOOK_SECRET, Keystore
from tvdesk.config.secret_stores import (
    OS_KEYRING,
    SECRETS_FILE,
    SESSION_ONLY,
    SecretsFileError,
    SessionKeyring,
    encrypted_label,
    unlock_encrypted_file,
)
from tvdesk.gui.aio import busy


class SecretsStoreDialog(QDialog):
    """Encrypted file (password) or this session only; OK hands the choice to
    ``choose_keystore``, which keeps the dialog open until the file is unlocked."""

    problem_shown = Signal(str)

    def __init__(self, path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("secretsStoreDialog")
        self.setWindowTitle("tvdesk: where to keep your secrets?")
        self.path = path
        self.new_file = not path.exists()
        intro = QLabel(
            "No OS keyring is running on this computer (GNOME Keyring, KWallet), so tvdesk "
            "cannot keep the webhook secret, the ngrok authtoken and exchange API keys there.",
            wordWrap=True,
        )
        self.encrypted = QRadioButton(
            "&Encrypted file (password)", objectName="storeEncrypted", checked=True
        )
        where = QLabel(f"Kept in {path}, asked for at every start.", wordWrap=True)
        self.password = QLineEdit(objectName="storePassword", echoMode=QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText("new password" if self.new_file else "password")
        self.confirm = QLineEdit(objectName="storeConfirm", echoMode=QLineEdit.EchoMode.Password)
        self.confirm.setPlaceholderText("the same password again")
        self.confirm.setVisible(self.new_file)
        self.session = QRadioButton(
            "This &session only (forgotten when tvdesk quits; a new webhook secret each start)",
            objectName="storeSession",
        )
        self.encrypted.toggled.connect(self._encrypted_chosen)
        self.error = QLabel(objectName="storeError", wordWrap=True)
        self.error.setStyleSheet("QLabel { color: #da3633; }")
        self.error.hide()
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("&Quit")
        self.buttons.accepted.connect(lambda: self._answer(True))
        self.buttons.rejected.connect(self.reject)
        self.rejected.connect(lambda: self._answer(False))
        layout = QVBoxLayout(self)
        for widget in (intro, self.encrypted, where, self.password, self.confirm, self.session):
            layout.addWidget(widget)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self._answered: asyncio.Future[bool] | None = None

    def _encrypted_chosen(self, on: bool) -> None:
        for widget in (self.password, self.confirm):
            widget.setEnabled(on)

    def _answer(self, ok: bool) -> None:
        if self._answered is not None and not self._answered.done():
            self._answered.set_result(ok)

    async def answer(self) -> bool:
        """True once OK is pressed; False when the trader quits."""
        self._answered = asyncio.get_running_loop().create_future()
        return await self._answered

    def show_error(self, text: str) -> None:
        self.show_note(text)
        self.problem_shown.emit(text)

    def show_note(self, text: str) -> None:
        self.error.setText(text)
        self.error.show()

    def typing_problem(self) -> str | None:
        if not self.password.text().strip():
            return "Type a password (or choose this session only)."
        if self.new_file and self.password.text() != self.confirm.text():
            return "The two passwords differ: type the same one twice."
        return None


async def choose_keystore(service: str, config_dir: Path) -> Keystore | None:
    """The OS keyring's keystore when one works; else the store the trader picks, or None
    when they quit."""
    keystore = Keystore(service)
    if keystore.available()[0]:
        return keystore
    if keystore.from_environment(WEBHOOK_SECRET):
        # Run from the environment (TVDESK_WEBHOOK_SECRET[_FILE]): nothing to ask at start;
        # what the window stores lasts this session, and the status bar says so.
        return Keystore(service, backend=SessionKeyring(), store=SESSION_ONLY)
    dialog = SecretsStoreDialog(config_dir / SECRETS_FILE)
    dialog.open()
    try:
        while await dialog.answer():
            if dialog.session.isChecked():
                return Keystore(service, backend=SessionKeyring(), store=SESSION_ONLY)
            problem = dialog.typing_problem()
            if problem is not None:
                dialog.show_error(problem)
                continue
            dialog.show_note("Unlocking…")
            try:
                async with busy(dialog.buttons):
                    backend = await asyncio.to_thread(
                        unlock_encrypted_file, dialog.path, dialog.password.text()
                    )
            except SecretsFileError as exc:
                dialog.password.clear()
                dialog.show_error(str(exc))
                continue
            return Keystore(service, backend=backend, store=encrypted_label(dialog.path))
        return None
    finally:
        dialog.close()
        dialog.deleteLater()


def show_secrets_store(window: QMainWindow, keystore: Keystore) -> None:
    """A status-bar line naming the store, when it is not the OS keyring."""
    if keystore.store == OS_KEYRING:
        return
    text = (
        "Secrets: this session only"
        if keystore.store == SESSION_ONLY
        else "Secrets: encrypted file"
    )
    label = QLabel(text, objectName="status_secrets")
    label.setToolTip(f"Secrets are kept in {keystore.store}.")
    window.statusBar().addPermanentWidget(label)
