"""Render the window and each panel offscreen to docs/screenshots/*.png.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshots.py   (or: make screenshots)

A real paper engine in a temporary data dir takes a handful of alerts first, so every
panel has something to show. Secrets are fixed fakes kept in an in-memory keyring and
every secret field stays masked: no picture ever shows a real or a revealed secret.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import aiohttp  # noqa: E402
import keyring  # noqa: E402
from keyring.backend import KeyringBackend  # noqa: E402
from PySide6.QtGui import QColor, QPalette  # noqa: E402
from PySide6.QtWidgets import QApplication, QStyleFactory, QWidget  # noqa: E402

from tests.kit.fake_notify import BOT_TOKEN, CHAT_ID, FakeNotify  # noqa: E402
from tvdesk.config.keystore import (  # noqa: E402
    TELEGRAM_BOT_TOKEN,
    WEBHOOK_SECRET,
    Keystore,
    service_name,
)
from tvdesk.config.paths import resolve_paths  # noqa: E402
from tvdesk.config.schema import NotifySettings, Settings, SymbolRule, TunnelSettings  # noqa: E402
from tvdesk.core.auth import sign_tvdesk  # noqa: E402
from tvdesk.gui.aio import QtLoop  # noqa: E402
from tvdesk.gui.app import bring_up, build_window  # noqa: E402
from tvdesk.gui.collector import MainThreadCollector  # noqa: E402
from tvdesk.gui.dialogs.live import LiveDialog  # noqa: E402
from tvdesk.gui.dialogs.paths import PathsDialog  # noqa: E402
from tvdesk.gui.main_window import MainWindow  # noqa: E402
from tvdesk.notify.senders import Endpoints  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
FAKE_SECRET = "screenshot-fake-secret-not-used-anywhere"
SIZE = (1180, 800)
SMALL_SCREEN = (1366, 768)  # a common laptop: everything must fit
PRICES = [
    "50000", "50400", "50150", "50900", "51200", "50800", "51500", "51900", "51600", "52300",
    "52000", "52600", "52400", "53100", "52800", "53400", "53200",
]  # fmt: skip


class FakeKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.entries.pop((service, username), None)


async def send(session: aiohttp.ClientSession, window: MainWindow, **fields: object) -> str:
    body = {"symbol": "BINANCE:BTCUSDT", "side": "buy", "qty": "0.01", **fields}
    data = json.dumps(body).encode()
    headers = {"X-TVDesk-Signature": sign_tvdesk(FAKE_SECRET, data, int(time.time()))}
    async with session.post(window.connect_panel.webhook_url(), data=data, headers=headers) as r:
        return str((await r.json())["alert_id"])


async def until(condition: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError("the window never showed what the screenshot needs")
        await asyncio.sleep(0.02)


async def fill_with_activity(window: MainWindow) -> None:
    async with aiohttp.ClientSession() as session:
        for i, price in enumerate(PRICES):
            side = "buy" if i % 2 == 0 else "sell"
            await send(session, window, side=side, price=price, client_ref=f"shot-{i}")
            await asyncio.sleep(0.02)
        await send(session, window, symbol="BINANCE:ETHUSDT", qty="0.5", price="3100")
        await send(session, window, symbol="BYBIT:SOLUSDT.P", qty="3", price="140")
        await send(session, window, symbol="BINANCE:BTCUSDT.P", side="sell", price="50500")
        await send(session, window, symbol="BINANCE:LTCUSDT", qty="2", price="85")
        await send(session, window, qty="0.5", price="52000", client_ref="too-big")
        await send(session, window, qty="0.5", price="52000", client_ref="too-big")
    model = window.log_panel.model
    await until(lambda: all(r.outcome != "pending" for r in model.rows()) and model.rowCount())
    window.connect_panel.send_test()
    await until(lambda: "Round trip" in window.connect_panel.test_result.text())


async def send_test_notification(window: MainWindow) -> None:
    """A real test send, to loopback fakes of the Telegram and ntfy APIs (never the internet)."""
    fake = FakeNotify()
    await fake.start()
    panel = window.notify_panel
    panel.endpoints = Endpoints(fake.url, fake.url)
    try:
        panel.send_test()
        await until(lambda: "sent" in panel.results["ntfy"].text())
    finally:
        await fake.stop()


def save(widget: QWidget, name: str) -> None:
    widget.grab().save(str(OUT / f"{name}.png"))
    print(f"docs/screenshots/{name}.png")


async def shoot() -> None:
    with tempfile.TemporaryDirectory(prefix="tvdesk-shots-") as tmp:
        data = Path(tmp)
        base = Settings()
        settings = replace(
            base,
            listener=replace(base.listener, port=0),
            symbols=[
                SymbolRule("BTCUSDT", "binance", "BTC/USDT"),
                SymbolRule("BTCUSDT.P", "binance", "BTC/USDT:USDT", leverage=Decimal("3")),
                SymbolRule("ETHUSDT", "binance", "ETH/USDT", Decimal("2")),
                SymbolRule("XRPUSDT", "binance", "XRP/USDT", enabled=False),
            ],
            notify=NotifySettings(telegram_chat_id=CHAT_ID, ntfy_topic="tvdesk-7Hq2mZx9"),
            tunnel=TunnelSettings(domain="name-word-1234.ngrok-free.app"),
        )
        keystore = Keystore(service_name(data))
        keystore.set(WEBHOOK_SECRET, FAKE_SECRET)
        keystore.set(TELEGRAM_BOT_TOKEN, BOT_TOKEN)  # the fake's; shown masked
        window = build_window(settings, keystore, resolve_paths(data), tunnel=False)
        window.resize(*SIZE)
        window.show()
        assert await bring_up(window)
        await fill_with_activity(window)
        await send_test_notification(window)
        window.symbols_panel.ticker.setText("BINANCE:SOLUSDT")
        window.symbols_panel.resolve()
        window.symbols_panel.scan_pending()
        window.positions_panel.refresh()
        window.risk_panel.refresh_today()
        await asyncio.sleep(1.2)  # one status poll and the panels' own refreshes

        OUT.mkdir(parents=True, exist_ok=True)
        for panel, name in (
            (window.connect_panel, "connect"),
            (window.log_panel, "log"),
            (window.positions_panel, "positions"),
            (window.symbols_panel, "symbols"),
            (window.risk_panel, "risk"),
            (window.secrets_panel, "secrets"),
            (window.notify_panel, "notifications"),
        ):
            window.tabs.setCurrentWidget(panel)
            if panel is window.connect_panel:  # "I'm coming from": another bridge's format
                panel.coming_from.choose("traderspost")
            if panel is window.log_panel:
                panel.view.selectRow(panel.model.rowCount() - 3)
                await until(lambda: "Decision trail" in window.log_panel.details.toPlainText())
            await asyncio.sleep(0.1)
            window.statusBar().clearMessage()
            save(window, name)

        window.resize(*SMALL_SCREEN)
        window.tabs.setCurrentWidget(window.connect_panel)
        await asyncio.sleep(0.2)
        window.statusBar().clearMessage()
        save(window, "window-1366x768")
        window.resize(*SIZE)

        files = PathsDialog(window, window.handle.paths, window.log_file)
        files.show()
        await asyncio.sleep(0.1)
        save(files, "files-dialog")
        files.close()

        exchange = settings.exchange.default
        keystore.set(f"{exchange}_api_key", "FAKEKEYab12cd34ef56gh78")
        keystore.set(f"{exchange}_api_secret", "fake-secret-for-the-picture")
        dialog = LiveDialog(window, window.handle, "read from the exchange at the first live order")
        dialog.show()
        await asyncio.sleep(0.1)
        save(dialog, "live-dialog")
        dialog.close()

        app = QApplication.instance()
        assert isinstance(app, QApplication)
        app.setStyle(QStyleFactory.create("Fusion"))
        app.setPalette(dark_palette())
        window.tabs.setCurrentWidget(window.log_panel)
        await asyncio.sleep(0.1)
        window.statusBar().clearMessage()
        save(window, "log-dark")
        await window.quit()


def dark_palette() -> QPalette:
    """What a dark desktop hands the app; tvdesk uses the palette it is given."""
    palette = QPalette()
    roles = QPalette.ColorRole
    for role, colour in (
        (roles.Window, "#1f2328"),
        (roles.WindowText, "#e6edf3"),
        (roles.Base, "#0d1117"),
        (roles.AlternateBase, "#161b22"),
        (roles.Text, "#e6edf3"),
        (roles.Button, "#2d333b"),
        (roles.ButtonText, "#e6edf3"),
        (roles.Highlight, "#1f6feb"),
        (roles.HighlightedText, "#ffffff"),
        (roles.Mid, "#444c56"),
        (roles.PlaceholderText, "#8b949e"),
    ):
        palette.setColor(role, QColor(colour))
    return palette


def main() -> int:
    keyring.set_keyring(FakeKeyring())
    for name in list(os.environ):
        if name.startswith("TVDESK_"):
            del os.environ[name]
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setQuitOnLastWindowClosed(False)
    collector = MainThreadCollector(app)
    try:
        with asyncio.Runner(loop_factory=lambda: QtLoop(app)) as runner:
            runner.run(shoot())
    finally:
        collector.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
