"""An alert is mapped once: deciding takes the market routing found, unless the settings
were replaced (a reload) or the broker changed since, when it maps the symbol again."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from tvdesk.config.schema import Settings
from tvdesk.core.symbols import Mapping
from tvdesk.engine.job import Job

BTC = Mapping("binance", "BTC/USDT", "BTC", "USDT", Decimal(1), "table")


def test_deciding_takes_the_routing_only_from_the_same_settings_and_broker():
    job = Job("A1", {"symbol": "BTCUSDT", "side": "buy", "qty": "1"}, "127.0.0.1", 0.0)
    settings, broker, other_broker = Settings(), object(), object()
    assert job.routed(settings, broker) is None  # not routed yet: deciding maps it

    job.route(settings, broker, BTC)
    assert job.routed(settings, broker) is BTC
    # A reload replaces the settings object, even with equal contents: map again.
    assert job.routed(replace(settings), broker) is None
    assert job.routed(settings, other_broker) is None
