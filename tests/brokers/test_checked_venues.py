"""An exchange neither verified nor checked by the tests: not offered, warned about by hand."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from tests.kit.fake_binance import FakeBinance
from tests.kit.live import LiveDesk, live_settings
from tvdesk.brokers.venues import OFFERED
from tvdesk.core.events import ExchangeWarning
from tvdesk.gui.panels.secrets import EXCHANGES


async def test_an_untested_exchange_set_by_hand_gets_a_clear_warning(tmp_path: Path):
    async with FakeBinance() as fake:
        settings = live_settings(fake.url)
        by_hand = replace(settings, exchange=replace(settings.exchange, default="mexc"))
        desk = LiveDesk(tmp_path, fake, by_hand, api_key=None, secret=None)
        reason = await desk.engine.check_live()

    assert reason is not None and "TVDESK_MEXC_API_KEY" in reason  # still needs its keys
    (warning,) = [e for e in desk.events if isinstance(e, ExchangeWarning)]
    assert warning.exchange == "mexc"
    assert "neither verified nor checked" in warning.message
    assert "placed twice" in warning.message and "coinbase" in warning.message
    # The window offers only what the tests cover.
    assert "mexc" not in EXCHANGES and tuple(EXCHANGES) == OFFERED
