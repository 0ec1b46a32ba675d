"""From a ticker to an exchange market: which exchange, then the symbol map, then rules or
the exchange's own market ids."""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from tvdesk.core.decimals import plain
from tvdesk.core.symbols.prefixes import exchange_id
from tvdesk.core.symbols.ticker import Ticker, normalise


def split_symbol(symbol: str) -> tuple[str, str]:
    """("BTC", "USDT") from the ccxt symbol "BTC/USDT" or "BTC/USDT:USDT"."""
    base, _, rest = symbol.partition("/")
    quote = rest.split(":", 1)[0]
    return base, quote


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
    source: str  # "table" | "auto" | "exact"

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


def pick_exchange(
    ticker: str, *, exchange: str | None, default_exchange: str, rules: Sequence[MapRule]
) -> str:
    """The ccxt id an alert trades on: its ``exchange`` field, else the exchange its ticker's
    prefix names, else the default; both names go through TradingView's table (GATEIO is gate).

    Unmapped when the alert names an exchange that is neither the default nor in the symbol
    map: it is never sent elsewhere. A prefix that is only the chart's feed (a symbol-map row
    lists the ticker on the default exchange) does not name one.
    """
    raw = ticker.strip()
    default = exchange_id(default_exchange)
    parsed = normalise(raw)
    mapped = {exchange_id(rule.exchange) for rule in rules}
    if exchange and exchange.strip():
        target, how = exchange_id(exchange), "names exchange"
    elif parsed.exchange is not None:
        target, how = parsed.exchange, f"is prefixed {parsed.prefix}:, which names exchange"
        on_default = (
            exchange_id(rule.exchange) == default and normalise(rule.tv, default).key == parsed.key
            for rule in rules
        )
        if target not in mapped and any(on_default):
            return default
    else:
        return default
    if target != default and target not in mapped:
        raise Unmapped(
            f"the alert for {raw} {how} {target}, which is neither the default ({default}) nor "
            f'in the symbol map, and it is never sent elsewhere: set "exchange": "{default}" '
            f'in the alert to trade it on {default}, or add a symbol map row with exchange = "'
            f'{target}"'
        )
    return target


def _exact(ticker: Ticker, exchange: str, markets: Sequence[Market]) -> Mapping | None:
    """An alert that names a market by its exact ccxt symbol ("BTC/USDT") needs no mapping."""
    name = ticker.raw.strip()
    if ticker.prefix is not None:
        name = name.partition(":")[2]
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
    want_swap = ticker.perp or market_type == "swap"  # swap: a plain BTCUSDT is the perp
    key = ticker.key.removesuffix(".P")
    kind = [m for m in markets if m.swap == want_swap and (m.linear or not want_swap)]
    found = [m for m in kind if m.id.upper().replace("-", "").replace("_", "") == key]
    if not found and ticker.base and ticker.quote:
        found = [m for m in kind if (m.base, m.quote) == (ticker.base, ticker.quote)]
    what = "perpetual" if want_swap else "spot"
    if not found:
        raise Unmapped(
            f"{exchange} has no {what} market for {raw}: check the ticker, or add a symbol "
            f"map row ({_row(ticker, exchange, want_swap)})"
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


def _market(ticker: Ticker, perp: bool) -> str:
    base, quote = ticker.base, ticker.quote
    return f"{base}/{quote}:{ticker.settle or quote}" if perp else f"{base}/{quote}"


def _suggestion(ticker: Ticker, swap: bool) -> str:
    if ticker.base and ticker.quote:
        return _market(ticker, swap)
    return "BASE/QUOTE:QUOTE" if swap else "BASE/QUOTE"


def _row(ticker: Ticker, exchange: str, swap: bool) -> str:
    return (
        f'[[symbols]] tv = "{ticker.key}", exchange = "{exchange}", '
        f'symbol = "{_suggestion(ticker, swap)}"'
    )


def _from_rule(rule: MapRule, exchange: str, raw: str) -> Mapping:
    base, quote = split_symbol(rule.symbol.strip())
    if not (base and quote):
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
    swap = ticker.perp or market_type == "swap"  # swap: a plain BTCUSDT is the perp
    if not (ticker.base and ticker.quote):
        raise Unmapped(
            f"cannot tell the base and quote currency of {raw} (no separator and no known "
            f"quote currency at its end): add a symbol map row ({_row(ticker, exchange, swap)})"
        )
    if ticker.perp and market_type != "swap":
        raise Unmapped(
            f"{raw} is a perpetual contract but exchange.market_type is {market_type}: set "
            f'exchange.market_type = "swap" to trade it as '
            f"{_market(ticker, True)}, or map it in the symbol map; "
            "a perpetual alert is never traded as spot"
        )
    return Mapping(
        exchange=exchange,
        symbol=_market(ticker, swap),
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

    The exchange is ``pick_exchange``'s. The symbol map comes first and its first matching
    row wins; ``auto`` covers tickers the map does not list: through the exchange's own
    market ids when ``markets`` are loaded, else by rule (separators and known quotes).
    """
    raw = ticker.strip()
    target = pick_exchange(raw, exchange=exchange, default_exchange=default_exchange, rules=rules)
    parsed = normalise(ticker, target)
    for rule in rules:
        if exchange_id(rule.exchange) != target or normalise(rule.tv, target).key != parsed.key:
            continue
        if not rule.enabled:
            raise Unmapped(
                f"{raw} is disabled in the symbol map (enabled = false): enable its row to trade it"
            )
        return _from_rule(rule, target, raw)
    if markets is not None:
        exact = _exact(parsed, target, markets)
        if exact is not None:
            return exact
    if auto and markets is not None:
        return _from_markets(parsed, target, market_type, raw, markets)
    if auto:
        return _auto(parsed, target, market_type, raw)
    raise Unmapped(
        f"no symbol map row for {raw} on {target}: add one "
        f"({_row(parsed, target, parsed.perp or market_type == 'swap')}) "
        "or set exchange.auto_map"
    )
