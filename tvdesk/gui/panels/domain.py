"""The ngrok static domain on the Connect panel: the public URL that survives restarts.

Free ngrok accounts get one domain (``name-word-1234.ngrok-free.app``). Saved here, it goes
to settings.toml's ``[tunnel] domain`` and the tunnel starts over on it at once.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget
from qasync import asyncSlot

from tvdesk.config.load import SettingsError
from tvdesk.config.validate import domain_problem, normalise_domain
from tvdesk.gui.aio import busy
from tvdesk.gui.handle import EngineHandle

EXAMPLE = "name-word-1234.ngrok-free.app"
ERROR_STYLE = "QLabel { color: #cf222e; }"


class DomainBox(QWidget):
    def __init__(self, handle: EngineHandle) -> None:
        super().__init__()
        self.handle = handle
        self.field = QLineEdit(objectName="tunnelDomain")
        self.field.setPlaceholderText(f"{EXAMPLE} (free: ngrok dashboard → Domains)")
        self.field.setText(handle.settings().tunnel.domain)
        self.field.returnPressed.connect(self.save)
        self.field.textEdited.connect(lambda _: self._say(""))
        label = QLabel("Static domain", objectName="domainLabel")
        label.setBuddy(self.field)
        label.setToolTip(
            "Without one, ngrok gives a new URL at every start and each TradingView alert "
            "must be edited again."
        )
        self.save_button = QPushButton("Sa&ve domain", objectName="saveDomain")
        self.save_button.clicked.connect(self.save)
        self.note = QLabel(objectName="domainNote", wordWrap=True)
        self.note.setTextFormat(Qt.TextFormat.PlainText)
        self.note.hide()
        row = QHBoxLayout()
        row.addWidget(label)
        row.addWidget(self.field, 1)
        row.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.note)

    def _say(self, text: str, *, error: bool = False) -> None:
        self.note.setText(text)
        self.note.setStyleSheet(ERROR_STYLE if error else "")
        self.note.setVisible(bool(text))

    @asyncSlot()
    async def save(self) -> None:
        async with busy(self.save_button):
            await self._save(self.field.text())

    async def _save(self, typed: str) -> None:
        problem = domain_problem(typed)
        if problem is not None:
            self._say(f"Not saved: the static domain {problem}.", error=True)
            return
        domain = normalise_domain(typed)
        self.field.setText(domain)
        if domain == self.handle.settings().tunnel.domain:
            self._say(f"tvdesk already uses {domain}." if domain else "No static domain set.")
            return

        def apply(engine: Any) -> bool:
            tunnel = replace(engine.settings.tunnel, domain=domain)
            engine.update_settings(replace(engine.settings, tunnel=tunnel))
            return engine.tunnel is not None

        try:
            tunnelling = await self.handle.call(apply)
        except SettingsError as exc:
            self._say(str(exc), error=True)
            return
        where = f"https://{domain}" if domain else "a new ngrok URL (it changes at each start)"
        if not tunnelling:
            self._say(
                f"Saved. The tunnel is off in this run (--no-tunnel or [tunnel] enabled = "
                f"false); when it runs, its URL is {where}."
            )
            return
        self._say(f"Saved: the tunnel starts over on {where}.")
        await self.handle.call(lambda e: e.tunnel.restart() if e.tunnel else None)
