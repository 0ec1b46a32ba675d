"""Perpetuals in the decision: an alert sized in contracts turned into coins, and the
terms its order goes with (reduce-only, leverage, margin mode; DESIGN.md "Perpetual futures").

Leverage: the alert's ``leverage`` (within ``risk.max_leverage``), else the symbol row's,
else ``[exchange] leverage``; 0 leaves the exchange's own. Margin mode: the row's, else
``[exchange] margin_mode``. An order is reduce-only when it only makes tvdesk's position
smaller (an exit, a flat, a flatten, a sell no bigger than the long held).

A reversal (a sell bigger than the long held, a buy bigger than the short) goes live as two
orders (brokers/reversal.py): the closing one reduce-only for exactly the size held, then
the opening one for the rest; ``PerpTerms.closes`` carries the size held. A limit reversal
is refused live (its closing part could rest while the opening one waits). Paper reverses
in one order, as the paper book fills it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from tvdesk.brokers.base import Broker
from tvdesk.config.schema import Settings, SymbolRule
from tvdesk.core.alert.fields import Alert
from tvdesk.core.decimals import plain
from tvdesk.core.sizing import SizingError
from tvdesk.core.symbols import Mapping, normalise
from tvdesk.engine.job import Trail

ZERO = Decimal(0)


class PerpRefused(Exception):
    """The alert asks for something the settings do not allow; str(e) names both."""


@dataclass(frozen=True)
class PerpTerms:
    reduce_only: bool = False
    leverage: Decimal | None = None
    margin_mode: str = ""
    closes: Decimal = ZERO  # a live reversal: the size held, closed reduce-only first

    def describe(self) -> str:
        parts = ["reduce-only" if self.reduce_only else "opens or adds"]
        if self.closes:
            parts[0] = (
                f"a reversal in two orders: {plain(self.closes)} reduce-only first, "
                "then the rest opens"
            )
        if self.leverage is not None:
            parts.append(f"leverage {plain(self.leverage)}×")
        if self.margin_mode:
            parts.append(f"{self.margin_mode} margin")
        return "perpetual: " + ", ".join(parts)


def is_perp(mapping: Mapping) -> bool:
    return ":" in mapping.symbol  # ccxt's settle currency: BTC/USDT:USDT


async def in_coins(alert: Alert, mapping: Mapping, broker: Broker, trail: Trail) -> Alert:
    """The alert with a size in contracts turned into coins (``qty_unit = "contracts"``)."""
    if alert.qty_unit != "contracts" or not is_perp(mapping):
        return alert
    ask = getattr(broker, "contract_size", None)
    size = await ask(mapping) if ask is not None else None
    if size is None:
        fix = "send the quantity in coins (qty_unit base)"
        if broker.mode == "paper":
            fix += ', or set [paper] price_source = "market" to read it from the exchange'
        raise SizingError(
            f"a size in contracts needs {mapping.symbol}'s contract size, which the "
            f"{broker.mode} broker does not know on {mapping.exchange}: {fix}"
        )

    def coins(value: Decimal | None) -> Decimal | None:
        return value * size if value is not None else None

    shown = alert.qty if alert.qty is not None else alert.target_position
    trail.add(
        "size",
        True,
        f"{plain(shown or ZERO)} contracts × {plain(size)} {mapping.base} = "
        f"{plain(coins(shown) or ZERO)} {mapping.base}",
    )
    return replace(
        alert, qty=coins(alert.qty), target_position=coins(alert.target_position), qty_unit="base"
    )


def perp_terms(
    alert: Alert,
    mapping: Mapping,
    settings: Settings,
    *,
    side: str,
    qty: Decimal,
    position_qty: Decimal,
    internal: bool,
    live: bool = False,
) -> PerpTerms:
    """What a perpetual's order goes with; raises ``PerpRefused``. Spot: plain terms."""
    if not is_perp(mapping):
        if alert.leverage is not None:
            raise PerpRefused(
                f"leverage {plain(alert.leverage)} is for perpetual futures, and "
                f"{mapping.symbol} is spot: remove it from the alert or map to the perpetual"
            )
        return PerpTerms()
    reduces = internal or (
        (side == "sell" and ZERO < qty <= position_qty)
        or (side == "buy" and ZERO < qty <= -position_qty)
    )
    row = _row(alert, mapping, settings.symbols, any_ticker=internal)
    margin_mode = (row.margin_mode if row is not None else "") or settings.exchange.margin_mode
    if internal:  # the kill switch's flatten changes nothing but the position...
        # ...which it closes in its margin mode (OKX: cross, ccxt's default, finds no
        # isolated position to reduce, and the flatten would be refused).
        return PerpTerms(reduce_only=True, margin_mode=margin_mode)
    closes = ZERO
    if live and not reduces and position_qty and (side == "sell") == (position_qty > 0):
        if alert.order_type != "market":
            raise PerpRefused(_limit_reversal(mapping, side, qty, position_qty))
        closes = abs(position_qty)
    cap = settings.risk.max_leverage
    if alert.leverage is not None and cap > 0 and alert.leverage > cap:
        raise PerpRefused(
            f"leverage {plain(alert.leverage)} in the alert is above risk.max_leverage "
            f"{plain(cap)}: lower the alert's leverage or raise risk.max_leverage"
        )
    leverage = alert.leverage
    if leverage is None and row is not None and row.leverage > 0:
        leverage = row.leverage
    if leverage is None and settings.exchange.leverage > 0:
        leverage = settings.exchange.leverage
    return PerpTerms(reduce_only=reduces, leverage=leverage, margin_mode=margin_mode, closes=closes)


def _limit_reversal(mapping: Mapping, side: str, qty: Decimal, position_qty: Decimal) -> str:
    now, then = ("long", "short") if position_qty > 0 else ("short", "long")
    held, base = abs(position_qty), mapping.base
    return (
        f"this limit {side} of {plain(qty)} {base} would turn tvdesk's {now} of "
        f"{plain(held)} {base} on {mapping.symbol} into a {then} of {plain(qty - held)} "
        f"{base}: live, a reversal goes as two orders, the closing one first, and a limit "
        "closing order could rest while the opening one waits; nothing was sent. Send it as "
        f"a market order, or an exit first and then the {then} as a limit"
    )


def _row(
    alert: Alert, mapping: Mapping, rules: list[SymbolRule], *, any_ticker: bool = False
) -> SymbolRule | None:
    """The symbol-map row this alert was mapped by, when it was (its own leverage).

    ``any_ticker``: the flatten, whose "ticker" is the exchange's symbol: the first enabled
    row on that market, whatever TradingView ticker it maps (``BTCUSDT`` or ``BTCUSDT.P``).
    """
    key = normalise(alert.symbol).key
    return next(
        (
            r
            for r in rules
            if r.enabled
            and (any_ticker or normalise(r.tv).key == key)
            and (r.exchange, r.symbol) == (mapping.exchange, mapping.symbol)
        ),
        None,
    )
