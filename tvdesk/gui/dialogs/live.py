"""The switch to LIVE (also asked at every start in LIVE): what will happen, and a typed
confirmation."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from tvdesk.gui.handle import EngineHandle, resolve_awaitable

CONFIRM_WORD = "LIVE"


def key_source(handle: EngineHandle, name: str) -> str:
    """Where the API key comes from — never any of its characters (DESIGN: secrets stay
    out of the window unless revealed on purpose)."""
    source = handle.keystore.source(name)
    if source == "env":
        return f"set (environment variable TVDESK_{name.upper()})"
    return "set (OS keyring)" if source == "keyring" else "not set"


async def live_refusal(handle: EngineHandle) -> str | None:
    """Why live mode cannot be entered now, in words; None when it can."""
    exchange = handle.settings().exchange.default
    missing = [
        label
        for suffix, label in (("api_key", "API key"), ("api_secret", "API secret"))
        if not handle.keystore.get(f"{exchange}_{suffix}")
    ]
    if missing:
        return (
            f"There is no {' or '.join(missing)} for {exchange}: add them in Secrets "
            "(a key with trading permission, never withdrawals), then try again."
        )

    async def check(engine: Any) -> str | None:
        if hasattr(engine, "check_live"):
            return await resolve_awaitable(engine.check_live())
        engine.broker("live")  # raises, with the reason, while live trading is unavailable
        return None

    try:
        reason = await handle.call(check)
    except Exception as exc:  # the engine's refusal: its message is the reason
        return f"The {exchange} check failed: {exc}"
    return str(reason) if reason else None


class LiveDialog(QDialog):
    """Shows exchange, account, balance and limits; OK only once LIVE is typed."""

    def __init__(
        self, parent: QWidget | None, handle: EngineHandle, balance: str, *, at_start: bool = False
    ) -> None:
        super().__init__(parent)
        self.setObjectName("liveDialog")
        self.setWindowTitle("Start in LIVE trading?" if at_start else "Switch to LIVE trading")
        settings = handle.settings()
        exchange = settings.exchange.default
        risk = settings.risk
        warning = QLabel(
            "In LIVE mode every alert that passes your risk limits places a <b>real order</b> "
            "with real money."
        )
        if at_start:
            warning.setText(
                'settings.toml says mode = "live". tvdesk runs in PAPER until you confirm: '
                + warning.text()
                + " Cancel keeps this session in PAPER."
            )
        warning.setWordWrap(True)
        facts = QFormLayout()
        testnet = " (testnet)" if settings.exchange.sandbox else ""
        facts.addRow("Exchange:", QLabel(f"{exchange}{testnet}"))
        facts.addRow("Account (API key):", QLabel(key_source(handle, f"{exchange}_api_key")))
        facts.addRow("Balance:", QLabel(balance))
        facts.addRow(
            "Limits:",
            QLabel(
                f"max order value {risk.max_notional or 'NO LIMIT'} (in each market's quote) · "
                f"{risk.max_orders_per_minute or 'NO LIMIT on'} orders/min · daily loss limit "
                f"{risk.daily_loss_limit or 'NONE'}"
                + (" · KILL SWITCH ON" if risk.kill_switch else "")
            ),
        )
        self.word = QLineEdit(objectName="typeLive", placeholderText=f"type {CONFIRM_WORD}")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setText("Go LIVE")
        self.ok.setObjectName("goLive")
        self.ok.setEnabled(False)
        self.word.textChanged.connect(lambda text: self.ok.setEnabled(text == CONFIRM_WORD))
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(warning)
        layout.addLayout(facts)
        layout.addWidget(QLabel(f"Type {CONFIRM_WORD} to confirm:"))
        layout.addWidget(self.word)
        layout.addWidget(buttons)

    def confirmed(self) -> bool:
        return self.result() == QDialog.DialogCode.Accepted and self.word.text() == CONFIRM_WORD
