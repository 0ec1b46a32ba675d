"""Symbols panel, perpetual futures: a row's leverage and margin mode, and the [exchange]
defaults a blank cell falls back to, edited in the window, written to settings.toml with
the trader's comments kept, and obeyed by the next alert; bad values refused with the fix."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QComboBox, QStyleOptionViewItem

from tests.gui.helpers import decided_row, post_alert, until
from tests.kit.paper import paper_settings
from tvdesk.config.save import save_settings
from tvdesk.config.schema import Settings, SymbolRule
from tvdesk.gui.panels.symbol_rows import LEVERAGE, MARGIN

PERP = SymbolRule("BTCUSDT.P", "binance", "BTC/USDT:USDT")
SPOT = SymbolRule("ETHUSDT", "binance", "ETH/USDT")
MY_COMMENT = "# my perpetual row, keep this note"


@pytest.fixture
def settings() -> Settings:
    base = paper_settings()
    return replace(base, exchange=replace(base.exchange, auto_map="off"), symbols=[PERP, SPOT])


async def edit_cell(qtbot, table, row: int, column: int, text: str) -> None:
    """Double-click the cell, type (or clear it), press Enter: as a person edits a table.
    Qt commits an edit on Enter a moment later: wait for the cell to show it."""
    table.setCurrentCell(row, column)
    table.editItem(table.item(row, column))
    editor = QApplication.focusWidget()
    editor.selectAll()
    qtbot.keyClicks(editor, text) if text else qtbot.keyClick(editor, Qt.Key.Key_Delete)
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    await until(lambda: table.item(row, column).text() == text, what=f"the cell to read {text}")
    await closed(table, row, column)


async def choose_margin(qtbot, table, row: int, first_letter: str) -> None:
    """Open the margin-mode cell's list and pick an entry by its first letter."""
    table.setCurrentCell(row, MARGIN)
    table.editItem(table.item(row, MARGIN))
    editor = QApplication.focusWidget()
    assert isinstance(editor, QComboBox)
    assert [editor.itemText(i) for i in range(editor.count())] == [
        "default",
        "cross",
        "isolated",
    ]
    qtbot.keyClicks(editor, first_letter)
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    chosen = editor.currentText()
    await until(lambda: table.item(row, MARGIN).text() == chosen, what="the chosen mode")
    await closed(table, row, MARGIN)


async def closed(table, row: int, column: int) -> None:
    index = table.model().index(row, column)
    await until(lambda: table.indexWidget(index) is None, what="the cell's editor to close")


def shown(table, row: int, column: int) -> str:
    """The text the cell shows (an empty cell shows the default it falls back to)."""
    option = QStyleOptionViewItem()
    table.itemDelegate().initStyleOption(option, table.model().index(row, column))
    return option.text


async def trail_of(window, alert_id: str) -> str:
    record = await window.handle.call(lambda e: e.queries.alert(alert_id))
    return "\n".join(str(step.get("detail", "")) for step in record["trail"])


async def test_a_rows_leverage_and_margin_mode_reach_the_file_and_the_next_alert(
    window, session, qtbot
):
    settings_file = window.handle.paths.settings_file
    save_settings(window.handle.settings(), settings_file)  # a file the trader then annotated
    text = settings_file.read_text()
    settings_file.write_text(
        text.replace('symbol = "BTC/USDT:USDT"', f'symbol = "BTC/USDT:USDT" {MY_COMMENT}')
    )

    panel = window.symbols_panel
    window.tabs.setCurrentWidget(panel)
    table = panel.table
    assert table.horizontalHeaderItem(LEVERAGE).text() == "Leverage"
    assert shown(table, 0, LEVERAGE) == "default: exchange's own"
    await edit_cell(qtbot, table, 0, LEVERAGE, "2")
    await choose_margin(qtbot, table, 0, "i")
    assert table.item(0, MARGIN).text() == "isolated"
    assert panel.error.text() == ""
    qtbot.mouseClick(panel.save_button, Qt.MouseButton.LeftButton)
    await until(lambda: window.handle.settings().symbols[0].leverage == 2, what="the saved row")

    rule = window.handle.settings().symbols[0]
    assert (rule.leverage, rule.margin_mode) == (Decimal(2), "isolated")
    assert window.handle.settings().symbols[1] == SPOT  # the other row is as it was
    saved = settings_file.read_text()
    assert MY_COMMENT in saved and "# tvdesk settings." in saved
    row_text = saved.split('tv = "BTCUSDT.P"')[1].split("[[symbols]]")[0]
    assert "leverage = 2\n" in row_text and 'margin_mode = "isolated"' in row_text

    opened = await post_alert(
        session, window, symbol="BINANCE:BTCUSDT.P", qty="0.01", price="50000"
    )
    assert (await decided_row(window, opened["alert_id"])).outcome == "filled"
    trail = await trail_of(window, opened["alert_id"])
    assert "leverage 2×" in trail and "isolated margin" in trail


