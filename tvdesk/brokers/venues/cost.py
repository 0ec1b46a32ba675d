"""A spot market buy sized in the quote coin: its cost at the market price, within the limits.

Coinbase, Gate and Bitget (classic spot) take a market buy as "spend this much"; ccxt
refuses one without a price or a ``cost`` unless told otherwise. tvdesk sends the cost:
the amount asked for at the market price the engine read (the order's reference price,
never the alert's), truncated to the market's precision the way ccxt does, and checked
against the market's cost limits before anything is sent.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from tvdesk.brokers.errors import OrderRefused
from tvdesk.core.decimals import plain


def requires_cost(api: Any, market: dict[str, Any]) -> bool:
    """Whether ccxt wants a price or a cost for a market buy on this market."""
    if not market.get("spot"):
        return False
    options = api.options if isinstance(getattr(api, "options", None), dict) else {}
    nested = options.get("createOrder")
    flag = options.get("createMarketBuyOrderRequiresPrice")
    if flag is None and isinstance(nested, dict):
        flag = nested.get("createMarketBuyOrderRequiresPrice")
    return bool(flag)


def cost_params(
    api: Any, exchange: str, market: dict[str, Any], qty: Decimal, price: Decimal | None
) -> dict[str, Any]:
    """``{"cost": ...}`` for ccxt; raises ``OrderRefused`` naming the limit or the missing price."""
    symbol, quote = market.get("symbol", "?"), market.get("quote", "")
    if price is None or price <= 0:
        raise OrderRefused(
            f"{exchange} takes a market buy of {symbol} as an amount of {quote} to spend, and "
            "tvdesk has no market price to work it out: nothing was sent"
        )
    wanted = qty * price
    try:
        cost = Decimal(str(api.cost_to_precision(symbol, plain(wanted))))
    except (InvalidOperation, ValueError, TypeError):
        cost = Decimal(0)
    limits = (market.get("limits") or {}).get("cost") or {}
    low, high = _dec(limits.get("min")), _dec(limits.get("max"))
    said = f"{plain(qty)} × {plain(price)} = {plain(cost)} {quote}"
    if cost <= 0 or (low is not None and cost < low):
        raise OrderRefused(
            f"market buy of {symbol} on {exchange}: {said} is below the minimum order value "
            f"{plain(low or Decimal(0))} {quote}: raise the qty"
        )
    if high is not None and high > 0 and cost > high:
        raise OrderRefused(
            f"market buy of {symbol} on {exchange}: {said} is above the maximum order value "
            f"{plain(high)} {quote}: lower the qty"
        )
    return {"cost": float(cost)}


def _dec(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value is not None else None
    except InvalidOperation:
        return None
