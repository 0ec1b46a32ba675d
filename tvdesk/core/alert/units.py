"""The unit of an alert's size. A unit field (``quantityType``, ``currency_type``,
``investmentType``...) says what the quantity counts; the size is then read as that, never
as coins when it says dollars.
"""

from tvdesk.core.alert.names import normalise
from tvdesk.core.alert.values import FieldError, show

BASE, CONTRACTS, QUOTE, PCT, PCT_POSITION = "base", "contracts", "quote", "pct", "pct_position"

# Normalised unit word -> what the quantity is. Only words the products document.
_UNITS = {
    **dict.fromkeys(("base", "coin", "fixedquantity"), BASE),  # TradersPost fixed_quantity
    **dict.fromkeys(("contract", "contracts"), CONTRACTS),
    # TradersPost dollar_amount, 3Commas quote, ...
    **dict.fromkeys(("quote", "dollaramount", "fixedquote", "usd", "usdt", "cost"), QUOTE),
    **dict.fromkeys(("percentage", "percent", "percentofbalance", "percentagebalance"), PCT),
    **dict.fromkeys(("percentofposition", "percentageposition"), PCT_POSITION),
}
_SUPPORTED = (
    "base (coins: base, coin, fixed_quantity), contracts, a quote amount (quote, "
    "dollar_amount, fixed_quote, usd, usdt, cost), a percent of the balance (percentage, "
    "percent, percent_of_balance) or, on a sell, of the position (percent_of_position)"
)
# What the quantity becomes for each unit: the Alert's sizing field.
SIZING_FIELD = {BASE: "qty", CONTRACTS: "qty", QUOTE: "notional", PCT: "qty_pct"}


def as_unit(key: str, value: object) -> str:
    word = normalise(value) if isinstance(value, str) else ""
    unit = _UNITS.get(word)
    if unit is None:
        raise FieldError(f"{key} {show(value)} is not a size unit tvdesk reads; use {_SUPPORTED}")
    return unit


def sizing_field(unit: str, side: str | None) -> str | None:
    """The sizing field a quantity in ``unit`` fills; None when it cannot (a buy of a
    percent of the position, which tvdesk's qty_pct reads as a percent of the balance)."""
    if unit == PCT_POSITION:
        return "qty_pct" if side == "sell" else None
    return SIZING_FIELD[unit]
