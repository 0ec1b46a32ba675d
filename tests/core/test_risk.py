"""The risk limits (DESIGN.md, [risk]): each at, just under and just over its bound."""

from dataclasses import fields
from decimal import Decimal as D

import pytest

from tvdesk.config.schema import RiskSettings
from tvdesk.core.risk import (
    ALLOWED,
    OrderIntent,
    RiskDecision,
    RiskLimits,
    RiskState,
    check,
    kill_switch,
)

MIDNIGHT = 1_699_920_000.0  # 2023-11-14T00:00:00Z
NOW = MIDNIGHT + 12 * 3600.0


def intent(
    qty: str = "1",
    price: str | None = "100",
    *,
    side: str = "buy",
    confidence: str | None = None,
    symbol: str = "BTC/USDT",
) -> OrderIntent:
    return OrderIntent(
        symbol=symbol,
        quote="USDT",
        side=side,
        qty=D(qty),
        price=None if price is None else D(price),
        confidence=None if confidence is None else D(confidence),
    )


def decide(order: OrderIntent, state: RiskState | None = None, **limits: object) -> RiskDecision:
    return check(order, RiskLimits(**limits), state or RiskState(), NOW)  # type: ignore[arg-type]


def refused(order: OrderIntent, state: RiskState | None = None, **limits: object) -> str:
    decision = decide(order, state, **limits)
    assert not decision.ok, decision
    assert decision.limit in limits, decision
    return decision.reason


def test_limits_mirror_the_settings():
    # The price deviation is checked in the price step (engine/pricing.py), which knows the
    # market price; an alert's leverage is checked with the order's terms
    # (engine/derivatives.py); every other risk setting is a limit of ``check``.
    priced = {"max_price_deviation_pct", "max_leverage"}
    settings = [f.name for f in fields(RiskSettings) if f.name not in priced]
    assert [f.name for f in fields(RiskLimits)] == settings


def test_no_limits_allow_everything():
    state = RiskState(
        position_qty=D(1000),
        orders_at=(NOW,) * 500,
        realized_pnl_today=D(-(10**9)),
        last_order_at=NOW,
    )
    assert decide(intent("1000000", "99999"), state) == ALLOWED
    assert (ALLOWED.ok, ALLOWED.limit, ALLOWED.reason) == (True, None, "")


# ---------------------------------------------------------------- kill switch


def test_the_kill_switch_refuses_first():
    decision = decide(
        intent("5", None),
        RiskState(realized_pnl_today=D(-500)),
        kill_switch=True,
        max_qty=D(1),
        max_notional=D(1),
        daily_loss_limit=D(1),
    )
    assert decision == RiskDecision(
        ok=False,
        limit="kill_switch",
        reason="the kill switch is on: no new orders until you resume",
    )


# ---------------------------------------------------------------- per-order size


@pytest.mark.parametrize(("qty", "ok"), [("1.49", True), ("1.5", True), ("1.51", False)])
def test_max_qty(qty, ok):
    decision = decide(intent(qty), max_qty=D("1.5"))
    assert decision.ok is ok
    if not ok:
        assert decision.limit == "max_qty"
        assert decision.reason == "qty 1.51 exceeds max_qty 1.5"


def test_max_qty_sentence_shows_plain_quantities():
    assert refused(intent("2"), max_qty=D("1.5")) == "qty 2 exceeds max_qty 1.5"
    assert refused(intent("0.00000200"), max_qty=D("0.000001")) == (
        "qty 0.000002 exceeds max_qty 0.000001"
    )


@pytest.mark.parametrize(("qty", "ok"), [("9.99", True), ("10", True), ("10.01", False)])
def test_max_notional(qty, ok):
    assert decide(intent(qty, "100"), max_notional=D(1000)).ok is ok


def test_max_notional_sentence():
    decision = decide(intent("12.5", "100"), max_notional=D(1000))
    assert decision == RiskDecision(
        ok=False,
        limit="max_notional",
        reason="order notional 1,250.00 USDT exceeds max_notional 1,000.00",
    )


def test_max_notional_needs_a_price():
    assert refused(intent(price=None), max_notional=D(1000)) == (
        'max_notional is set but the alert has no price to value the order: add "price": {{close}}'
    )
    assert decide(intent(price=None)).ok  # without the limit, no price is fine


# ---------------------------------------------------------------- position size


@pytest.mark.parametrize(
    ("position", "qty", "ok"),
    [("4", "0.99", True), ("4", "1", True), ("4", "1.01", False), ("0", "5.01", False)],
)
def test_max_position_notional_counts_the_position_after_the_order(position, qty, ok):
    state = RiskState(position_qty=D(position))
    assert decide(intent(qty, "200"), state, max_position_notional=D(1000)).ok is ok


