"""From a TradingView ticker to an exchange market: the symbol map, then rule-based mapping.

TradingView writes one market many ways (``BINANCE:BTCUSDT``, ``BTC-USDT``, ``btcusdt``), so
tickers are compared by a normalised key. A perpetual keeps its ``.P`` in that key: a spot row
never catches a perpetual alert, nor the other way round (DESIGN.md, ``[[symbols]]``).
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from tvdesk.core.decimals import plain

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

_PERP_SUFFIXES = (".PERP", "-PERP", "_PERP", "PERP", ".P")
_DELAYED_SUFFIXES = ("_DLY", "_DL")
_SEPARATORS = re.compile(r"[-/_]")
_PREFIX = re.compile(r"[A-Z0-9]+")
_CURRENCY = re.compile(r"[A-Z0-9]+")


@dataclass(frozen=True)
class Ticker:
    raw: str  # as sent
    prefix: str | None  # the TradingView feed, "BINANCE" in "BINANCE:BTCUSDT"
    key: str  # what the symbol map compares: "BTCUSDT", or "BTCUSDT.P" for a perpetual
    perp: bool
    base: str | None
    quote: str | None


def _strip_suffix(text: str, suffixes: tuple[str, ...]) -> tuple[str, bool]:
    for suffix in suffixes:
        if text.endswith(suffix) and len(text) > len(suffix):
            return text[: -len(suffix)], True
    return text, False


def _split(body: str) -> tuple[str | None, str | None]:
    parts = _SEPARATORS.split(body)
    if len(parts) == 2 and all(_CURRENCY.fullmatch(part) for part in parts):
        return parts[0], parts[1]
    joined = "".join(parts)
    if not _CURRENCY.fullmatch(joined):
        return None, None
    found = [q for q in KNOWN_QUOTES if joined.endswith(q) and len(joined) > len(q)]
    # The longest quote first (BTCFDUSD is BTC/FDUSD), unless it leaves a base of under
    # three letters while a shorter one doesn't: DOTUSD is DOT/USD, not DO/TUSD.
    found.sort(key=lambda q: (len(joined) - len(q) >= 3, len(q)), reverse=True)
    if found:
        return joined[: -len(found[0])], found[0]
    return None, None


def normalise(ticker: str) -> Ticker:
    """The parts of a TradingView ticker and its symbol-map key."""
    text = ticker.strip().upper()
    prefix = None
    head, colon, rest = text.partition(":")
    if colon and _PREFIX.fullmatch(head):
        prefix, text = head, rest
    perp = False
    # Feed and contract suffixes come in either order ("BTCUSDT.P", "BTCUSDT_DL").
    while True:
        text, delayed = _strip_suffix(text, _DELAYED_SUFFIXES)
        text, is_perp = _strip_suffix(text, _PERP_SUFFIXES)
        perp = perp or is_perp
        if not (delayed or is_perp):
            break
    base, quote = _split(text)
    key = _SEPARATORS.sub("", text) + (".P" if perp else "")
    return Ticker(raw=ticker, prefix=prefix, key=key, perp=perp, base=base, quote=quote)


@dataclass(frozen=True)
class MapRule:
    """One [[symbols]] row, as the engine hands it over from settings.SymbolRule."""

    tv: str
    exchange: str
    symbol: str
    qty_multiplier: Decimal = Decimal(1)
    enabled: bool = True


@dataclass(frozen=True)
class Mapping:
    exchange: str  # ccxt id, lower case
    symbol: str  # ccxt market symbol: "BTC/USDT", or "BTC/USDT:USDT" for a linear perpetual
    base: str
    quote: str
    qty_multiplier: Decimal
    source: str  # "table" | "auto"

    def describe(self, raw_ticker: str) -> str:
        """One line for the decision trail: "BINANCE:BTCUSDT.P → BTC/USDT:USDT ×1.0 (table)"."""
        return f"{raw_ticker} → {self.symbol} ×{_multiplier(self.qty_multiplier)} ({self.source})"


def _multiplier(value: Decimal) -> str:
    text = plain(value)
    return text if "." in text else text + ".0"


class Unmapped(Exception):
    """The ticker has no market to trade on; str(e) says why and how to map it."""


@dataclass(frozen=True)
class Market:
    """The part of a ccxt market that mapping needs."""

    symbol: str  # "BTC/USDT", "BTC/USDT:USDT"
    id: str  # the exchange's own id, e.g. "BTCUSDT"
    base: str
    quote: str
    swap: bool  # a perpetual swap (ccxt type "swap"); False for spot
    linear: bool = True


def _exact(raw: str, exchange: str, markets: Sequence[Market]) -> Mapping | None:
    """An alert that names a market by its exact ccxt symbol ("BTC/USDT") needs no mapping."""
    name = raw.rpartition(":")[2] if raw.count(":") == 1 and "/" not in raw.split(":")[0] else raw
    for market in markets:
        if market.symbol.upper() == name.upper():
            return Mapping(
                exchange=exchange,
                symbol=market.symbol,
                base=market.base,
                quote=market.quote,
                qty_multiplier=Decimal(1),
                source="exact",
            )
    return None


def _from_markets(
    ticker: Ticker, exchange: str, market_type: str, raw: str, markets: Sequence[Market]
) -> Mapping:
    """Resolve through the exchange's own market ids (binance ``BTCUSDT`` → ``BTC/USDT``)."""
    if ticker.perp and market_type != "swap":
        _auto(ticker, exchange, market_type, raw)  # raises the "never as spot" refusal
    want_swap = ticker.perp
    key = ticker.key.removesuffix(".P")
    kind = [m for m in markets if m.swap == want_swap and (m.linear or not want_swap)]
    found = [m for m in kind if m.id.upper().replace("-", "").replace("_", "") == key]
    if not found and ticker.base and ticker.quote:
        found = [m for m in kind if (m.base, m.quote) == (ticker.base, ticker.quote)]
    what = "perpetual" if want_swap else "spot"
    if not found:
        raise Unmapped(
            f"{exchange} has no {what} market for {raw}: check the ticker, or add a symbol "
            f"map row ({_row(ticker, exchange)})"
        )
    if len(found) > 1:
        listed = ", ".join(sorted(m.symbol for m in found))
        raise Unmapped(
            f"{raw} matches several {exchange} markets ({listed}): pick one with a symbol map row"
        )
    market = found[0]
    return Mapping(
        exchange=exchange,
        symbol=market.symbol,
        base=market.base,
        quote=market.quote,
        qty_multiplier=Decimal(1),
        source="auto",
    )


