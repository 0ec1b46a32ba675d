"""Paper perpetual futures: one market's position as the exchange keeps it, in Decimal.

A position is signed (below 0 a short) with its average entry price and its leverage (1×
unless an order said otherwise). Its isolated margin, |qty| × entry / leverage, is held
from the settle currency. Every fill pays its fee (notional × fee rate, in the settle
currency) when it fills, and that fee is realised P&L at once; a reduction realises
(exit − entry) × the qty closed (a short: entry − exit) at the average entry price, and
gives back that share of the margin. A fill larger than the position reverses it in one
order: the closing part realises its P&L, the rest opens at the fill price. A reduction
never changes the position's leverage; an order that opens or adds sets it for the whole
position. An order whose opening part needs more margin (plus its fee) than is free,
counting what its closing part gives back, is refused with the numbers.

The liquidation price is an estimate (isolated margin, no funding, no fees): the price at
which the margin plus the unrealised P&L falls to the maintenance margin, a
``MAINTENANCE_MARGIN_RATE`` (0.5%) share of the position's value at that price. With m the
margin per coin held:

    long:  (entry − m) / (1 − 0.005)        short: (entry + m) / (1 + 0.005)

so a 1× long (m = entry) is never liquidated (None).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from tvdesk.core.decimals import plain

ZERO = Decimal(0)
ONE = Decimal(1)
MAINTENANCE_MARGIN_RATE = Decimal("0.005")


class MarginShort(Exception):
    """The order needs more margin than is free; str(e) gives the numbers and the fix."""


@dataclass
class PerpPosition:
    qty: Decimal = ZERO  # signed: below 0 is a short
    entry: Decimal = ZERO  # average entry price, fees not in it
    leverage: Decimal = ONE
    margin: Decimal = ZERO  # held from the settle currency
    realized_pnl: Decimal = ZERO  # net of fees, in the settle currency

    @property
    def side(self) -> str:
        return "long" if self.qty > 0 else "short" if self.qty < 0 else "flat"

    def unrealized(self, mark: Decimal) -> Decimal:
        """What closing at ``mark`` would realise, before the closing fee."""
        return (mark - self.entry) * self.qty

    def liquidation(self) -> Decimal | None:
        """The estimated liquidation price (module docstring); None when flat or never."""
        if self.qty == 0:
            return None
        per_coin = self.margin / abs(self.qty)
        if self.qty > 0:
            price = (self.entry - per_coin) / (ONE - MAINTENANCE_MARGIN_RATE)
            return price if price > 0 else None
        return (self.entry + per_coin) / (ONE + MAINTENANCE_MARGIN_RATE)


@dataclass(frozen=True)
class PerpFill:
    """What one fill does: the position after it and how the settle balance moves."""

    position: PerpPosition
    realized: Decimal  # the closing part's P&L minus the whole fee
    margin_change: Decimal  # above 0: more margin held; below 0: margin given back
    closed: Decimal  # the qty that reduced the position
    opened: Decimal  # the qty that opened or added


def perp_fill(
    position: PerpPosition,
    *,
    side: str,
    qty: Decimal,
    price: Decimal,
    fee: Decimal,
    leverage: Decimal | None,
    free: Decimal,
    symbol: str,
    settle: str,
) -> PerpFill:
    """Fill ``side qty @ price`` against ``position`` (left unchanged); ``free`` is the settle
    currency's free balance. Raises ``MarginShort`` when the opening part cannot be held."""
    if leverage is not None and not (leverage.is_finite() and leverage > 0):
        raise MarginShort(f"leverage must be more than 0, not {plain(leverage)}")
    held = position.qty
    direction = ONE if side == "buy" else -ONE
    reduces = held != 0 and (held > 0) != (direction > 0)
    closed = min(qty, abs(held)) if reduces else ZERO
    opened = qty - closed

    pnl = ZERO
    after = replace(position)
    if closed:
        pnl = (price - position.entry) * closed * (ONE if held > 0 else -ONE)
        after.qty = held + direction * closed
        after.margin = position.margin * abs(after.qty) / abs(held)
        if after.qty == 0:
            after.entry, after.margin = ZERO, ZERO
    if opened:
        before = abs(after.qty)
        after.leverage = leverage or (position.leverage if held else ONE)
        after.entry = (before * after.entry + opened * price) / (before + opened)
        after.qty += direction * opened
        after.margin = abs(after.qty) * after.entry / after.leverage
    margin_change = after.margin - position.margin
    if opened:
        available = free + pnl - min(margin_change, ZERO)
        needed = max(margin_change, ZERO) + fee
        if needed > available:
            raise MarginShort(
                f"insufficient {settle} margin: {side} {plain(qty)} {symbol} at "
                f"{plain(after.leverage)}× holds {_money(max(margin_change, ZERO))} {settle} "
                f"margin plus a fee of {_money(fee)}, {_money(available)} {settle} is free: "
                f"lower the qty, raise the leverage, or add {settle} to the paper balances"
            )
    after.realized_pnl = position.realized_pnl + pnl - fee
    return PerpFill(after, pnl - fee, margin_change, closed, opened)


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"
