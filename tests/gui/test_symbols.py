"""Symbols panel: rows added in the window map the next alert; resolve; auto-mapped pairs."""

from __future__ import annotations

from dataclasses import replace

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from tests.gui.helpers import decided_row, post_alert, until
from tests.kit.paper import paper_settings
from tvdesk.config.schema import Settings


@pytest.fixture
def settings() -> Settings:
    base = paper_settings()
    return replace(base, exchange=replace(base.exchange, auto_map="off"))


def edit_cell(qtbot, table, row: int, column: int, text: str) -> None:
    """Double-click the cell, type, press Enter: as a person edits a table."""
    table.setCurrentCell(row, column)
    table.editItem(table.item(row, column))
    editor = QApplication.focusWidget()
    editor.selectAll()
    qtbot.keyClicks(editor, text)
    qtbot.keyClick(editor, Qt.Key.Key_Return)


async def test_adding_a_symbol_row_maps_the_next_alert(window, session, qtbot):
    unmapped = await post_alert(session, window, symbol="BINANCE:ETHUSDT", qty="0.1", price="3000")
    row = await decided_row(window, unmapped["alert_id"])
    assert row.outcome == "rejected" and "no symbol map row" in row.reason

    panel = window.symbols_panel
    window.tabs.setCurrentWidget(panel)
    qtbot.mouseClick(panel.add, Qt.MouseButton.LeftButton)
    assert panel.table.rowCount() == 1
    assert panel.table.item(0, 1).text() == "binance"  # the default exchange, pre-filled
    edit_cell(qtbot, panel.table, 0, 0, "ETHUSDT")
    edit_cell(qtbot, panel.table, 0, 2, "ETH/USDT")
    edit_cell(qtbot, panel.table, 0, 3, "2")
    qtbot.mouseClick(panel.save_button, Qt.MouseButton.LeftButton)
    await until(lambda: window.handle.settings().symbols, what="the saved symbol map")
    rule = window.handle.settings().symbols[0]
    assert (rule.tv, rule.exchange, rule.symbol, str(rule.qty_multiplier)) == (
        "ETHUSDT",
        "binance",
        "ETH/USDT",
        "2",
    )
    assert 'symbol = "ETH/USDT"' in window.handle.paths.settings_file.read_text()

    mapped = await post_alert(session, window, symbol="BINANCE:ETHUSDT", qty="0.1", price="3000")
    row = await decided_row(window, mapped["alert_id"])
    assert row.outcome == "filled" and "0.2 ETH/USDT" in row.reason  # ×2 multiplier


async def test_a_row_without_a_market_symbol_is_not_saved(window, qtbot):
    panel = window.symbols_panel
    qtbot.mouseClick(panel.add, Qt.MouseButton.LeftButton)
    edit_cell(qtbot, panel.table, 0, 0, "SOLUSDT")
    qtbot.mouseClick(panel.save_button, Qt.MouseButton.LeftButton)
    await until(lambda: panel.error.text(), what="the error")
    assert "row 1" in panel.error.text()
    assert window.handle.settings().symbols == []


async def test_resolve_shows_what_a_ticker_would_trade(window, qtbot):
    panel = window.symbols_panel
    qtbot.keyClicks(panel.ticker, "BINANCE:ETHUSDT")
    qtbot.mouseClick(panel.resolve_button, Qt.MouseButton.LeftButton)
    await until(lambda: panel.result.text(), what="the resolve result")
    assert panel.result.text().startswith("✗") and "no symbol map row" in panel.result.text()

    await window.handle.call(
        lambda e: e.update_settings(
            replace(e.settings, exchange=replace(e.settings.exchange, auto_map="always"))
        )
    )
    panel.result.clear()
    qtbot.keyClick(panel.ticker, Qt.Key.Key_Return)
    await until(lambda: panel.result.text(), what="the resolve result")
    assert "✓ BINANCE:ETHUSDT → ETH/USDT on binance" in panel.result.text()
    assert "auto-mapped" in panel.result.text()


@pytest.mark.parametrize("settings", [paper_settings()])
async def test_auto_mapped_pairs_wait_for_one_click_confirmation(window, session, qtbot, settings):
    traded = await post_alert(session, window, symbol="BINANCE:SOLUSDT", qty="1", price="100")
    assert (await decided_row(window, traded["alert_id"])).outcome == "filled"
    panel = window.symbols_panel
    panel.scan_pending()
    await until(lambda: panel.confirm.isEnabled(), what="an auto-mapped pair to confirm")
    assert panel.pending.item(0).text() == "BINANCE:SOLUSDT → SOL/USDT on binance"

    panel.pending.setCurrentRow(0)
    qtbot.mouseClick(panel.confirm, Qt.MouseButton.LeftButton)
    await until(lambda: window.handle.settings().symbols, what="the confirmed row")
    rule = window.handle.settings().symbols[0]
    assert (rule.tv, rule.symbol, rule.enabled) == ("BINANCE:SOLUSDT", "SOL/USDT", True)
    assert panel.table.rowCount() == 1
    await until(lambda: not panel.confirm.isEnabled(), what="the pending list to empty")
