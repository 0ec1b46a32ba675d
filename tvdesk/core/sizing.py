"""How much to trade: an alert's sizing turned into a side and a quantity.

Four ways to size (DESIGN.md): a quantity, a quote amount (``notional``), a
percentage (``qty_pct``) and a target position (position sync). Spot can't
go short, and tvdesk never sells coins it did not buy itself when syncing to
a target. On a perpetual (``spot=False``) a position may be short: a sell from
flat opens one, a negative target (``market_position: short``) syncs to one, and
a close buys it back. An alert's stated side is never turned into the opposite
trade: a buy with a target it could only reach by selling is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Context, Decimal

from tvdesk.core.alert.fields import Alert

ZERO = Decimal(0)
_DOWN = Context(prec=28, rounding=ROUND_DOWN)  # a quote amount never buys more than it pays


class SizingError(Exception):
    """The alert cannot be turned into an order; the message says why and how to fix."""


@dataclass(frozen=True)
class Sizing:
    side: str  # buy | sell
    qty: Decimal
    notes: tuple[str, ...] = ()


def size_order(
    alert: Alert,
    *,
    multiplier: Decimal,
    price: Decimal | None,
    quote_free: Decimal,
    base_free: Decimal,
    position_qty: Decimal,
    base: str,
    quote: str,
    spot: bool = True,
    buy_cost: Decimal = Decimal(1),
    base_reserved: Decimal = ZERO,
) -> Sizing:
    """The order an alert asks for, given what is held now.

    ``buy_cost``: what buying for one unit of quote costs, fees and slippage in; a
    qty_pct buy spends its share of the balance with them included. ``base_reserved``:
    coins tvdesk's own resting sell orders hold, still part of its position.
    """
    # Contracts are for perpetuals (the engine turns them into coins with the market's
    # contract size before sizing); spot has none.
    if alert.qty_unit != "base" and (spot or alert.qty_unit != "contracts"):
        raise SizingError(
            f"a size in {alert.qty_unit} is for perpetual futures, and {base}/{quote} is spot: "
            "send the quantity in coins (qty_unit base)"
        )
    notes: list[str] = []
    if alert.sizing == "target":
        held = base_free + base_reserved
        side, qty = _to_target(alert, multiplier, held, position_qty, base, spot, notes)
        _same_side(alert, side, position_qty, base)
    else:
        side = alert.side or "buy"
        qty = _plain_qty(alert, multiplier, price, quote_free, position_qty, base, quote, buy_cost)
        if multiplier != 1 and alert.qty is not None:
            notes.append(f"qty × {multiplier} (symbol map) = {qty}")
        if alert.qty_pct is not None and side == "buy" and buy_cost != 1:
            notes.append(f"{alert.qty_pct}% of {quote_free} {quote}, fees and slippage included")
    if spot and side == "sell" and qty > base_free:
        held_back = (
            f"; {base_reserved} {base} is held by a resting sell order" if base_reserved else ""
        )
        if base_free <= ZERO:
            free = "free " if base_reserved else ""
            raise SizingError(f"nothing to sell: the account holds no {free}{base}{held_back}")
        notes.append(f"sell reduced from {qty} to the {base_free} {base} free (spot){held_back}")
        qty = base_free
    if qty <= ZERO:
        raise SizingError(f"the order size works out to {qty} {base}: nothing to trade")
    return Sizing(side, qty, tuple(notes))


def _plain_qty(
    alert: Alert,
    multiplier: Decimal,
    price: Decimal | None,
    quote_free: Decimal,
    position_qty: Decimal,
    base: str,
    quote: str,
    buy_cost: Decimal,
) -> Decimal:
    if alert.qty is not None:
        return alert.qty * multiplier
    if alert.notional is not None:
        if price is None:
            raise SizingError(
                f"notional {alert.notional} {quote} needs a price to convert to {base}: "
                'add "price": {{close}} to the alert'
            )
        # Rounded down: the order is never worth more than the notional asked for.
        return _DOWN.divide(alert.notional, price)
    assert alert.qty_pct is not None
    pct = alert.qty_pct / 100
    if alert.side == "sell":
        return position_qty * pct
    if price is None:
        raise SizingError(
            f'qty_pct of the {quote} balance needs a price: add "price": {{{{close}}}} to the alert'
        )
    return _DOWN.divide(quote_free * pct, price * buy_cost)


def _same_side(alert: Alert, side: str, position_qty: Decimal, base: str) -> None:
    """A buy alert never sells and a sell alert never buys, whatever its target says."""
    if alert.side not in ("buy", "sell") or alert.side == side:
        return
    held = (
        f"long {abs(position_qty)} {base}"
        if position_qty > ZERO
        else f"short {abs(position_qty)} {base}"
        if position_qty < ZERO
        else "flat"
    )
    never = "sells" if alert.side == "buy" else "buys"
    if alert.market_position == "flat":
        closes = "a short" if alert.side == "buy" else "a long"
        close_what = "a long" if alert.side == "buy" else "a short"
        raise SizingError(
            f"{alert.side} with sentiment flat closes {closes}; the position is {held}: "
            f"a {alert.side} alert never {never} — send action exit/{side} to close {close_what}"
        )
    wanted = f"target position {alert.target_position}"
    if alert.market_position is not None:
        wanted = f"sentiment {alert.market_position} and {wanted}"
    raise SizingError(
        f"{alert.side} with {wanted} would {side}: the position is {held}, and a "
        f"{alert.side} alert never {never} — send action {side} (or exit) with that target"
    )


def _to_target(
    alert: Alert,
    multiplier: Decimal,
    base_held: Decimal,
    position_qty: Decimal,
    base: str,
    spot: bool,
    notes: list[str],
) -> tuple[str, Decimal]:
    assert alert.target_position is not None
    target = alert.target_position * multiplier
    if spot and target < ZERO:
        notes.append(f"target {target} is short; spot can't go below 0, so the target is 0")
        target = ZERO
    # On spot, what tvdesk holds is capped by the coins really there (free or held back
    # for its own resting sells).
    held = min(position_qty, base_held) if spot else position_qty
    diff = target - held
    if diff == ZERO:
        raise SizingError(f"target {target}, held {held}: already there, nothing to trade")
    side = "buy" if diff > ZERO else "sell"
    notes.append(f"target {target}, held {held} → {side} {abs(diff)}")
    return side, abs(diff)
