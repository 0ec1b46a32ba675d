"""A reversal on a live perpetual is decided as two orders (the size held closed first); a
limit one is refused with what to send instead; a sell within the long held stays
reduce-only; paper reverses in one order as before (tests/engine/test_paper_perps.py).
The orders themselves: tests/engine/test_live_reversal.py."""

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


def test_a_sell_bigger_than_the_long_is_a_reversal_closing_exactly_the_long_held():
    terms = live_terms("sell", "0.03", "0.01")
    # Two orders (brokers/reversal.py): 0.01 reduce-only first, then the 0.02 left opens.
    assert (terms.closes, terms.reduce_only) == (Decimal("0.01"), False)
    assert terms.describe() == (
        "perpetual: a reversal in two orders: 0.01 reduce-only first, then the rest opens"
    )


def test_a_buy_bigger_than_the_short_is_a_reversal_too():
    assert live_terms("buy", "0.03", "-0.01").closes == Decimal("0.01")


def test_a_limit_reversal_is_refused_live_naming_both_sizes():
    alert = Alert("BTCUSDT.P", "sell", qty=Decimal("0.03"), order_type="limit")
    with pytest.raises(PerpRefused) as refused:
        perp_terms(
            alert, PERP, Settings(), side="sell", qty=Decimal("0.03"),
            position_qty=Decimal("0.01"), internal=False, live=True,
        )  # fmt: skip
    reason = str(refused.value)
    assert reason.startswith(
        "this limit sell of 0.03 BTC would turn tvdesk's long of 0.01 BTC on BTC/USDT:USDT "
        "into a short of 0.02 BTC"
    )
    assert "nothing was sent" in reason and "Send it as a market order" in reason


def test_what_only_closes_or_opens_is_not_a_reversal():
    assert live_terms("sell", "0.01", "0.01").reduce_only  # closes the whole long
    assert live_terms("buy", "0.005", "-0.01").reduce_only
    assert not live_terms("sell", "0.02", "0").reduce_only  # a short from flat
    assert not live_terms("sell", "0.02", "-0.01").reduce_only  # adds to the short


def test_paper_still_reverses_in_one_order():
    terms = live_terms("sell", "0.02", "0.01", live=False)
    assert (terms.reduce_only, terms.closes) == (False, 0)
