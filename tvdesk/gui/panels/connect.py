"""Connect: the webhook URL and alert message for TradingView, and the Test alert button."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from typing import Any

import aiohttp
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)
from qasync import asyncSlot

from tvdesk.config.keystore import WEBHOOK_SECRET
from tvdesk.core.auth import sign_tvdesk
from tvdesk.core.events import AlertDecided, EngineStarted, Event, TunnelChanged
from tvdesk.gui.aio import busy, spawn
from tvdesk.gui.handle import EngineHandle
from tvdesk.gui.panels.coming_from import ComingFrom
from tvdesk.gui.panels.domain import DomainBox
from tvdesk.gui.resources import MASK

NGROK_TOKEN = "ngrok_authtoken"
TEST_SYMBOL = "BTCUSDT"  # plain: the default exchange trades it, whichever that is
DECISION_TIMEOUT_S = 15.0
STEPS = ("Paste ngrok token", "Copy URL", "Copy message", "Send test")


def trail_text(record: dict[str, Any]) -> str:
    """The decision trail, one step a line, with its timing."""
    lines = []
    for entry in record.get("trail", []):
        mark = "✓" if entry.get("ok", True) else "✗"
        ms = f"{entry['ms']:8.2f} ms" if isinstance(entry.get("ms"), int | float) else " " * 11
        lines.append(f"{mark} {entry.get('step', ''):<10} {ms}  {entry.get('detail', '')}")
    return "\n".join(lines)


class Steps(QWidget):
    """The four numbered first-run steps, each ticked off when done."""

    clicked = Signal(int)

    def __init__(self) -> None:
        super().__init__()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.buttons: list[QPushButton] = []
        self.done = [False] * len(STEPS)
        for i in range(len(STEPS)):
            if i:
                layout.addWidget(QLabel("→"))
            button = QPushButton()
            button.setFlat(True)
            button.setObjectName(f"step{i + 1}")
            button.clicked.connect(lambda _=False, i=i: self.clicked.emit(i))
            self.buttons.append(button)
            layout.addWidget(button)
        layout.addStretch()
        self._paint()

    def mark(self, step: int, done: bool = True) -> None:
        self.done[step] = done
        self._paint()

    def _paint(self) -> None:
        for i, (name, button) in enumerate(zip(STEPS, self.buttons, strict=True)):
            button.setText(f"{'✓' if self.done[i] else i + 1}  {name}")
            button.setToolTip("done" if self.done[i] else "to do")


class Box(QGroupBox):
    """A group box sized by its minimum and preferred heights. Qt takes a box's
    height-for-width (from its word-wrapped notes) as its *minimum* in a column, and
    squeezes the column's boxes below what they need: frames cut at 1366×768."""

    def hasHeightForWidth(self) -> bool:
        return False