async def test_a_bad_leverage_is_refused_with_what_to_do(window, qtbot):
    panel = window.symbols_panel
    window.tabs.setCurrentWidget(panel)
    table = panel.table
    before = window.handle.settings()

    await edit_cell(qtbot, table, 1, LEVERAGE, "2")  # the spot row: said at once, before Save
    assert panel.error.text() == (
        "row 2 (ETHUSDT): ETH/USDT is a spot market, where leverage means nothing: clear it, "
        "or map to the perpetual (ETH/USDT:USDT)"
    )
    await edit_cell(qtbot, table, 1, LEVERAGE, "")
    assert panel.error.text() == ""

    await edit_cell(qtbot, table, 0, LEVERAGE, "two")
    assert 'row 1 (BTCUSDT.P): leverage "two" is not a number' in panel.error.text()
    await edit_cell(qtbot, table, 0, LEVERAGE, "10")  # the risk limit is 3×
    qtbot.mouseClick(panel.save_button, Qt.MouseButton.LeftButton)
    assert panel.error.text() == (
        "row 1 (BTCUSDT.P): leverage 10× is above the risk limit max_leverage 3×: lower it, "
        "or raise Max leverage on the Risk tab"
    )
    assert window.handle.settings().symbols == before.symbols
    assert not window.handle.paths.settings_file.exists()  # nothing was written

    # As the message says: raise Max leverage on the Risk tab, then the row saves.
    risk = window.risk_panel
    window.tabs.setCurrentWidget(risk)
    risk.inputs["max_leverage"].selectAll()
    qtbot.keyClicks(risk.inputs["max_leverage"], "10")
    qtbot.mouseClick(risk.apply, Qt.MouseButton.LeftButton)
    await until(lambda: window.handle.settings().risk.max_leverage == 10, what="the new limit")
    window.tabs.setCurrentWidget(panel)
    await until(lambda: panel.error.text() == "", what="the row to be fine under the new limit")
    qtbot.mouseClick(panel.save_button, Qt.MouseButton.LeftButton)
    await until(lambda: window.handle.settings().symbols[0].leverage == 10, what="the row")
    assert "max_leverage = 10" in window.handle.paths.settings_file.read_text()


async def test_the_exchange_defaults_are_edited_beside_the_map(window, session, qtbot):
    panel = window.symbols_panel
    window.tabs.setCurrentWidget(panel)
    defaults = panel.defaults
    qtbot.keyClicks(defaults.leverage, "5")
    qtbot.mouseClick(defaults.apply, Qt.MouseButton.LeftButton)
    await until(lambda: defaults.error.text(), what="the refusal")
    assert defaults.error.text() == (
        "Default: leverage 5× is above the risk limit max_leverage 3×: lower it, or raise "
        "Max leverage on the Risk tab"
    )
    assert window.handle.settings().exchange.leverage == 0

    defaults.leverage.selectAll()
    qtbot.keyClicks(defaults.leverage, "2")
    defaults.margin.setFocus()
    qtbot.keyClicks(defaults.margin, "c")  # cross
    defaults.position.setFocus()
    qtbot.keyClicks(defaults.position, "h")  # hedge
    qtbot.mouseClick(defaults.apply, Qt.MouseButton.LeftButton)
    await until(lambda: window.handle.settings().exchange.leverage == 2, what="the defaults")
    exchange = window.handle.settings().exchange
    assert (exchange.margin_mode, exchange.position_mode) == ("cross", "hedge")
    assert defaults.error.isHidden() and not defaults.apply.isEnabled()
    saved = window.handle.paths.settings_file.read_text()
    section = saved.split("[exchange]")[1].split("[paper]")[0]
    assert "leverage = 2 " in section and 'margin_mode = "cross"' in section
    assert "# perpetuals: set on the exchange before the first order;" in section
    # A row that leaves its leverage blank shows, and trades with, the default.
    assert shown(panel.table, 0, LEVERAGE) == "default: 2×"
    assert shown(panel.table, 0, MARGIN) == "default: cross"

    opened = await post_alert(
        session, window, symbol="BINANCE:BTCUSDT.P", qty="0.01", price="50000"
    )
    assert (await decided_row(window, opened["alert_id"])).outcome == "filled"
    trail = await trail_of(window, opened["alert_id"])
    assert "leverage 2×" in trail and "cross margin" in trail