def test_max_position_notional_sentence():
    state = RiskState(position_qty=D(4))
    assert refused(intent("2", "200"), state, max_position_notional=D(1000)) == (
        "position notional after the order 1,200.00 USDT exceeds max_position_notional 1,000.00"
    )


def test_max_position_notional_counts_shorts_by_size():
    state, swap = RiskState(position_qty=D(-4)), "BTC/USDT:USDT"
    limit = {"max_position_notional": D(1000)}
    assert not decide(intent("1.01", "200", side="sell", symbol=swap), state, **limit).ok
    assert decide(intent("1", "200", side="sell", symbol=swap), state, **limit).ok


def test_a_spot_sell_of_coins_held_before_tvdesk_opens_no_position():
    limit = {"max_position_notional": D(1000)}
    assert decide(intent("0.5", "50000", side="sell"), RiskState(), **limit).ok
    assert decide(intent("2", "50000", side="sell"), RiskState(position_qty=D(1)), **limit).ok


def test_an_order_that_shrinks_the_position_always_passes():
    state = RiskState(position_qty=D(10))  # 2,000 at 200: the price carried it over the limit
    assert decide(intent("1", "200", side="sell"), state, max_position_notional=D(1000)).ok
    assert decide(intent("1", None, side="sell"), state, max_position_notional=D(1000)).ok
    assert not decide(intent("0.01", "200"), state, max_position_notional=D(1000)).ok


def test_max_position_notional_needs_a_price_to_grow_the_position():
    assert refused(intent(price=None), max_position_notional=D(1000)) == (
        "max_position_notional is set but the alert has no price to value the order: "
        'add "price": {{close}}'
    )


# ---------------------------------------------------------------- order counts


@pytest.mark.parametrize(("count", "ok"), [(2, True), (3, False), (4, False)])
def test_max_orders_per_minute(count, ok):
    state = RiskState(orders_at=tuple(NOW - i for i in range(count)))
    decision = decide(intent(), state, max_orders_per_minute=3)
    assert decision.ok is ok
    if not ok:
        assert decision.limit == "max_orders_per_minute"
        assert decision.reason == (f"{count} orders in the last 60 s reach max_orders_per_minute 3")


def test_the_minute_window_rolls():
    state = RiskState(orders_at=(NOW - 60, NOW - 59.5, NOW - 30))
    assert decide(intent(), state, max_orders_per_minute=2).ok is False  # -59.5 and -30 count
    assert decide(intent(), state, max_orders_per_minute=3).ok  # exactly 60 s ago has left
    assert check(intent(), RiskLimits(max_orders_per_minute=2), state, NOW + 0.5).ok


def test_the_minute_window_reaches_across_midnight():
    state = RiskState(orders_at=(MIDNIGHT - 10, MIDNIGHT - 5))
    limits = RiskLimits(max_orders_per_minute=2, max_orders_per_day=3)
    assert check(intent(), limits, state, MIDNIGHT + 10).limit == "max_orders_per_minute"


@pytest.mark.parametrize(("count", "ok"), [(4, True), (5, False), (6, False)])
def test_max_orders_per_day(count, ok):
    state = RiskState(orders_at=tuple(MIDNIGHT + 600 * i for i in range(count)))
    decision = decide(intent(), state, max_orders_per_day=5)
    assert decision.ok is ok
    if not ok:
        assert decision.limit == "max_orders_per_day"
        assert decision.reason == f"{count} orders today (UTC) reach max_orders_per_day 5"


def test_the_day_resets_at_midnight_utc():
    state = RiskState(orders_at=(MIDNIGHT - 1, MIDNIGHT - 3600, MIDNIGHT))
    limits = RiskLimits(max_orders_per_day=2)
    assert check(intent(), limits, state, MIDNIGHT + 1).ok  # only the one at 00:00:00 counts
    assert not check(intent(), limits, state, MIDNIGHT - 0.5).ok  # before midnight: 2 that day
    full = RiskState(orders_at=(MIDNIGHT + 10, MIDNIGHT + 20))
    assert not check(intent(), limits, full, MIDNIGHT + 86_399).ok
    assert check(intent(), limits, full, MIDNIGHT + 86_400).ok


# ---------------------------------------------------------------- daily loss


@pytest.mark.parametrize(("pnl", "ok"), [("-499.99", True), ("-500", False), ("-500.01", False)])
def test_daily_loss_limit(pnl, ok):
    state = RiskState(realized_pnl_today=D(pnl))
    decision = decide(intent(), state, daily_loss_limit=D(500))
    assert decision.ok is ok
    if not ok:
        assert decision.limit == "daily_loss_limit"


