"""A TradingView ticker, read: its exchange prefix, base and quote, and its symbol-map key.

TradingView writes one market many ways (``BINANCE:BTCUSDT``, ``BTC-USDT``, ``btcusdt``,
OKX's ``BTC-USDT-SWAP``, ccxt's own ``BTC/USDT:USDT``), so tickers are compared by a
normalised key. A perpetual keeps its ``.P`` in that key: a spot row never catches a
perpetual alert, nor the other way round (DESIGN.md, ``[[symbols]]``).
"""

import functools
import re
from dataclasses import dataclass

from tvdesk.core.symbols.prefixes import CURRENCY_ALIASES, prefix_exchange

# Sorted longest first, so the first suffix that matches is the longest one ("BTCFDUSD" is
# quoted in FDUSD, not USD; "BTCUSDT" in USDT, not USD).
KNOWN_QUOTES: tuple[str, ...] = (
    "FDUSD",
    "USDT",
    "USDC",
    "BUSD",
    "TUSD",
    "DAI",
    "USD",
    "EUR",
    "GBP",
    "TRY",
    "BRL",
    "JPY",
    "AUD",
    "BTC",
    "ETH",
    "BNB",
)

_PERP_SUFFIXES = (".PERP", "-PERP", "_PERP", "PERP", "-SWAP", ".P")
_DELAYED_SUFFIXES = ("_DLY", "_DL")
_SEPARATORS = re.compile(r"[-/_]")
_PREFIX = re.compile(r"[A-Z0-9]+")
_CURRENCY = re.compile(r"[A-Z0-9]+")
# ccxt's own name of a perpetual: BASE/QUOTE:SETTLE ("BTC/USDT:USDT", "BTC/USD:BTC").
_CCXT_SWAP = re.compile(r"([A-Z0-9]+)/([A-Z0-9]+):([A-Z0-9]+)")


@dataclass(frozen=True)
class Ticker:
    raw: str  # as sent
    prefix: str | None  # the TradingView feed, "BINANCE" in "BINANCE:BTCUSDT"
    key: str  # what the symbol map compares: "BTCUSDT", or "BTCUSDT.P" for a perpetual
    perp: bool
    base: str | None  # in ccxt's common code: "BTC" for Kraken's "XBT"
    quote: str | None
    exchange: str | None = None  # the ccxt id the prefix names; None for a data feed
    settle: str | None = None  # a perpetual's settlement currency, when the ticker says it


def _strip_suffix(text: str, suffixes: tuple[str, ...]) -> tuple[str, bool]:
    for suffix in suffixes:
        if text.endswith(suffix) and len(text) > len(suffix):
            return text[: -len(suffix)], True
    return text, False


def _split(body: str, quotes: tuple[str, ...]) -> tuple[str | None, str | None]:
    parts = _SEPARATORS.split(body)
    if len(parts) == 2 and all(_CURRENCY.fullmatch(part) for part in parts):
        return parts[0], parts[1]
    joined = "".join(parts)
    if not _CURRENCY.fullmatch(joined):
        return None, None
    found = [q for q in quotes if joined.endswith(q) and len(joined) > len(q)]
    # The longest quote first (BTCFDUSD is BTC/FDUSD), unless it leaves a base of under
    # three letters while a shorter one doesn't: DOTUSD is DOT/USD, not DO/TUSD.
    found.sort(key=lambda q: (len(joined) - len(q) >= 3, len(q)), reverse=True)
    if found:
        return joined[: -len(found[0])], found[0]
    return None, None


# Cached: every alert's ticker, and every symbol-map row's, is read on the worker's path.
# What it reads by is fixed (the tables above), so nothing a settings or markets reload
# changes can make a cached Ticker stale. Bounded against a flood of invented tickers.
@functools.lru_cache(maxsize=4096)
def normalise(ticker: str, exchange: str | None = None) -> Ticker:
    """The parts of a TradingView ticker and its symbol-map key.

    Currencies are read in the spelling of the exchange the prefix names, else of
    ``exchange`` (the ccxt id the alert trades on): Kraken's ``XBTUSD`` is BTC/USD.
    """
    text = ticker.strip().upper()
    prefix = None
    head, colon, rest = text.partition(":")
    if colon and _PREFIX.fullmatch(head):
        prefix, text = head, rest
    named = prefix_exchange(prefix)
    aliases = CURRENCY_ALIASES.get(named or exchange or "", {})
    settle = None
    perp = False
    ccxt_swap = _CCXT_SWAP.fullmatch(text)
    if ccxt_swap:
        text, settle, perp = f"{ccxt_swap[1]}/{ccxt_swap[2]}", ccxt_swap[3], True
    # Feed and contract suffixes come in either order ("BTCUSDT.P", "BTCUSDT_DL").
    while True:
        text, delayed = _strip_suffix(text, _DELAYED_SUFFIXES)
        text, is_perp = _strip_suffix(text, _PERP_SUFFIXES)
        perp = perp or is_perp
        if not (delayed or is_perp):
            break
    own_quotes = tuple(code for code, common in aliases.items() if common in KNOWN_QUOTES)
    base, quote = _split(text, KNOWN_QUOTES + own_quotes)
    return Ticker(
        raw=ticker,
        prefix=prefix,
        key=_SEPARATORS.sub("", text) + (".P" if perp else ""),
        perp=perp,
        base=aliases.get(base, base) if base else None,
        quote=aliases.get(quote, quote) if quote else None,
        exchange=named,
        settle=aliases.get(settle, settle) if settle else None,
    )
