"""No OS keyring running (i3, sway, bare XFCE, WSLg): the window still starts, in paper,
once the trader picks an encrypted file or this session only, and says which is in use."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

import keyring
import pytest
from keyring.backends import fail
from keyrings.cryptfile.cryptfile import CryptFileKeyring
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QLabel

from tvdesk.config.keystore import WEBHOOK_SECRET
from tvdesk.gui.aio import emitted, spawn
from tvdesk.gui.app import GuiOptions, run
from tvdesk.gui.dialogs.secrets_store import SecretsStoreDialog, choose_keystore
from tvdesk.gui.main_window import MainWindow

OK = QDialogButtonBox.StandardButton.Ok


@pytest.fixture(autouse=True)
def no_os_keyring() -> None:
    keyring.set_keyring(fail.Keyring())  # what keyring finds with no daemon running


@pytest.fixture(autouse=True)
def quick_key_derivation(monkeypatch: pytest.MonkeyPatch) -> None:
    """The library's Argon2 cost takes seconds on a shared box; the rest is the same."""
    monkeypatch.setattr(CryptFileKeyring, "time_cost", 1)
    monkeypatch.setattr(CryptFileKeyring, "memory_cost", 2**10)


@pytest.fixture
def keep_signal_handlers():
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def open_dialog() -> SecretsStoreDialog:
    (dialog,) = [
        widget
        for widget in QApplication.topLevelWidgets()
        if isinstance(widget, SecretsStoreDialog) and widget.isVisible()
    ]
    return dialog


def test_the_window_starts_in_paper_and_names_the_session_store(
    qapp, tmp_path, keep_signal_handlers
):
    seen: dict[str, Any] = {}

    def choose_session_only() -> None:
        dialogs = [w for w in qapp.topLevelWidgets() if isinstance(w, SecretsStoreDialog)]
        if dialogs and dialogs[0].isVisible() and "asked" not in seen:
            seen["asked"] = True
            dialogs[0].session.setChecked(True)
            dialogs[0].buttons.button(OK).click()

    answering = QTimer(interval=10)
    answering.timeout.connect(choose_session_only)
    answering.start()

    async def on_shown(window: MainWindow) -> None:
        start = window.start_engine

        async def start_then_quit() -> bool:
            started = await start()
            label = window.statusBar().findChild(QLabel, "status_secrets")
            seen.update(
                started=started,
                mode=window.handle.settings().mode,
                store=label.text() if label else None,
                visible=bool(label and label.isVisible()),
            )
            spawn(window.quit())
            return started

        window.start_engine = start_then_quit  # type: ignore[method-assign]

    options = GuiOptions(data_dir=tmp_path / "data", port=0, tunnel=False)
    try:
        code = run(options, on_shown)
    finally:
        answering.stop()
    assert code == 0
    assert seen == {
        "asked": True,
        "started": True,
        "mode": "paper",
        "store": "Secrets: this session only",
        "visible": True,
    }


async def test_the_encrypted_file_is_made_then_unlocked_by_its_password_only(qtbot, tmp_path):
    first = asyncio.ensure_future(choose_keystore("tvdesk/gui-test", tmp_path))
    await asyncio.sleep(0)  # the task runs up to the open dialog
    dialog = open_dialog()
    assert dialog.confirm.isVisible()  # a new file: the password twice
    dialog.password.setText("a good password")
    dialog.confirm.setText("a good passwort")
    problem = emitted(dialog.problem_shown)
    dialog.buttons.button(OK).click()
    assert "differ" in (await problem)[0]
    dialog.confirm.setText("a good password")
    dialog.buttons.button(OK).click()
    keystore = await first
    assert keystore is not None and keystore.store.startswith("the encrypted file")
    secret = keystore.ensure_webhook_secret()
    assert secret not in (tmp_path / "secrets.cfg").read_text()

    again = asyncio.ensure_future(choose_keystore("tvdesk/gui-test", tmp_path))
    await asyncio.sleep(0)
    dialog = open_dialog()
    assert not dialog.confirm.isVisible()  # the file exists: unlock it
    dialog.password.setText("a wrong password")
    problem = emitted(dialog.problem_shown)
    dialog.buttons.button(OK).click()
    assert "Wrong password" in (await problem)[0]
    assert dialog.isVisible() and dialog.password.text() == ""
    dialog.password.setText("a good password")
    dialog.buttons.button(OK).click()
    unlocked = await again
    assert unlocked is not None and unlocked.get(WEBHOOK_SECRET) == secret


async def test_quitting_the_question_quits_tvdesk(qtbot, tmp_path):
    asked = asyncio.ensure_future(choose_keystore("tvdesk/gui-test", tmp_path))
    await asyncio.sleep(0)
    open_dialog().buttons.button(QDialogButtonBox.StandardButton.Cancel).click()
    assert await asked is None
    assert not (tmp_path / "secrets.cfg").exists()
