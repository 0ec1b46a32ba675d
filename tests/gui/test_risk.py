"""Risk panel: limits typed in the window decide the next alert; the kill switch."""

from __future__ import annotations

from decimal import Decimal

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from tests.gui.helpers import decided_row, post_alert, tick, type_into, until


async def test_editing_a_limit_changes_the_next_alerts_outcome(window, session, qtbot):
    first = await post_alert(session, window, qty="0.01", price="50000")  # 500 USDT
    assert (await decided_row(window, first["alert_id"])).outcome == "filled"

    panel = window.risk_panel
    window.tabs.setCurrentWidget(panel)
    assert not panel.apply.isEnabled()
    type_into(qtbot, panel.inputs["max_notional"], "100")
    assert panel.apply.isEnabled()
    qtbot.mouseClick(panel.apply, Qt.MouseButton.LeftButton)
    await until(lambda: not panel.apply.isEnabled(), what="the limits to be applied")

    second = await post_alert(session, window, qty="0.01", price="50000")
    row = await decided_row(window, second["alert_id"])
    assert row.outcome == "rejected" and "notional" in row.reason
    saved = window.handle.paths.settings_file.read_text(encoding="utf-8")
    assert "max_notional = 100" in saved


async def test_the_kill_switch_is_one_shortcut_away_from_any_tab(window, session, qtbot):
    window.tabs.setCurrentWidget(window.log_panel)
    assert window.kill_action.shortcut().toString() == "Ctrl+Shift+K"
    window.kill_action.trigger()
    await until(lambda: window.handle.settings().risk.kill_switch, what="the kill switch")
    assert "ON" in window.risk_panel.kill.text()
    refused = await post_alert(session, window)
    row = await decided_row(window, refused["alert_id"])
    assert row.outcome == "rejected" and "kill switch" in row.reason


async def test_resuming_in_live_mode_asks_first(window, qtbot):
    panel = window.risk_panel
    await window.handle.call(lambda e: e.set_kill_switch(True, "test"))
    panel.show_kill(True)
    await window.handle.call(lambda e: e.set_mode("live"))
    try:
        qtbot.mouseClick(panel.kill, Qt.MouseButton.LeftButton)
        await until(
            lambda: (
                (box := window.findChild(QMessageBox, "resumeLiveBox")) is not None
                and box.isVisible()
            ),
            what="the resume question",
        )
        box = window.findChild(QMessageBox, "resumeLiveBox")
        assert "REAL order" in box.text()
        box.button(QMessageBox.StandardButton.Cancel).click()
        await until(
            lambda: (
                (b := window.findChild(QMessageBox, "resumeLiveBox")) is None or not b.isVisible()
            ),
            what="the question to close",
        )
        assert window.handle.settings().risk.kill_switch  # still on: nothing resumed
    finally:
        await window.handle.call(lambda e: e.set_mode("paper"))


async def test_limits_cannot_be_negative(window, qtbot):
    field = window.risk_panel.inputs["max_qty"]
    type_into(qtbot, field, "-5")
    assert field.text() == "5"
    spin = window.risk_panel.inputs["max_orders_per_minute"]
    assert spin.minimum() == 0


async def test_kill_switch_refuses_the_next_alert_and_resumes(window, session, qtbot):
    panel = window.risk_panel
    qtbot.mouseClick(panel.kill, Qt.MouseButton.LeftButton)
    await until(lambda: "ON" in panel.kill.text(), what="the kill switch to show ON")
    assert window.handle.settings().risk.kill_switch
    await until(lambda: window.status.kill.isVisible(), what="the status bar's kill badge")

    refused = await post_alert(session, window)
    row = await decided_row(window, refused["alert_id"])
    assert row.outcome == "rejected" and "kill switch" in row.reason
    await until(
        lambda: any("Kill switch ON" in n for n in window.tray.notices), what="a notification"
    )

    qtbot.mouseClick(panel.kill, Qt.MouseButton.LeftButton)
    await until(lambda: not window.handle.settings().risk.kill_switch, what="resume")
    traded = await post_alert(session, window)
    assert (await decided_row(window, traded["alert_id"])).outcome == "filled"


async def test_kill_switch_can_close_positions(window, session, qtbot):
    bought = await post_alert(session, window, qty="0.02", price="50000")
    assert (await decided_row(window, bought["alert_id"])).outcome == "filled"
    panel = window.risk_panel
    tick(qtbot, panel.and_flatten)
    assert panel.and_flatten.isChecked()
    qtbot.mouseClick(panel.kill, Qt.MouseButton.LeftButton)

    model = window.log_panel.model

    def flatten_row():
        rows = [r for r in model.rows() if r.client == "internal:flatten"]
        return rows[0] if rows and rows[0].outcome != "pending" else None

    row = await until(flatten_row, what="the flatten alert in the log")
    assert row.outcome == "filled"
    positions = await window.handle.call(lambda e: e.queries.positions("paper"))
    assert all(p["qty"] == 0 for p in positions)


async def test_todays_counters_show_orders_and_the_loss_limit(window, session):
    await decided_row(window, (await post_alert(session, window))["alert_id"])
    panel = window.risk_panel
    panel.refresh_today()
    await until(lambda: "1 orders" in panel.today.text(), what="today's counters")
    assert panel.loss_bar.format() == "no daily loss limit set"


async def test_a_hand_edit_of_settings_toml_shows_in_the_panel(window):
    panel = window.risk_panel
    path = window.handle.paths.settings_file
    path.write_text("[risk]\nmax_qty = 2.5\n", encoding="utf-8")
    changed = await window.handle.call(lambda engine: engine.reload_settings())
    assert "risk.max_qty: 0 → 2.5" in changed
    await until(lambda: panel.inputs["max_qty"].text() == "2.5", what="the panel to reload")


async def test_the_price_deviation_limit_is_a_row_of_the_panel(window, qtbot):
    panel = window.risk_panel
    window.tabs.setCurrentWidget(panel)
    field = panel.inputs["max_price_deviation_pct"]
    assert field.text() == "5"
    type_into(qtbot, field, "2.5")
    qtbot.mouseClick(panel.apply, Qt.MouseButton.LeftButton)
    await until(lambda: not panel.apply.isEnabled(), what="the limits to be applied")
    assert window.handle.settings().risk.max_price_deviation_pct == Decimal("2.5")
    saved = window.handle.paths.settings_file.read_text(encoding="utf-8")
    assert "max_price_deviation_pct = 2.5" in saved
