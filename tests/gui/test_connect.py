"""Connect panel: copy buttons, the alert message, and the Test alert button."""

from __future__ import annotations

import json

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from tests.gui.helpers import decided_row, tick, until
from tests.kit.paper import SECRET
from tvdesk.gui.resources import MASK


async def test_copy_url_puts_the_webhook_url_on_the_clipboard(window, qtbot):
    panel = window.connect_panel
    port = window.handle.settings().listener.port  # 0: the engine picked one
    assert port == 0
    qtbot.mouseClick(panel.copy_url, Qt.MouseButton.LeftButton)
    text = QGuiApplication.clipboard().text()
    assert text.startswith("http://127.0.0.1:") and text.endswith("/webhook")
    assert text == panel.url.text()
    assert "Local address only" in panel.url_note.text()  # no tunnel: said plainly
    assert panel.steps.done[1]


async def test_copy_message_puts_the_real_secret_on_the_clipboard_never_on_screen(window, qtbot):
    panel = window.connect_panel
    assert SECRET not in panel.message.toPlainText()
    assert MASK in panel.message.toPlainText()
    qtbot.mouseClick(panel.copy_message, Qt.MouseButton.LeftButton)
    message = json.loads(QGuiApplication.clipboard().text())
    assert message == {
        "secret": SECRET,
        "symbol": "{{ticker}}",
        "side": "{{strategy.order.action}}",
        "qty": "{{strategy.order.contracts}}",
        "price": "{{close}}",
        "timestamp": "{{timenow}}",
        "client_ref": "{{strategy.order.id}}-{{timenow}}",
    }

    tick(qtbot, panel.position_sync)
    qtbot.mouseClick(panel.copy_message, Qt.MouseButton.LeftButton)
    synced = json.loads(QGuiApplication.clipboard().text())
    assert synced["position_size"] == "{{strategy.position_size}}" and "qty" not in synced

    qtbot.mouseClick(panel.indicator, Qt.MouseButton.LeftButton)
    assert not panel.position_sync.isEnabled()
    qtbot.mouseClick(panel.copy_message, Qt.MouseButton.LeftButton)
    indicator = json.loads(QGuiApplication.clipboard().text())
    assert indicator["side"] == "buy" and "{{strategy" not in json.dumps(indicator)

    tick(qtbot, panel.show_secret)
    assert SECRET in panel.message.toPlainText()  # only because the trader asked


async def test_test_alert_button_shows_a_dry_run_and_its_trail_in_the_log(window, qtbot):
    panel = window.connect_panel
    qtbot.mouseClick(panel.test_button, Qt.MouseButton.LeftButton)
    await until(lambda: "dry_run" in panel.test_result.text(), what="the test alert's decision")
    assert "Round trip" in panel.test_result.text() and "local URL" in panel.test_result.text()
    trail = panel.test_trail.toPlainText()
    for step in ("map", "risk", "submit"):
        assert f" {step} " in trail
    assert " ms " in trail and "BTC/USDT" in trail
    assert panel.test_button.isEnabled()
    assert panel.steps.done[3]

    model = window.log_panel.model
    await until(lambda: model.rowCount() == 1, what="the test alert's log row")
    row = await decided_row(window, model.row_at(0).key)
    assert (row.outcome, row.test, row.symbol) == ("dry_run", True, "BTCUSDT")
    assert row.latency_ms is not None


async def test_first_run_walks_through_the_four_steps(window, qtbot):
    panel = window.connect_panel
    assert panel.welcome.isVisible()
    assert [b.text()[0] for b in panel.steps.buttons] == ["1", "2", "3", "4"]
    qtbot.mouseClick(panel.steps.buttons[0], Qt.MouseButton.LeftButton)
    assert window.tabs.currentWidget() is window.secrets_panel
    secrets = window.secrets_panel
    qtbot.keyClicks(secrets.ngrok.input, "2abcTOKENxyz_0123456789")
    qtbot.mouseClick(secrets.ngrok.save, Qt.MouseButton.LeftButton)
    assert panel.steps.done[0] and not panel.welcome.isVisible()


async def test_a_changed_public_url_is_said_in_a_banner_and_the_copy_step_reopens(window, qtbot):
    from tvdesk.tunnel.events import TunnelUrlChanged

    panel = window.connect_panel
    qtbot.mouseClick(panel.copy_url, Qt.MouseButton.LeftButton)
    assert panel.steps.done[1]
    message = (
        "the public URL changed from https://old.ngrok.app to https://new.ngrok.app: "
        "edit the webhook URL of every TradingView alert"
    )
    window.handle.event.emit(
        TunnelUrlChanged(0.0, "https://old.ngrok.app", "https://new.ngrok.app", message)
    )

    await until(lambda: window.banner.isVisible(), what="the banner")
    assert window.banner.text() == message
    assert not panel.steps.done[1]