def test_daily_loss_sentence_and_profit():
    state = RiskState(realized_pnl_today=D("-1234.5"))
    assert refused(intent(), state, daily_loss_limit=D(1000)).startswith(
        "today's realised loss 1,234.50 USDT reaches daily_loss_limit 1,000.00"
    )
    assert decide(intent(), RiskState(realized_pnl_today=D(5000)), daily_loss_limit=D(1)).ok


# ---------------------------------------------------------------- confidence


@pytest.mark.parametrize(("confidence", "ok"), [("0.59", False), ("0.6", True), ("0.61", True)])
def test_min_confidence(confidence, ok):
    decision = decide(intent(confidence=confidence), min_confidence=D("0.6"))
    assert decision.ok is ok
    if not ok:
        assert decision.limit == "min_confidence"
        assert decision.reason == "confidence 0.59 is below min_confidence 0.6"


def test_a_missing_confidence_is_refused_only_when_a_minimum_is_set():
    reason = refused(intent(), min_confidence=D("0.6"))
    assert reason.startswith("min_confidence is 0.6 but the alert has no confidence")
    assert decide(intent()).ok


# ---------------------------------------------------------------- cooldown


@pytest.mark.parametrize(("ago", "ok"), [(29.9, False), (30.0, True), (30.1, True)])
def test_cooldown(ago, ok):
    decision = decide(intent(), RiskState(last_order_at=NOW - ago), cooldown_s=30)
    assert decision.ok is ok
    if not ok:
        assert decision.limit == "cooldown_s"


def test_cooldown_sentence_and_first_order():
    reason = refused(intent(), RiskState(last_order_at=NOW - 12), cooldown_s=30)
    assert reason == (
        "the last order in BTC/USDT was 12 s ago, within cooldown_s 30: the next one may go in 18 s"
    )
    assert decide(intent(), RiskState(last_order_at=None), cooldown_s=30).ok


# ---------------------------------------------------------------- several limits


def test_the_first_broken_limit_is_reported():
    state = RiskState(realized_pnl_today=D(-100))
    decision = decide(intent("5"), state, daily_loss_limit=D(50), max_qty=D(1))
    assert decision.limit == "daily_loss_limit"
    assert decide(intent("5"), max_qty=D(1), max_notional=D(100)).limit == "max_qty"


# ---------------------------------------------------------------- exits


def test_an_exit_is_never_blocked_by_the_per_order_size_limits():
    # Holding 2 ETH, built by orders within the limits: selling them is one order of 6,200.
    held = RiskState(position_qty=D(2))
    exit_all = intent("2", "3100", side="sell", symbol="ETH/USDT")
    assert decide(exit_all, held, max_notional=D(5000), max_qty=D(1)).ok
    assert decide(intent("1", "3100", side="sell"), held, max_notional=D(1000)).ok
    # A short is left by buying, up to its size.
    short, swap = RiskState(position_qty=D(-3)), "ETH/USDT:USDT"
    assert decide(intent("3", "3100", symbol=swap), short, max_notional=D(5000), max_qty=D(1)).ok
    # Without a price the exit cannot be valued, and needs not be.
    assert decide(intent("2", None, side="sell"), held, max_notional=D(5000)).ok


def test_an_order_that_opens_anything_keeps_the_per_order_size_limits():
    held, limits = RiskState(position_qty=D(2)), {"max_notional": D(5000), "max_qty": D(5)}
    # Adding to the position, selling beyond it on spot, reversing a perpetual, from flat.
    assert refused(intent("2", "3100"), held, **limits).startswith("order notional 6,200.00")
    assert not decide(intent("2.01", "3100", side="sell"), held, **limits).ok
    reversal = intent("3", "3100", side="sell", symbol="ETH/USDT:USDT")
    assert refused(reversal, held, **limits).startswith("order notional 9,300.00")
    assert refused(intent("6", "1", side="sell"), RiskState(), **limits) == (
        "qty 6 exceeds max_qty 5"
    )


def test_an_exit_still_obeys_the_kill_switch_and_the_order_counts():
    held = RiskState(position_qty=D(2), orders_at=(NOW - 1,))
    exit_all = intent("2", "3100", side="sell")
    assert decide(exit_all, held, kill_switch=True).limit == "kill_switch"
    assert decide(exit_all, held, max_orders_per_minute=1).limit == "max_orders_per_minute"


def test_the_kill_switch_alone_says_whether_it_refuses():
    assert kill_switch(RiskLimits(max_qty=D(1), max_notional=D(1))) is None
    assert kill_switch(RiskLimits(kill_switch=True)) == RiskDecision(
        ok=False,
        limit="kill_switch",
        reason="the kill switch is on: no new orders until you resume",
    )
