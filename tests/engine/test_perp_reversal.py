"""A reversal on a live perpetual is refused with the reason and what to send instead; a sell
within the long held stays reduce-only; paper reverses in one order as before
(tests/engine/test_paper_perps.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tvdesk.config.schema import Settings
from tvdesk.core.alert.fields import Alert
from tvdesk.core.symbols import Mapping
from tvdesk.engine.derivatives import PerpRefused, perp_terms

PERP = Mapping("okx", "BTC/USDT:USDT", "BTC", "USDT", Decimal(1), "table")


def live_terms(side: str, qty: str, held: str, *, live: bool = True):
    alert = Alert("BTCUSDT.P", side, qty=Decimal(qty))
    return perp_terms(
        alert,
        PERP,
        Settings(),
        side=side,
        qty=Decimal(qty),
        position_qty=Decimal(held),
        internal=False,
        live=live,
    )


def test_a_sell_bigger_than_the_long_is_refused_live_naming_both_sizes():
    with pytest.raises(PerpRefused) as refused:
        live_terms("sell", "0.02", "0.01")
    reason = str(refused.value)
    assert reason.startswith(
        "this sell of 0.02 BTC would turn tvdesk's long of 0.01 BTC on BTC/USDT:USDT "
        "into a short of 0.01 BTC"
    )
    assert "nothing was sent" in reason
    assert "Send an exit (market_position flat) first, then the short" in reason


def test_a_buy_bigger_than_the_short_is_refused_live():
    with pytest.raises(PerpRefused) as refused:
        live_terms("buy", "0.03", "-0.01")
    assert "turn tvdesk's short of 0.01 BTC on BTC/USDT:USDT into a long of 0.02 BTC" in str(
        refused.value
    )


def test_what_only_closes_or_opens_is_not_a_reversal():
    assert live_terms("sell", "0.01", "0.01").reduce_only  # closes the whole long
    assert live_terms("buy", "0.005", "-0.01").reduce_only
    assert not live_terms("sell", "0.02", "0").reduce_only  # a short from flat
    assert not live_terms("sell", "0.02", "-0.01").reduce_only  # adds to the short


def test_paper_still_reverses_in_one_order():
    assert not live_terms("sell", "0.02", "0.01", live=False).reduce_only
