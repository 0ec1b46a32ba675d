"""The P&L chart in the Positions tab: it says "No fills yet" only before the first fill, and
after one it draws P&L, the open positions' unrealised P&L at the mark included."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from PySide6.QtGui import QColor

from tests.gui.helpers import decided_row, post_alert, until
from tests.kit.paper import paper_settings
from tvdesk.config.schema import Settings
from tvdesk.gui.chart import UP, PnlChart


@pytest.fixture
def settings() -> Settings:
    s = paper_settings(max_notional=0)
    return replace(
        s,
        exchange=replace(s.exchange, market_type="swap"),
        paper=replace(s.paper, fee_rate=Decimal("0.001"), slippage_bps=Decimal(0)),
    )


def painted(chart: PnlChart, colour: QColor) -> int:
    """How many pixels of the chart show ``colour`` (antialiasing allowed for)."""
    image = chart.grab().toImage()
    count = 0
    for x in range(image.width()):
        for y in range(image.height()):
            c = QColor(image.pixel(x, y))
            rgb = ((c.red(), colour.red()), (c.green(), colour.green()), (c.blue(), colour.blue()))
            count += max(abs(a - b) for a, b in rgb) < 24
    return count


async def test_one_opening_fill_draws_pnl_with_the_unrealised_part(window, session, qtbot):
    panel = window.positions_panel
    window.tabs.setCurrentWidget(panel)
    panel.chart.resize(480, 220)
    panel.refresh()
    await until(lambda: panel.summary.text(), what="the P&L summary")
    assert panel.chart.message == PnlChart.NO_FILLS  # nothing traded yet

    opened = await post_alert(
        session, window, symbol="BINANCE:BTCUSDT.P", side="sell", qty="0.01", price="50000"
    )
    assert (await decided_row(window, opened["alert_id"])).outcome == "filled"
    marked = await post_alert(
        session, window, symbol="BINANCE:BTCUSDT.P", side="sell", qty="0.001", price="49000"
    )
    assert (await decided_row(window, marked["alert_id"])).outcome == "filled"
    panel.refresh()
    await until(lambda: panel.chart.total is not None, what="the chart with unrealised P&L")

    chart = panel.chart
    assert chart.message is None  # one or two opening fills: no "No fills yet"
    # Realised: the two fees (0.5 + 0.049); unrealised at the 49,000 mark: the short's
    # entry (0.01 × 50,000 + 0.001 × 49,000) / 0.011 less the mark, × 0.011 = 10.
    assert chart.points[-1][1] == pytest.approx(-0.549)
    assert chart.total[1] == pytest.approx(-0.549 + 10)
    assert chart.toolTip() == "Realised P&L now: -0.55 · with unrealised at the mark: 9.45"
    assert painted(chart, UP) > 20  # the dashed end up to now: a gain at the mark
