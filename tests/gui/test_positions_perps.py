"""The Positions panel shows a paper short as the trader needs to see it: side, size, entry,
mark, unrealised and realised P&L, leverage and the estimated liquidation price."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from PySide6.QtWidgets import QLabel, QTableWidget

from tests.gui.helpers import child, decided_row, post_alert, until
from tests.kit.paper import paper_settings
from tvdesk.config.schema import Settings


@pytest.fixture
def settings() -> Settings:
    s = paper_settings(max_notional=0)
    return replace(
        s,
        exchange=replace(s.exchange, market_type="swap"),
        paper=replace(s.paper, fee_rate=Decimal("0.001"), slippage_bps=Decimal(0)),
    )


def table_rows(table: QTableWidget) -> list[dict[str, str]]:
    headers = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
    return [
        {headers[c]: table.item(r, c).text() for c in range(table.columnCount())}
        for r in range(table.rowCount())
    ]


async def test_a_short_shows_its_entry_mark_pnl_and_liquidation_estimate(window, session, qtbot):
    opened = await post_alert(
        session, window, symbol="BINANCE:BTCUSDT.P", side="sell", qty="0.01", price="50000"
    )
    assert (await decided_row(window, opened["alert_id"])).outcome == "filled"
    # A later alert's price marks the short: a small buy moves the mark to 48,000.
    marked = await post_alert(
        session, window, symbol="BINANCE:BTCUSDT.P", side="buy", qty="0.002", price="48000"
    )
    assert (await decided_row(window, marked["alert_id"])).outcome == "filled"

    window.tabs.setCurrentWidget(window.positions_panel)
    panel = window.positions_panel
    panel.refresh()
    table = child(window, QTableWidget, "positionsTable")
    rows = await until(lambda: table_rows(table), what="a row in the positions table")

    # The buy closed 0.002 of the short at 48,000: (50,000 − 48,000) × 0.002 = 4, fees
    # 0.5 + 0.096; the 0.008 left is worth (50,000 − 48,000) × 0.008 = 16 at the mark.
    assert rows == [
        {
            "Exchange": "binance",
            "Symbol": "BTC/USDT:USDT",
            "Side": "short",
            "Size": "0.008 BTC (0.008 ct)",  # Binance USDⓈ-M: 1 contract = 1 BTC
            "Entry": "50,000",
            "Mark": "48,000",
            "Unrealised P&L": "16.00",
            "Realised P&L": "3.40",
            "Leverage": "1×",
            "Liquidation (est.)": "99,502.49",  # (50,000 + 50,000) / 1.005
        }
    ]
    summary = child(window, QLabel, "pnlSummary").text()
    assert "realised P&L 3.40" in summary
    assert "unrealised 16.00 at the mark · total 19.40" in summary