class ConnectPanel(QWidget):
    go_to_secrets = Signal()

    def __init__(self, handle: EngineHandle) -> None:
        super().__init__()
        self.handle = handle
        self._waiting: dict[str, asyncio.Future[AlertDecided]] = {}
        self._recent: dict[str, AlertDecided] = {}  # decisions that beat the HTTP reply here
        handle.event.connect(self._heard)
        self.public = False
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)

        self.welcome = QLabel(
            "<b>Welcome.</b> Four steps connect TradingView to tvdesk. Everything works in "
            "paper mode without an exchange account."
        )
        self.welcome.setWordWrap(True)
        self.steps = Steps()
        self.steps.clicked.connect(self._step_clicked)

        self.url = QLineEdit(readOnly=True, objectName="webhookUrl")
        self.url.setFont(mono)
        self.url_note = QLabel(wordWrap=True, objectName="urlNote")
        self.copy_url = QPushButton("Copy &URL", objectName="copyUrl")
        self.copy_url.clicked.connect(self._copy_url)
        url_box = QGroupBox("Webhook URL — paste into the TradingView alert's Notifications tab")
        row = QHBoxLayout()
        row.addWidget(self.url, 1)
        row.addWidget(self.copy_url)
        url_layout = QVBoxLayout(url_box)
        url_layout.addLayout(row)
        url_layout.addWidget(self.url_note)
        self.domain = DomainBox(handle)
        url_layout.addWidget(self.domain)

        self.strategy = QRadioButton("Strateg&y alert", objectName="kindStrategy", checked=True)
        self.indicator = QRadioButton("In&dicator alert", objectName="kindIndicator")
        kinds = QButtonGroup(self)
        kinds.addButton(self.strategy)
        kinds.addButton(self.indicator)
        self.position_sync = QCheckBox(
            "Position sync ({{strategy.position_size}})", objectName="positionSync"
        )
        self.show_secret = QCheckBox("Show secret", objectName="showSecret")
        for control in (self.strategy, self.indicator, self.position_sync, self.show_secret):
            control.toggled.connect(self.refresh_message)
        self.coming_from = ComingFrom()
        self.coming_from.changed.connect(self.refresh_message)
        self.message = QPlainTextEdit(readOnly=True, objectName="alertMessage")
        self.message.setFont(mono)
        self.message.setMinimumHeight(96)  # scrolls rather than push the window past 768 px
        self.copy_message = QPushButton("Copy &message", objectName="copyMessage")
        self.copy_message.clicked.connect(self._copy_message)
        message_box = Box("Alert message — paste into the alert's Message box")
        options = QHBoxLayout()
        for control in (self.strategy, self.indicator, self.position_sync, self.show_secret):
            options.addWidget(control)
        options.addStretch()
        options.addWidget(self.copy_message)
        message_layout = QVBoxLayout(message_box)
        message_layout.addWidget(self.coming_from)
        message_layout.addLayout(options)
        message_layout.addWidget(self.message)

        self.test_button = QPushButton("Send test &alert", objectName="testAlert")
        self.test_button.clicked.connect(self.send_test)
        self.test_result = QLabel("A signed test alert (a dry run: it never reaches an exchange).")
        self.test_result.setObjectName("testResult")
        self.test_result.setWordWrap(True)
        self.test_result.setTextFormat(Qt.TextFormat.PlainText)
        self.test_trail = QPlainTextEdit(readOnly=True, objectName="testTrail")
        self.test_trail.setFont(mono)
        self.test_trail.setMinimumHeight(self.test_trail.fontMetrics().lineSpacing() * 6 + 12)
        self.test_trail.setPlaceholderText("The decision trail of the test alert appears here.")
        test_box = Box("Test")
        test_row = QHBoxLayout()
        test_row.addWidget(self.test_button)
        test_row.addWidget(self.test_result, 1)
        test_layout = QVBoxLayout(test_box)
        test_layout.addLayout(test_row)
        test_layout.addWidget(self.test_trail)

        layout = QVBoxLayout(self)
        layout.addWidget(self.welcome)
        layout.addWidget(self.steps)
        layout.addWidget(url_box)
        layout.addWidget(message_box)
        layout.addWidget(test_box, 1)
        self.refresh_message()
        self.refresh_steps()

    # -- URL and message ------------------------------------------------------------

    def webhook_url(self) -> str:
        return self.url.text()

    async def refresh_url(self) -> None:
        tunnel, local = await self.handle.call(lambda e: (e.tunnel_status(), e.local_url))
        self.show_url(tunnel, local)

    def show_url(self, tunnel: dict[str, Any], local: str) -> None:
        public = tunnel.get("public_url") if tunnel.get("state") == "up" else None
        self.public = bool(public)
        self.url.setText(f"{(public or local).rstrip('/')}/webhook")
        if public:
            fixed = self.handle.settings().tunnel.domain
            self.url_note.setText(
                "Public URL through the ngrok tunnel: TradingView can reach it."
                + (
                    ""
                    if fixed
                    else " It changes at every start unless you set your static domain below."
                )
            )
        elif tunnel.get("state") == "off" and not self.handle.keystore.get(NGROK_TOKEN):
            self.url_note.setText(
                "Local address only: TradingView cannot reach it. Paste your ngrok token "
                "in Secrets (step 1) to get a public URL."
            )
        else:
            error = tunnel.get("error")
            self.url_note.setText(
                f"Local address only (tunnel {tunnel.get('state')}"
                + (f": {error}" if error else "")
                + "). TradingView cannot reach it until the tunnel is up."
            )

    def kind(self) -> str:
        if self.indicator.isChecked():
            return "indicator"
        return "position_sync" if self.position_sync.isChecked() else "strategy"

    def message_text(self, *, reveal: bool) -> str:
        secret = self.handle.keystore.get(WEBHOOK_SECRET) or "<no webhook secret yet>"
        return self.coming_from.template(self.kind()).render(secret if reveal else MASK)

    def refresh_message(self) -> None:
        # The strategy / indicator / position sync kinds are tvdesk's own JSON's; another
        # product's template is its strategy message.
        own = self.coming_from.is_tvdesk()
        for control in (self.strategy, self.indicator):
            control.setEnabled(own)
        self.position_sync.setEnabled(own and self.strategy.isChecked())
        template = self.coming_from.template(self.kind())
        secret = self.handle.keystore.get(WEBHOOK_SECRET)
        self.coming_from.show_note(template, template.secret_problem(secret) if secret else None)
        self.message.setPlainText(self.message_text(reveal=self.show_secret.isChecked()))

    def refresh_steps(self) -> None:
        has_token = bool(self.handle.keystore.get(NGROK_TOKEN))
        self.steps.mark(0, has_token)
        exchange = self.handle.settings().exchange.default
        first_run = not has_token and not self.handle.keystore.get(f"{exchange}_api_key")
        self.welcome.setVisible(first_run)

    def _copy_url(self) -> None:
        QGuiApplication.clipboard().setText(self.webhook_url())
        self.steps.mark(1)

    def _copy_message(self) -> None:
        QGuiApplication.clipboard().setText(self.message_text(reveal=True))
        self.steps.mark(2)

    def _step_clicked(self, step: int) -> None:
        if step == 0:
            self.go_to_secrets.emit()
        elif step == 1:
            self._copy_url()
        elif step == 2:
            self._copy_message()
        else:
            self.send_test()

    # -- the test alert ---------------------------------------------------------------

    def _test_body(self) -> bytes:
        rules = [r for r in self.handle.settings().symbols if r.enabled]
        now = time.time()
        alert = {
            "symbol": rules[0].tv if rules else TEST_SYMBOL,
            "side": "buy",
            "qty": "0.001",
            "timestamp": datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "strategy": "tvdesk test button",
            "client_ref": f"test-button-{int(now * 1000)}",
            "test": True,
        }
        return json.dumps(alert).encode()

    @asyncSlot()
    async def send_test(self) -> None:
        async with busy(self.test_button):
            self.test_trail.clear()
            try:
                await self._send_test()
            except ValueError:  # not a JSON reply: something else answered at that URL
                self.test_result.setText(
                    f"{self.webhook_url()} did not answer like tvdesk (an error page?): "
                    "is the tunnel up, and is this the URL shown above?"
                )
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                why = str(exc) or "no answer in time"
                self.test_result.setText(f"Could not reach {self.webhook_url()}: {why}")

    async def _send_test(self) -> None:
        secret = self.handle.keystore.get(WEBHOOK_SECRET)
        if not secret:
            self.test_result.setText("There is no webhook secret yet: generate one in Secrets.")
            return
        body = self._test_body()
        headers = {
            "Content-Type": "application/json",
            "X-TVDesk-Signature": sign_tvdesk(secret, body, int(time.time())),
        }
        started = time.perf_counter()
        timeout = aiohttp.ClientTimeout(total=10)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(self.webhook_url(), data=body, headers=headers) as reply,
        ):
            answer = await reply.json(content_type=None)
        acked_ms = (time.perf_counter() - started) * 1000
        where = "public URL" if self.public else "local URL"
        if reply.status != 200:
            self.test_result.setText(
                f"{reply.status} {answer.get('error')} from the {where} after {acked_ms:.0f} ms: "
                f"{answer.get('message')}"
            )
            return
        alert_id = answer["alert_id"]
        future = asyncio.get_running_loop().create_future()
        if alert_id in self._recent:
            future.set_result(self._recent[alert_id])
        self._waiting[alert_id] = future
        self.test_result.setText(f"Accepted in {acked_ms:.1f} ms; waiting for the decision…")
        try:
            decided = await asyncio.wait_for(future, DECISION_TIMEOUT_S)
        except TimeoutError:
            self.test_result.setText(
                f"Accepted in {acked_ms:.1f} ms, but no decision within "
                f"{DECISION_TIMEOUT_S:g} s (the engine may be busy): see the Log tab"
            )
            return
        finally:
            self._waiting.pop(alert_id, None)
        round_trip = (time.perf_counter() - started) * 1000
        record = await self.handle.call(lambda e: e.queries.alert(alert_id))
        self.test_trail.setPlainText(trail_text(record or {}))
        self.test_result.setText(
            f"Round trip {round_trip:.0f} ms through the {where} (accepted in {acked_ms:.1f} ms)"
            f" → {decided.outcome}: {decided.reason}"
        )
        self.steps.mark(3, decided.outcome == "dry_run")

    # -- engine events -------------------------------------------------------------------

    def _heard(self, event: Event) -> None:
        # Straight from the handle, not the batching bridge: the round trip shown is exact.
        if not isinstance(event, AlertDecided):
            return
        self._recent[event.alert_id] = event
        if len(self._recent) > 256:
            del self._recent[next(iter(self._recent))]
        future = self._waiting.get(event.alert_id)
        if future is not None and not future.done():
            future.set_result(event)

    def on_event_engine_started(self, event: EngineStarted) -> None:
        spawn(self.refresh_url())

    def on_event_tunnel_changed(self, event: TunnelChanged) -> None:
        spawn(self.refresh_url())
