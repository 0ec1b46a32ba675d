"""The Positions panel on a LIVE perpetual: the exchange's mark, unrealised P&L, liquidation
price and leverage beside tvdesk's own position, its size in coins and contracts, and a line
under the table when the exchange holds another size than tvdesk's fills."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QTableWidget

from tests.brokers.test_live_positions import okx_swap_settings, tvdesk_bought
from tests.gui.helpers import child, close_window, until
from tests.gui.test_mode import live_dialog
from tests.gui.test_positions_perps import table_rows
from tests.kit.fake_okx import API_KEY, API_PASSWORD, API_SECRET
from tests.kit.fake_okx_positions import FakeOkxPositions
from tests.kit.live import FAST
from tests.kit.paper import SECRET
from tvdesk.config.keystore import WEBHOOK_SECRET, Keystore, service_name
from tvdesk.config.load import load_settings
from tvdesk.config.paths import resolve_paths
from tvdesk.config.save import save_settings
from tvdesk.gui.app import bring_up, build_window


async def test_a_live_perpetual_row_shows_the_exchange_figures_and_contracts(
    tmp_path, memory_keyring, qtbot
):
    data = tmp_path / "data"
    tvdesk_bought(data, "0.01", "50000")  # tvdesk's own fill, in its journal
    prices = {"BTC-USDT": "50000", "BTC-USDT-SWAP": "50000"}
    async with FakeOkxPositions(prices=prices) as fake:
        fake.hold("1", entry="50000", mark="51000", leverage="3", liquidation="33612.5")
        paths = resolve_paths(data)
        save_settings(okx_swap_settings(fake.url), paths.settings_file)
        keystore = Keystore(service_name(data))
        keystore.set(WEBHOOK_SECRET, SECRET)
        keystore.set("okx_api_key", API_KEY)
        keystore.set("okx_api_secret", API_SECRET)
        keystore.set("okx_api_password", API_PASSWORD)
        window = build_window(load_settings(paths.settings_file), keystore, paths, tunnel=False)
        window.handle._engine.live_tuning = FAST
        window.show()
        up = asyncio.ensure_future(bring_up(window))
        try:
            dialog = await until(live_dialog, timeout=30, what="the live question at start")
            qtbot.keyClicks(dialog.word, "LIVE")
            qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
            assert await up

            window.tabs.setCurrentWidget(window.positions_panel)
            panel = window.positions_panel
            table = child(window, QTableWidget, "positionsTable")

            def shown(mark: str) -> list[dict[str, str]] | None:
                panel.refresh()  # as the trader's look at the tab does
                rows = table_rows(table)
                return rows if rows and rows[0]["Mark"] == mark else None

            rows = await until(lambda: shown("51,000"), what="the exchange's mark")
            assert rows == [
                {
                    "Exchange": "okx",
                    "Symbol": "BTC/USDT:USDT",
                    "Side": "long",
                    "Size": "0.01 BTC (1 ct)",
                    "Entry": "50,000",
                    "Mark": "51,000",
                    "Unrealised P&L": "10.00",
                    "Realised P&L": "0.00",
                    "Leverage": "3×",
                    "Liquidation (est.)": "33,612.50",
                }
            ]
            tip = table.item(0, 0).toolTip()
            assert "okx holds long 0.01 BTC (1 ct)" in tip
            assert "liquidation 33,612.50 · leverage 3×" in tip
            notes = child(window, QLabel, "positionsNotes")
            assert notes.isHidden()
            assert "unrealised 10.00 at the mark" in child(window, QLabel, "pnlSummary").text()

            # The trader adds a contract by hand on OKX: tvdesk's row stays its own, and a
            # line under the table says what the exchange holds.
            fake.hold("2", entry="50500", mark="52000", liquidation="26000")
            rows = await until(lambda: shown("52,000"), what="the exchange's new mark")
            assert rows[0]["Size"] == "0.01 BTC (1 ct)"
            assert rows[0]["Unrealised P&L"] == "20.00"  # tvdesk's 0.01 at 52,000
            await until(lambda: not notes.isHidden(), what="the line under the table")
            assert "tvdesk's fills hold long 0.01 BTC, okx holds long 0.02 BTC (2 ct)" in (
                notes.text()
            )
            assert "okx holds long 0.02 BTC (2 ct)" in table.item(0, 3).toolTip()
        finally:
            await close_window(window)
