"""An order made to fit a market: rounded to its steps, checked against its limits.

ccxt rounds (``amount_to_precision`` truncates, ``price_to_precision`` rounds) but does
not check a market's minimum order value, and an exchange that refuses says so in its
own codes. Checking here turns each violation into a sentence that names the limit and
the value, before anything is sent (outcome ``rejected``, DESIGN.md).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tvdesk.brokers.base import Refusal
from tvdesk.brokers.contracts import both, contract_size, in_contracts
from tvdesk.brokers.exchange import ExchangeClient, dec
from tvdesk.core.decimals import plain

# Binance's filter names, so the trail speaks the words its documentation uses.
_BINANCE = {
    "step": "LOT_SIZE step",
    "min_qty": "LOT_SIZE minQty",
    "max_qty": "LOT_SIZE maxQty",
    "tick": "PRICE_FILTER tick",
    "min_cost": "NOTIONAL minNotional",
}
_GENERIC = {
    "step": "amount step",
    "min_qty": "minimum amount",
    "max_qty": "maximum amount",
    "tick": "price tick",
    "min_cost": "minimum order value",
}


def _names(market: dict[str, Any]) -> dict[str, str]:
    info = market.get("info")
    filters = info.get("filters") if isinstance(info, dict) else None
    if not filters:
        return _GENERIC
    kinds = {f.get("filterType") for f in filters if isinstance(f, dict)}
    names = dict(_BINANCE)
    if "MIN_NOTIONAL" in kinds and "NOTIONAL" not in kinds:
        names["min_cost"] = "MIN_NOTIONAL minNotional"
    return names


def conform(
    client: ExchangeClient,
    market: dict[str, Any],
    side: str,
    order_type: str,
    qty: Decimal,
    price: Decimal | None,
) -> tuple[Decimal, Decimal | None, str]:
    """(amount in coins, price, a sentence for the trail); raises ``Refusal`` naming the limit.

    On a perpetual ccxt's amounts, steps and amount limits are contracts: ``qty`` (coins)
    is converted with the market's ``contractSize`` and the amount returned is in coins again.
    """
    api, symbol, exchange = client.api, market["symbol"], client.id
    quote = market["quote"]
    names = _names(market)
    if market.get("active") is False:
        raise Refusal(f"{symbol} is not trading on {exchange} now (market inactive)")
    if market.get("inverse"):
        raise Refusal(f"{symbol} is an inverse contract, which tvdesk does not trade")
    size = contract_size(market)
    base = "contracts" if size is not None else market["base"]  # the unit of ccxt's amounts
    step = client.step(market["precision"].get("amount"))
    amount = _round(api.amount_to_precision, symbol, in_contracts(market, qty))
    if (amount is None or amount <= 0) and size is not None:
        smallest = f"{plain(step * size)} {market['base']}" if step else "one contract"
        raise Refusal(
            f"{plain(qty)} {market['base']} is {plain(qty / size)} contracts of "
            f"{plain(size)} {market['base']} on {exchange} {symbol}: that rounds to 0 contracts; "
            f"raise the qty to at least {smallest}"
        )
    if amount is None or amount <= 0:
        raise Refusal(
            f"amount {plain(qty)} {base} rounds to 0 at {exchange}'s {names['step']} "
            f"{plain(step) if step else '?'} for {symbol}: raise the qty"
        )
    coins = amount * size if size is not None else amount
    notes = [_change("amount", qty, coins, names["step"], step)]
    if size is not None:
        notes[0] = f"{notes[0]}; {both(market, coins, market['base'])} of {plain(size)}"

    limits = market.get("limits") or {}
    low, high = _limit(limits, "amount", "min"), _limit(limits, "amount", "max")
    if low is not None and amount < low:
        raise Refusal(
            f"amount {plain(amount)} {base} is below {exchange}'s minimum {plain(low)} "
            f"for {symbol} ({names['min_qty']}): raise the qty"
        )
    if high is not None and high > 0 and amount > high:
        raise Refusal(
            f"amount {plain(amount)} {base} is above {exchange}'s maximum {plain(high)} "
            f"for {symbol} ({names['max_qty']}): lower the qty"
        )

    rounded_price = price
    if price is not None and order_type == "limit":
        tick = client.step(market["precision"].get("price"))
        rounded_price = _round(api.price_to_precision, symbol, price)
        if rounded_price is None or rounded_price <= 0:
            raise Refusal(f"price {plain(price)} {quote} rounds to 0 for {symbol} on {exchange}")
        notes.append(_change("price", price, rounded_price, names["tick"], tick))
        p_low, p_high = _limit(limits, "price", "min"), _limit(limits, "price", "max")
        if p_low is not None and rounded_price < p_low:
            raise Refusal(
                f"price {plain(rounded_price)} is below {exchange}'s minimum {plain(p_low)}"
                f" {quote} for {symbol}"
            )
        if p_high is not None and p_high > 0 and rounded_price > p_high:
            raise Refusal(
                f"price {plain(rounded_price)} is above {exchange}'s maximum "
                f"{plain(p_high)} {quote} for {symbol}"
            )

    min_cost = _limit(limits, "cost", "min")
    if rounded_price is None:
        notes.append("order value not checked (no price)")
    else:
        value = coins * rounded_price  # contracts × contractSize × price
        if min_cost is not None and value < min_cost:
            raise Refusal(
                f"order value {value:,.2f} {quote} ({plain(coins)} × {plain(rounded_price)}) is "
                f"below {exchange}'s minimum {plain(min_cost)} {quote} for {symbol} "
                f"({names['min_cost']}): raise the qty"
            )
        notes.append(f"value {value:,.2f} {quote}")
    return coins, rounded_price, "; ".join(notes)


def _round(method: Any, symbol: str, value: Decimal) -> Decimal | None:
    try:
        return dec(method(symbol, plain(value)))
    except Exception:  # ccxt raises when the value rounds to nothing
        return None


def _limit(limits: dict[str, Any], what: str, end: str) -> Decimal | None:
    return dec((limits.get(what) or {}).get(end))


def _change(what: str, before: Decimal, after: Decimal, name: str, step: Decimal | None) -> str:
    why = f"({name} {plain(step)})" if step else ""
    if before == after:
        return f"{what} {plain(after)} {why}".rstrip()
    return f"{what} {plain(before)} → {plain(after)} {why}".rstrip()