def _market(base: str, quote: str, perp: bool) -> str:
    return f"{base}/{quote}:{quote}" if perp else f"{base}/{quote}"


def _suggestion(ticker: Ticker) -> str:
    if ticker.base and ticker.quote:
        return _market(ticker.base, ticker.quote, ticker.perp)
    return "BASE/QUOTE:QUOTE" if ticker.perp else "BASE/QUOTE"


def _row(ticker: Ticker, exchange: str) -> str:
    return (
        f'[[symbols]] tv = "{ticker.key}", exchange = "{exchange}", '
        f'symbol = "{_suggestion(ticker)}"'
    )


def _from_rule(rule: MapRule, exchange: str, raw: str) -> Mapping:
    market = rule.symbol.strip().partition(":")[0]  # BASE/QUOTE[:SETTLE]
    base, slash, quote = market.partition("/")
    if not (slash and base and quote):
        raise Unmapped(
            f'the symbol map row for {raw} on {exchange} has symbol = "{rule.symbol}", which is '
            'not a ccxt market symbol: write it as BASE/QUOTE, like "BTC/USDT" '
            '(or "BTC/USDT:USDT" for a perpetual)'
        )
    return Mapping(
        exchange=exchange,
        symbol=rule.symbol.strip(),
        base=base.upper(),
        quote=quote.upper(),
        qty_multiplier=rule.qty_multiplier,
        source="table",
    )


def _auto(ticker: Ticker, exchange: str, market_type: str, raw: str) -> Mapping:
    if not (ticker.base and ticker.quote):
        raise Unmapped(
            f"cannot tell the base and quote currency of {raw} (no separator and no known "
            f"quote currency at its end): add a symbol map row ({_row(ticker, exchange)})"
        )
    if ticker.perp and market_type != "swap":
        raise Unmapped(
            f"{raw} is a perpetual contract but exchange.market_type is {market_type}: set "
            f'exchange.market_type = "swap" to trade it as '
            f"{_market(ticker.base, ticker.quote, True)}, or map it in the symbol map; "
            "a perpetual alert is never traded as spot"
        )
    return Mapping(
        exchange=exchange,
        symbol=_market(ticker.base, ticker.quote, ticker.perp),
        base=ticker.base,
        quote=ticker.quote,
        qty_multiplier=Decimal(1),
        source="auto",
    )


def resolve(
    ticker: str,
    *,
    exchange: str | None,
    default_exchange: str,
    rules: Sequence[MapRule],
    auto: bool,
    market_type: str = "spot",
    markets: Sequence[Market] | None = None,
) -> Mapping:
    """The market an alert's ticker trades on; Unmapped (with the fix) when there is none.

    The symbol map comes first and its first matching row wins; ``auto`` covers tickers the
    map does not list: through the exchange's own market ids when ``markets`` are loaded,
    else by rule (separators and known quote currencies).
    """
    raw = ticker.strip()
    target = (exchange or default_exchange).strip().lower()
    default = default_exchange.strip().lower()
    if target != default and all(rule.exchange.strip().lower() != target for rule in rules):
        raise Unmapped(
            f"the alert for {raw} names exchange {target}, which is neither the default "
            f"({default}) nor in the symbol map, and it is never sent elsewhere: drop "
            f'"exchange" from the alert to trade on {default}, or add a symbol map row '
            f'with exchange = "{target}"'
        )
    parsed = normalise(ticker)
    for rule in rules:
        if rule.exchange.strip().lower() != target or normalise(rule.tv).key != parsed.key:
            continue
        if not rule.enabled:
            raise Unmapped(
                f"{raw} is disabled in the symbol map (enabled = false): enable its row to trade it"
            )
        return _from_rule(rule, target, raw)
    if markets is not None:
        exact = _exact(raw, target, markets)
        if exact is not None:
            return exact
    if auto and markets is not None:
        return _from_markets(parsed, target, market_type, raw, markets)
    if auto:
        return _auto(parsed, target, market_type, raw)
    raise Unmapped(
        f"no symbol map row for {raw} on {target}: add one ({_row(parsed, target)}) "
        "or set exchange.auto_map"
    )
