"""A perpetual's order terms: the alert's leverage within risk.max_leverage, the symbol
row's and the exchange's defaults, and reduce-only on an order that only reduces."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from tvdesk.config.schema import Settings, SymbolRule
from tvdesk.core.alert.fields import Alert
from tvdesk.core.symbols import Mapping
from tvdesk.engine.derivatives import PerpRefused, perp_terms

PERP = Mapping("okx", "BTC/USDT:USDT", "BTC", "USDT", Decimal(1), "table")
SPOT = Mapping("binance", "BTC/USDT", "BTC", "USDT", Decimal(1), "table")


def terms(alert: Alert, settings: Settings, side="buy", qty="0.01", held="0", mapping=PERP):
    return perp_terms(
        alert,
        mapping,
        settings,
        side=side,
        qty=Decimal(qty),
        position_qty=Decimal(held),
        internal=False,
    )


def test_an_alert_leverage_above_max_leverage_is_refused_naming_both():
    alert = Alert("BTCUSDT.P", "buy", qty=Decimal("0.01"), leverage=Decimal(10))
    with pytest.raises(
        PerpRefused, match=r"leverage 10 in the alert is above risk\.max_leverage 3"
    ):
        terms(alert, Settings())


def test_the_alert_then_the_row_then_the_exchange_decide_the_leverage():
    s = Settings()
    s = replace(
        s,
        exchange=replace(s.exchange, leverage=Decimal(2), margin_mode="cross"),
        symbols=[SymbolRule("BTCUSDT.P", "okx", "BTC/USDT:USDT", leverage=Decimal(3))],
    )
    alert = Alert("BTCUSDT.P", "buy", qty=Decimal("0.01"))
    assert (terms(alert, s).leverage, terms(alert, s).margin_mode) == (3, "cross")
    assert terms(replace(alert, leverage=Decimal(1)), s).leverage == 1
    assert terms(replace(alert, symbol="ETHUSDT.P"), s).leverage == 2


def test_a_sell_within_the_long_held_is_reduce_only_and_a_bigger_one_is_not():
    alert = Alert("BTCUSDT.P", "sell", qty=Decimal("0.01"))
    assert terms(alert, Settings(), side="sell", held="0.02").reduce_only
    assert not terms(alert, Settings(), side="sell", qty="0.03", held="0.02").reduce_only
    assert terms(alert, Settings(), side="buy", held="-0.01").reduce_only
    assert not terms(alert, Settings(), side="buy", held="0.01").reduce_only


def test_leverage_on_a_spot_market_is_refused():
    alert = Alert("BTCUSDT", "buy", qty=Decimal("0.01"), leverage=Decimal(2))
    with pytest.raises(PerpRefused, match="BTC/USDT is spot"):
        terms(alert, Settings(), mapping=SPOT)


@pytest.mark.parametrize("tv", ["BTCUSDT", "BTCUSDT.P", "OKX:BTCUSDT.P"])
def test_the_flatten_closes_in_the_margin_mode_of_the_row_on_its_market_whatever_its_ticker(tv):
    """The kill switch's flatten names the exchange's symbol, not a TradingView ticker: it
    goes in the margin mode of the row trading that market (OKX refuses a cross close of
    an isolated position, and the flatten would fail)."""
    s = Settings()
    s = replace(
        s,
        exchange=replace(s.exchange, margin_mode="cross"),
        symbols=[SymbolRule(tv, "okx", "BTC/USDT:USDT", margin_mode="isolated")],
    )
    flatten = Alert("BTC/USDT:USDT", "sell", qty=Decimal("0.05"))
    got = perp_terms(
        flatten, PERP, s, side="sell", qty=Decimal("0.05"), position_qty=Decimal("0.05"),
        internal=True,
    )  # fmt: skip
    assert (got.reduce_only, got.margin_mode, got.leverage) == (True, "isolated", None)
