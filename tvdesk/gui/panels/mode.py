"""The paper/live toggle: a badge that cannot be missed and a guarded switch.

Going live explains what will happen and needs LIVE typed; it is refused, with the
reason, when credentials are missing or the exchange check fails. Back to paper is
one click. The mode persists in settings.toml, yet LIVE needs consent at every start:
a start with ``mode = "live"`` asks with the same dialog (``consent_at_start``).
"""

from __future__ import annotations

from decimal import Decimal

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMessageBox, QPushButton, QWidget
from qasync import asyncSlot

from tvdesk.gui.aio import ask, busy
from tvdesk.gui.dialogs.live import LiveDialog, live_refusal
from tvdesk.gui.handle import EngineHandle
from tvdesk.gui.status_bar import mode_badge_style


class ModeSwitch(QWidget):
    changed = Signal(str)  # the new mode
    refused = Signal(str)  # why live mode was not entered

    def __init__(self, handle: EngineHandle) -> None:
        super().__init__()
        self.handle = handle
        self.badge = QLabel(objectName="modeBadge")
        self.button = QPushButton(objectName="modeToggle")
        self.button.clicked.connect(self.toggle)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.badge)
        layout.addWidget(self.button)
        self.show_mode(handle.settings().mode)

    def show_mode(self, mode: str) -> None:
        live = mode == "live"
        self.badge.setText(" LIVE — real orders " if live else " PAPER ")
        self.badge.setStyleSheet(mode_badge_style(mode))
        self.button.setText("Bac&k to paper" if live else "Switch to &LIVE…")

    @asyncSlot()
    async def toggle(self) -> None:
        async with busy(self.button):
            if self.handle.settings().mode == "live":
                await self._set("paper")
                return
            reason = await live_refusal(self.handle)
            if reason is not None:
                self.refused.emit(reason)
                await self._refuse(reason)
                return
            await self._consent(at_start=False)

    async def consent_at_start(self) -> str | None:
        """settings.toml says LIVE: ask before trading live. None once live, else why not.

        The engine runs in PAPER until the trader types LIVE; declining stays in paper.
        """
        async with busy(self.button):
            reason = await live_refusal(self.handle)
            if reason is not None:
                self.refused.emit(reason)
                return f"LIVE was refused. {reason}"
            if await self._consent(at_start=True):
                return None
            return "LIVE was not confirmed. Switch to LIVE when you are ready."

    async def _consent(self, *, at_start: bool) -> bool:
        """The live dialog (exchange, account, balance, limits); True once live."""
        balance = await self._balance()
        dialog = LiveDialog(self.window(), self.handle, balance, at_start=at_start)
        await ask(dialog)
        confirmed = dialog.confirmed()
        dialog.deleteLater()
        if confirmed:
            await self._set("live")
        return confirmed

    async def _set(self, mode: str) -> None:
        await self.handle.call(lambda e: e.set_mode(mode))
        self.show_mode(mode)
        self.changed.emit(mode)

    async def _balance(self) -> str:
        checked = await self.handle.call(lambda e: e.live_balance())
        if checked:  # what the exchange check just read
            return checked
        exchange = self.handle.settings().exchange.default
        rows = await self.handle.call(lambda e: e.queries.balances("live"))
        held = [
            f"{r['free'] + r['used']:,} {r['currency']}" for r in rows if r["exchange"] == exchange
        ]
        if not held or all(Decimal(r["free"]) == 0 for r in rows):
            return "read from the exchange at the first live order"
        return ", ".join(held)

    async def _refuse(self, reason: str) -> None:
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "LIVE mode refused",
            f"tvdesk stays in PAPER mode.\n\n{reason}",
            QMessageBox.StandardButton.Ok,
            self.window(),
        )
        box.setObjectName("liveRefused")
        await ask(box)
        box.deleteLater()
