"""The price-deviation check and the value of a limit order (pure)."""

from __future__ import annotations

from decimal import Decimal

from tvdesk.core.pricing import deviation_refusal, limit_value

D = Decimal


def refusal(price: str, market: str, max_pct: str = "5") -> str | None:
    return deviation_refusal(D(price), D(market), D(max_pct), exchange="binance", symbol="BTC/USDT")


def test_an_alert_price_far_from_the_market_names_both_prices_and_the_setting():
    assert refusal("100", "50000") == (
        "alert price 100 is 99.8% from the market price 50,000 on binance BTC/USDT "
        "(max_price_deviation_pct 5): check the alert's price placeholder (e.g. {{close}}) "
        "and the symbol map, or raise risk.max_price_deviation_pct (0 turns the check off)"
    )
    assert "alert price 0.00012 is 88% from the market price 0.001 " in refusal("0.00012", "0.001")


def test_the_limit_is_inclusive_and_zero_turns_the_check_off():
    assert refusal("52500", "50000") is None  # exactly 5%
    assert refusal("47500", "50000") is None
    assert refusal("52501", "50000") is not None
    assert refusal("100", "50000", max_pct="0") is None


def test_a_limit_order_is_valued_at_the_higher_of_its_limit_and_the_market():
    assert limit_value(D("49000"), D("50000")) == D("50000")
    assert limit_value(D("51000"), D("50000")) == D("51000")
