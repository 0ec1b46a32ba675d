"""How far an alert's price may be from the market, and what an order is worth for the limits.

An alert's ``price`` is only the alert's word: a template with a wrong placeholder (or a
leaked secret) could say 100 for a coin trading at 50,000 and slip an order worth 500 times
the limit past ``max_notional``. Orders are valued at the market's price instead, and an
alert whose price is far from it is refused. Pure: the engine hands the prices in.
"""

from __future__ import annotations

from decimal import Decimal

from tvdesk.core.decimals import plain


def grouped(value: Decimal) -> str:
    """A price the way a person reads it: ``50,000`` and ``0.00012``, never ``5E+4``."""
    return format(Decimal(plain(value)), ",")


def deviation_pct(price: Decimal, market: Decimal) -> Decimal:
    """How far ``price`` is from ``market``, in percent of the market price."""
    return abs(price - market) / market * 100


def deviation_refusal(
    price: Decimal, market: Decimal, max_pct: Decimal, *, exchange: str, symbol: str
) -> str | None:
    """The reason to refuse an alert priced too far from the market; None when it is close
    enough, or when the check is off (``max_pct`` 0) or the market price is unusable."""
    if max_pct <= 0 or market <= 0:
        return None
    off = deviation_pct(price, market)
    if off <= max_pct:
        return None
    shown = off.quantize(Decimal("0.1")) if off < 10_000 else off.to_integral_value()
    return (
        f"alert price {grouped(price)} is {grouped(shown)}% from the market price "
        f"{grouped(market)} on {exchange} {symbol} (max_price_deviation_pct "
        f"{plain(max_pct)}): check the alert's price placeholder (e.g. {{{{close}}}}) and "
        "the symbol map, or raise risk.max_price_deviation_pct (0 turns the check off)"
    )


def limit_value(limit: Decimal, market: Decimal) -> Decimal:
    """What a limit order is worth for the risk limits: the higher of its limit and the market.

    A buy commits up to its limit price (and crosses at the market when the limit is above
    it); a sell below the market fills at the market, above it at its limit. Either way the
    higher price never undervalues the order.
    """
    return max(limit, market)
