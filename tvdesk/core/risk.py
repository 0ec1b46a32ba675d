"""The trader's risk limits, checked before every order (DESIGN.md, [risk]).

A limit of 0 means "no limit". A check that refuses names the settings key, its value and the
value that broke it, so the log says exactly which limit to raise or which alert to fix.
Landing exactly on a bound passes; a count that has reached its limit refuses the next order.

Each limit is one small function in ``_CHECKS``; a new limit is one more function there.
"""

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from tvdesk.core.decimals import plain

_MINUTE_S = 60
_DAY_S = 86_400


@dataclass(frozen=True)
class RiskLimits:
    """Mirror of settings.RiskSettings; 0 = no limit."""

    kill_switch: bool = False
    max_qty: Decimal = Decimal(0)
    max_notional: Decimal = Decimal(0)  # per order, quote currency
    max_position_notional: Decimal = Decimal(0)
    max_orders_per_minute: int = 0  # in any rolling 60 s
    max_orders_per_day: int = 0  # since 00:00 UTC
    daily_loss_limit: Decimal = Decimal(0)
    min_confidence: Decimal = Decimal(0)
    cooldown_s: int = 0  # per symbol


@dataclass(frozen=True)
class OrderIntent:
    symbol: str
    quote: str
    side: str  # buy | sell
    qty: Decimal
    price: Decimal | None  # the alert's price; None when it sent none
    confidence: Decimal | None = None


@dataclass(frozen=True)
class RiskState:
    """What the journal knows, filled in by the engine before each check."""

    position_qty: Decimal = Decimal(0)  # tvdesk-built position in intent.symbol
    # Placement times (unix s) of today's orders (UTC); orders from before midnight may be
    # included too, so the per-minute window sees across it; the per-day count ignores them.
    orders_at: tuple[float, ...] = ()
    realized_pnl_today: Decimal = Decimal(0)  # since 00:00 UTC, net of fees
    last_order_at: float | None = None  # last order in intent.symbol


@dataclass(frozen=True)
class RiskDecision:
    ok: bool
    limit: str | None  # the settings key that refused, e.g. "max_notional"
    reason: str  # "" when ok


ALLOWED = RiskDecision(ok=True, limit=None, reason="")

_NO_PRICE = 'but the alert has no price to value the order: add "price": {{close}}'


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


