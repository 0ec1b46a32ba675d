"""From a TradingView ticker to an exchange market: ticker forms (ticker), TradingView's
exchange names and currency spellings (prefixes), the symbol map and rules (resolve).
Standard library only."""

from tvdesk.core.symbols.prefixes import TRADINGVIEW_EXCHANGES, exchange_id, prefix_exchange
from tvdesk.core.symbols.resolve import (
    Mapping,
    MapRule,
    Market,
    Unmapped,
    pick_exchange,
    resolve,
    split_symbol,
)
from tvdesk.core.symbols.ticker import KNOWN_QUOTES, Ticker, normalise

__all__ = [
    "KNOWN_QUOTES",
    "TRADINGVIEW_EXCHANGES",
    "MapRule",
    "Mapping",
    "Market",
    "Ticker",
    "Unmapped",
    "exchange_id",
    "normalise",
    "pick_exchange",
    "prefix_exchange",
    "resolve",
    "split_symbol",
]
