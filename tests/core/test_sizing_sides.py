"""An alert's stated side is never turned into the opposite trade, and perpetuals may go
short (DESIGN.md "Perpetual futures"); spot stays as it was."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tvdesk.core.alert.fields import Alert
from tvdesk.core.sizing import Sizing, SizingError, size_order


def size(alert: Alert, *, held: str = "0", spot: bool = True, base_free: str = "1") -> Sizing:
    return size_order(
        alert,
        multiplier=D(1),
        price=D("50000"),
        quote_free=D("10000"),
        base_free=D(base_free) if spot else D(0),
        position_qty=D(held),
        base="BTC",
        quote="USDT",
        spot=spot,
    )


def flat(side: str) -> Alert:
    """``{"action": side, "quantity": "0.01", "sentiment": "flat"}`` as parsed."""
    return Alert("BTCUSDT", side, target_position=D(0), market_position="flat")


def test_a_buy_with_sentiment_flat_never_sells_a_long():
    with pytest.raises(SizingError) as refused:
        size(flat("buy"), held="0.01")
    assert str(refused.value) == (
        "buy with sentiment flat closes a short; the position is long 0.01 BTC: a buy alert "
        "never sells — send action exit/sell to close a long"
    )


def test_a_sell_with_sentiment_flat_never_buys_back_a_short():
    with pytest.raises(SizingError, match="a sell alert never buys"):
        size(flat("sell"), held="-0.01", spot=False)


def test_a_buy_with_a_lower_target_is_refused_naming_the_target():
    alert = Alert("BTCUSDT", "buy", target_position=D("0.005"))
    with pytest.raises(SizingError) as refused:
        size(alert, held="0.01")
    assert str(refused.value) == (
        "buy with target position 0.005 would sell: the position is long 0.01 BTC, and a buy "
        "alert never sells — send action sell (or exit) with that target"
    )


def test_an_alert_whose_side_agrees_with_its_target_trades_it():
    assert size(flat("buy"), held="-0.01", spot=False) == Sizing(
        "buy", D("0.01"), ("target 0, held -0.01 → buy 0.01",)
    )
    assert size(flat("sell"), held="0.01").side == "sell"
    with pytest.raises(SizingError, match="already there, nothing to trade"):
        size(flat("buy"), held="0")


def test_perpetuals_go_short_and_spot_still_cannot():
    sell = Alert("BTCUSDT.P", "sell", qty=D("0.01"))
    assert size(sell, spot=False) == Sizing("sell", D("0.01"))
    short = Alert("BTCUSDT.P", "sell", target_position=D("-0.01"), market_position="short")
    assert size(short, held="0.01", spot=False).qty == D("0.02")  # a reversal in one order
    with pytest.raises(SizingError, match="nothing to sell"):
        size(sell, base_free="0")