def _seconds(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def _refuse(limit: str, reason: str) -> RiskDecision:
    return RiskDecision(ok=False, limit=limit, reason=reason)


_Check = Callable[[OrderIntent, RiskLimits, RiskState, float], RiskDecision | None]


def kill_switch(limits: RiskLimits) -> RiskDecision | None:
    """The kill switch's refusal, or None when it is off.

    The engine asks this before anything else about an alert (its market, price and
    size), so that with the switch on the reason is the switch, never a lesser problem.
    """
    if limits.kill_switch:
        return _refuse("kill_switch", "the kill switch is on: no new orders until you resume")
    return None


def _kill_switch(
    intent: OrderIntent, limits: RiskLimits, state: RiskState, now: float
) -> RiskDecision | None:
    return kill_switch(limits)


def only_reduces(intent: OrderIntent, state: RiskState) -> bool:
    """Whether the order only makes tvdesk's position in its market smaller.

    A sell of at most a long position, or a buy of at most a short one: no part of it
    opens anything (a reversal, or a spot sell beyond the position, does).
    """
    held = state.position_qty
    if held == 0:
        return False
    if (intent.side == "sell") != (held > 0):
        return False
    return intent.qty <= abs(held)


def _daily_loss(
    intent: OrderIntent, limits: RiskLimits, state: RiskState, now: float
) -> RiskDecision | None:
    limit = limits.daily_loss_limit
    if limit and state.realized_pnl_today <= -limit:
        return _refuse(
            "daily_loss_limit",
            f"today's realised loss {_money(-state.realized_pnl_today)} {intent.quote} "
            f"reaches daily_loss_limit {_money(limit)}: no new orders until 00:00 UTC",
        )
    return None


def _orders_per_day(
    intent: OrderIntent, limits: RiskLimits, state: RiskState, now: float
) -> RiskDecision | None:
    limit = limits.max_orders_per_day
    day_start = now - now % _DAY_S
    count = sum(1 for at in state.orders_at if at >= day_start)
    if limit and count >= limit:
        return _refuse(
            "max_orders_per_day",
            f"{count} orders today (UTC) reach max_orders_per_day {limit}",
        )
    return None


def _orders_per_minute(
    intent: OrderIntent, limits: RiskLimits, state: RiskState, now: float
) -> RiskDecision | None:
    limit = limits.max_orders_per_minute
    count = sum(1 for at in state.orders_at if at > now - _MINUTE_S)
    if limit and count >= limit:
        return _refuse(
            "max_orders_per_minute",
            f"{count} orders in the last 60 s reach max_orders_per_minute {limit}",
        )
    return None


def _cooldown(
    intent: OrderIntent, limits: RiskLimits, state: RiskState, now: float
) -> RiskDecision | None:
    limit = limits.cooldown_s
    if not limit or state.last_order_at is None:
        return None
    elapsed = now - state.last_order_at
    if elapsed < limit:
        return _refuse(
            "cooldown_s",
            f"the last order in {intent.symbol} was {_seconds(elapsed)} s ago, within "
            f"cooldown_s {limit}: the next one may go in {_seconds(limit - elapsed)} s",
        )
    return None


def _confidence(
    intent: OrderIntent, limits: RiskLimits, state: RiskState, now: float
) -> RiskDecision | None:
    limit = limits.min_confidence
    if not limit:
        return None
    if intent.confidence is None:
        return _refuse(
            "min_confidence",
            f"min_confidence is {plain(limit)} but the alert has no confidence: add "
            '"confidence" to the alert, or set min_confidence = 0',
        )
    if intent.confidence < limit:
        return _refuse(
            "min_confidence",
            f"confidence {plain(intent.confidence)} is below min_confidence {plain(limit)}",
        )
    return None


# max_qty and max_notional size a new risk; an exit is never one. A position built by
# several orders within the limits (or carried over them by the price) must be able to
# leave in one order: blocking the exit would hold the trader in the trade.
def _max_qty(
    intent: OrderIntent, limits: RiskLimits, state: RiskState, now: float
) -> RiskDecision | None:
    if only_reduces(intent, state):
        return None
    if limits.max_qty and intent.qty > limits.max_qty:
        return _refuse(
            "max_qty", f"qty {plain(intent.qty)} exceeds max_qty {plain(limits.max_qty)}"
        )
    return None


def _max_notional(
    intent: OrderIntent, limits: RiskLimits, state: RiskState, now: float
) -> RiskDecision | None:
    limit = limits.max_notional
    if not limit or only_reduces(intent, state):
        return None
    if intent.price is None:
        return _refuse("max_notional", f"max_notional is set {_NO_PRICE}")
    notional = intent.qty * intent.price
    if notional > limit:
        return _refuse(
            "max_notional",
            f"order notional {_money(notional)} {intent.quote} exceeds "
            f"max_notional {_money(limit)}",
        )
    return None


def _max_position_notional(
    intent: OrderIntent, limits: RiskLimits, state: RiskState, now: float
) -> RiskDecision | None:
    limit = limits.max_position_notional
    if not limit:
        return None
    signed = intent.qty if intent.side == "buy" else -intent.qty
    after = abs(state.position_qty + signed)
    if intent.side == "sell" and ":" not in intent.symbol:
        # Spot: a sell never opens a short; beyond tvdesk's position it sells coins the
        # trader held before, which is no position of tvdesk's.
        after = max(state.position_qty - intent.qty, Decimal(0))
    # An order that shrinks the position always passes: a limit must never stop a trader
    # from reducing risk, even after the price carried the position over it.
    if after <= abs(state.position_qty):
        return None
    if intent.price is None:
        return _refuse("max_position_notional", f"max_position_notional is set {_NO_PRICE}")
    notional = after * intent.price
    if notional > limit:
        return _refuse(
            "max_position_notional",
            f"position notional after the order {_money(notional)} {intent.quote} exceeds "
            f"max_position_notional {_money(limit)}",
        )
    return None


# The kill switch first; then whatever stops all trading for a while, then this order's limits.
_CHECKS: tuple[_Check, ...] = (
    _kill_switch,
    _daily_loss,
    _orders_per_day,
    _orders_per_minute,
    _cooldown,
    _confidence,
    _max_qty,
    _max_notional,
    _max_position_notional,
)


def check(intent: OrderIntent, limits: RiskLimits, state: RiskState, now: float) -> RiskDecision:
    """The first limit the order breaks, or ALLOWED."""
    for rule in _CHECKS:
        decision = rule(intent, limits, state, now)
        if decision is not None:
            return decision
    return ALLOWED
