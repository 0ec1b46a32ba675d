"""Connect panel, "I'm coming from …": the alert message in another bridge's format, the
secret masked on screen and whole only on the clipboard."""

from __future__ import annotations

import json

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from tests.kit.paper import SECRET
from tvdesk.gui.resources import MASK

PINE = "{},{{{{strategy.order.action}}}},{{{{ticker}}}},risk={{{{strategy.order.contracts}}}}"


def pick(qtbot, combo, label: str) -> None:
    """Choose ``label`` in the combo with the keyboard, as a trader would."""
    combo.setFocus()
    qtbot.keyClick(combo, Qt.Key.Key_Home)
    for _ in range(combo.count()):
        if combo.currentText() == label:
            return
        qtbot.keyClick(combo, Qt.Key.Key_Down)
    raise AssertionError(f"{label!r} is not in the combo")


async def test_the_default_is_tvdesk_json(window, qtbot):
    panel = window.connect_panel
    combo = panel.coming_from.combo
    assert combo.currentText() == "tvdesk (JSON)"
    assert combo.count() == 9
    shown = json.loads(panel.message.toPlainText())
    assert shown["secret"] == MASK and shown["side"] == "{{strategy.order.action}}"
    assert "client_ref" in panel.coming_from.note.text()
    assert panel.strategy.isEnabled() and panel.indicator.isEnabled()


async def test_picking_pineconnector_shows_its_comma_syntax_with_the_secret_masked(window, qtbot):
    panel = window.connect_panel
    pick(qtbot, panel.coming_from.combo, "PineConnector")

    shown = panel.message.toPlainText()
    assert shown == PINE.format(MASK)
    assert SECRET not in shown
    note = panel.coming_from.note.text()
    assert "licence" in note and "risk=" in note and SECRET not in note
    # The kinds are tvdesk JSON's own: greyed out for another product's message.
    assert not panel.strategy.isEnabled() and not panel.indicator.isEnabled()
    assert not panel.position_sync.isEnabled()

    qtbot.mouseClick(panel.copy_message, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == PINE.format(SECRET)
    assert panel.steps.done[2]
    assert SECRET not in panel.message.toPlainText()  # copying never shows it

    pick(qtbot, panel.coming_from.combo, "tvdesk (JSON)")
    assert json.loads(panel.message.toPlainText())["secret"] == MASK
    assert panel.strategy.isEnabled()


async def test_each_product_copies_its_own_format_with_the_real_secret(window, qtbot):
    panel = window.connect_panel
    combo = panel.coming_from.combo
    copied = {}
    for index in range(combo.count()):
        pick(qtbot, combo, combo.itemText(index))
        assert SECRET not in panel.message.toPlainText()
        qtbot.mouseClick(panel.copy_message, Qt.MouseButton.LeftButton)
        copied[combo.itemText(index)] = QGuiApplication.clipboard().text()
    assert json.loads(copied["OKX Signal Bot"])["signalToken"] == SECRET
    assert json.loads(copied["SignalBee"])["webhook_secret"] == SECRET
    assert f"TOKEN={SECRET}" in copied["OctoBot (KEY=VALUE)"].splitlines()
    assert copied["Autoview"].endswith(f" secret={SECRET}")
    assert copied["TradingView default message"].splitlines()[0] == SECRET
    assert len(set(copied.values())) == combo.count()
