"""Coins and contracts on a perpetual: tvdesk counts in coins, ccxt's orders in contracts.

A market's ``contractSize`` says how many coins one contract is (OKX BTC-USDT-SWAP 0.01,
Gate BTC_USDT 0.0001, KuCoin XBTUSDTM 0.001, Binance USDⓈ-M and Bybit 1). Sizes, positions
and values stay in coins everywhere in tvdesk; they become contracts only on the way to ccxt
(``in_contracts``) and come back as coins from every order reply (``in_coins``).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from tvdesk.core.decimals import plain

_AMOUNTS = ("amount", "filled", "remaining")


def contract_size(market: dict[str, Any] | None) -> Decimal | None:
    """Coins per contract on a contract market; None on spot (amounts are coins there)."""
    if not market or not market.get("contract"):
        return None
    try:
        size = Decimal(str(market.get("contractSize")))
    except InvalidOperation:
        return None
    return size if size.is_finite() and size > 0 else None


def in_contracts(market: dict[str, Any] | None, coins: Decimal) -> Decimal:
    """What ccxt's ``amount`` is for ``coins`` on this market."""
    size = contract_size(market)
    return coins / size if size is not None else coins


def in_coins(market: dict[str, Any] | None, order: dict[str, Any]) -> dict[str, Any]:
    """ccxt's order with its amounts in coins (it reports contracts on a contract market)."""
    size = contract_size(market)
    if size is None or size == 1:
        return order
    out = dict(order)
    for key in _AMOUNTS:
        if out.get(key) is not None:
            out[key] = str(Decimal(str(out[key])) * size)
    return out


def both(market: dict[str, Any] | None, coins: Decimal, base: str) -> str:
    """``0.01 BTC (1 contract)`` on a contract market, ``0.01 BTC`` elsewhere."""
    text = f"{plain(coins)} {base}"
    size = contract_size(market)
    if size is None:
        return text
    n = in_contracts(market, coins)
    return f"{text} ({plain(n)} contract{'' if n == 1 else 's'})"
