"""TradingView's exchange names to ccxt exchange ids, and the currencies an exchange spells
its own way.

TradingView writes the exchange as a ticker prefix (``GATEIO:BTCUSDT``) and in
``{{exchange}}``; ccxt knows the same exchange as ``gate``. A prefix that is a data feed
rather than an exchange (``INDEX``, ``CRYPTO``, ``CRYPTOCAP``, ``NASDAQ``) names no exchange.
"""

import functools
import re

# TradingView's name of an exchange → its ccxt id (``ccxt.exchanges``; a test keeps them in
# step). Only exchanges: a prefix missing here is read as a data feed, never as an exchange.
TRADINGVIEW_EXCHANGES: dict[str, str] = {
    "BINANCE": "binance",
    "BINANCEUS": "binanceus",
    "BINGX": "bingx",
    "BITFINEX": "bitfinex",
    "BITFLYER": "bitflyer",
    "BITGET": "bitget",
    "BITHUMB": "bithumb",
    "BITRUE": "bitrue",
    "BITSTAMP": "bitstamp",
    "BITVAVO": "bitvavo",
    "BLOFIN": "blofin",
    "BYBIT": "bybit",
    "COINBASE": "coinbase",
    "CRYPTOCOM": "cryptocom",
    "DERIBIT": "deribit",
    "GATEIO": "gate",
    "GEMINI": "gemini",
    "HTX": "htx",
    "HUOBI": "htx",  # Huobi's name until 2023
    "KRAKEN": "kraken",
    "KUCOIN": "kucoin",
    "MEXC": "mexc",
    "OKEX": "okx",  # OKX's name until 2022
    "OKX": "okx",
    "PHEMEX": "phemex",
    "POLONIEX": "poloniex",
    "UPBIT": "upbit",
    "WHITEBIT": "whitebit",
    "WOONETWORK": "woo",
}

# The ccxt ids themselves name the same exchanges ("GATE:BTCUSDT", "exchange": "gate").
_NAMES: dict[str, str] = {
    **{ccxt_id.upper(): ccxt_id for ccxt_id in TRADINGVIEW_EXCHANGES.values()},
    **TRADINGVIEW_EXCHANGES,
}

# An exchange's own code for a currency → the common code ccxt uses in market symbols.
CURRENCY_ALIASES: dict[str, dict[str, str]] = {
    "kraken": {"XBT": "BTC", "XDG": "DOGE"},
}

_NOT_ALNUM = re.compile(r"[^A-Z0-9]")


@functools.lru_cache(maxsize=1024)  # pure; bounded against invented names
def prefix_exchange(prefix: str | None) -> str | None:
    """The ccxt id a TradingView prefix names; None for a data feed or no prefix."""
    if not prefix:
        return None
    return _NAMES.get(_NOT_ALNUM.sub("", prefix.upper()))


def exchange_id(name: str) -> str:
    """The ccxt id of an exchange named in an alert or a setting: "GATEIO", "Gate.io" and
    "gate" are all ``gate``; a name the table doesn't know is kept, in lower case."""
    return prefix_exchange(name) or name.strip().lower()
