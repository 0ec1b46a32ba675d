"""Sizing: an alert's size turned into a side and a quantity, with what it says about it."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

from tvdesk.core.alert.fields import Alert
from tvdesk.core.sizing import Sizing, size_order


def size(multiplier: str = "1", buy_cost: str = "1", **fields: Any) -> Sizing:
    alert = Alert(symbol="BTCUSDT", side=fields.pop("side", "buy"), **fields)
    return size_order(
        alert,
        multiplier=D(multiplier),
        price=D("3"),
        quote_free=D("900"),
        base_free=D("0"),
        position_qty=D("0"),
        base="BTC",
        quote="USDT",
        buy_cost=D(buy_cost),
    )


def test_a_notional_never_buys_more_than_it_is_worth():
    sizing = size(notional=D("500"))
    assert sizing.qty * 3 <= 500  # 500 / 3 rounded down, not up past the notional
    assert 500 - sizing.qty * 3 < D("1e-20")


def test_qty_pct_100_spends_the_balance_with_fees_and_slippage_included():
    sizing = size(qty_pct=D("100"), buy_cost="1.0015")
    assert sizing.qty * 3 * D("1.0015") <= 900
    assert 900 - sizing.qty * 3 * D("1.0015") < D("1e-20")
    assert sizing.notes == ("100% of 900 USDT, fees and slippage included",)


def test_the_symbol_map_multiplier_note_appears_only_where_it_applies():
    assert size(multiplier="2", qty=D("0.5")).notes == ("qty × 2 (symbol map) = 1.0",)
    assert size(multiplier="2", qty=D("0.5")).qty == 1
    assert size(multiplier="2", notional=D("300")).notes == ()
