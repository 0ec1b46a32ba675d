"""Ticker normalisation and the symbol map (DESIGN.md, [[symbols]] and "Paper trading")."""

from decimal import Decimal

import pytest

from tvdesk.core.symbols import (
    KNOWN_QUOTES,
    Mapping,
    MapRule,
    Market,
    Unmapped,
    normalise,
    resolve,
)

# ---------------------------------------------------------------- normalise

# (ticker as sent, prefix, key, perp, base, quote)
FORMS = [
    ("BTCUSDT", None, "BTCUSDT", False, "BTC", "USDT"),
    ("btcusdt", None, "BTCUSDT", False, "BTC", "USDT"),
    ("  BTCUSDT ", None, "BTCUSDT", False, "BTC", "USDT"),
    ("BINANCE:BTCUSDT", "BINANCE", "BTCUSDT", False, "BTC", "USDT"),
    ("binance:btcusdt", "BINANCE", "BTCUSDT", False, "BTC", "USDT"),
    ("BTC-USDT", None, "BTCUSDT", False, "BTC", "USDT"),
    ("BTC/USDT", None, "BTCUSDT", False, "BTC", "USDT"),
    ("BTC_USDT", None, "BTCUSDT", False, "BTC", "USDT"),
    ("BTCUSDT.P", None, "BTCUSDT.P", True, "BTC", "USDT"),
    ("btcusdt.p", None, "BTCUSDT.P", True, "BTC", "USDT"),
    ("BTCUSDTPERP", None, "BTCUSDT.P", True, "BTC", "USDT"),
    ("BTCUSDT.PERP", None, "BTCUSDT.P", True, "BTC", "USDT"),
    ("BTC-USDT.P", None, "BTCUSDT.P", True, "BTC", "USDT"),
    ("BTC-USDT-PERP", None, "BTCUSDT.P", True, "BTC", "USDT"),
    ("BINANCE:BTCUSDT.P", "BINANCE", "BTCUSDT.P", True, "BTC", "USDT"),
    ("BYBIT:ETHUSDT.P", "BYBIT", "ETHUSDT.P", True, "ETH", "USDT"),
    ("ETHBTC", None, "ETHBTC", False, "ETH", "BTC"),
    ("BNBETH", None, "BNBETH", False, "BNB", "ETH"),
    ("COINBASE:BTCUSD", "COINBASE", "BTCUSD", False, "BTC", "USD"),
    ("BTCUSDC", None, "BTCUSDC", False, "BTC", "USDC"),
    ("BTCFDUSD", None, "BTCFDUSD", False, "BTC", "FDUSD"),
    ("BTCTUSD", None, "BTCTUSD", False, "BTC", "TUSD"),
    ("BTCBUSD", None, "BTCBUSD", False, "BTC", "BUSD"),
    ("USDCUSDT", None, "USDCUSDT", False, "USDC", "USDT"),
    ("BTCEUR", None, "BTCEUR", False, "BTC", "EUR"),
    ("BTCTRY", None, "BTCTRY", False, "BTC", "TRY"),
    ("BTCUSDT_DL", None, "BTCUSDT", False, "BTC", "USDT"),
    ("BTCUSDT_DLY", None, "BTCUSDT", False, "BTC", "USDT"),
    ("BINANCE:BTCUSDT.P_DL", "BINANCE", "BTCUSDT.P", True, "BTC", "USDT"),
    ("PEPE-USDT", None, "PEPEUSDT", False, "PEPE", "USDT"),  # a separator splits any pair
    ("ABC-XYZ", None, "ABCXYZ", False, "ABC", "XYZ"),
    ("1000PEPEUSDT.P", None, "1000PEPEUSDT.P", True, "1000PEPE", "USDT"),
    ("BTCXYZ", None, "BTCXYZ", False, None, None),  # no known quote at the end
    ("USDT", None, "USDT", False, None, None),  # a quote alone has no base
    ("BTC-PERP", None, "BTC.P", True, None, None),
    ("", None, "", False, None, None),
]


@pytest.mark.parametrize(("ticker", "prefix", "key", "perp", "base", "quote"), FORMS)
def test_normalise_every_form(ticker, prefix, key, perp, base, quote):
    t = normalise(ticker)
    assert (t.raw, t.prefix, t.key, t.perp, t.base, t.quote) == (
        ticker,
        prefix,
        key,
        perp,
        base,
        quote,
    )


def test_plain_and_perpetual_keys_differ():
    assert normalise("BTCUSDT").key != normalise("BTCUSDT.P").key


def test_known_quotes_are_tried_longest_first():
    lengths = [len(quote) for quote in KNOWN_QUOTES]
    assert lengths == sorted(lengths, reverse=True)
    assert {"USDT", "USDC", "FDUSD", "BUSD", "TUSD", "DAI", "USD", "EUR", "BTC", "ETH"} <= set(
        KNOWN_QUOTES
    )


# ---------------------------------------------------------------- resolve

BTC_SPOT = MapRule(tv="BTCUSDT", exchange="binance", symbol="BTC/USDT")
BTC_PERP = MapRule(tv="BTCUSDT.P", exchange="binance", symbol="BTC/USDT:USDT")


def res(ticker: str, rules=(), *, exchange=None, auto=False, market_type="spot") -> Mapping:
    return resolve(
        ticker,
        exchange=exchange,
        default_exchange="binance",
        rules=list(rules),
        auto=auto,
        market_type=market_type,
    )


def refusal(ticker: str, rules=(), **kw) -> str:
    with pytest.raises(Unmapped) as caught:
        res(ticker, rules, **kw)
    return str(caught.value)


@pytest.mark.parametrize(
    "ticker", ["BTCUSDT", "BINANCE:BTCUSDT", "btcusdt", "BTC-USDT", "BTC/USDT", "BTCUSDT_DL"]
)
def test_every_spelling_finds_the_table_row(ticker):
    mapping = res(ticker, [BTC_SPOT])
    assert mapping == Mapping(
        exchange="binance",
        symbol="BTC/USDT",
        base="BTC",
        quote="USDT",
        qty_multiplier=Decimal(1),
        source="table",
    )


def test_the_row_tv_is_normalised_too():
    rule = MapRule(tv="binance:btc-usdt", exchange="BINANCE", symbol="BTC/USDT")
    assert res("BTCUSDT", [rule]).symbol == "BTC/USDT"


def test_first_match_wins():
    rules = [
        MapRule(tv="BTCUSDT", exchange="binance", symbol="BTC/USDC"),
        MapRule(tv="BTCUSDT", exchange="binance", symbol="BTC/USDT"),
    ]
    assert res("BTCUSDT", rules).symbol == "BTC/USDC"


def test_rows_are_per_exchange():
    rules = [
        MapRule(tv="BTCUSDT", exchange="kraken", symbol="XBT/USDT"),
        MapRule(tv="BTCUSDT", exchange="binance", symbol="BTC/USDT"),
    ]
    assert res("BTCUSDT", rules).symbol == "BTC/USDT"
    kraken = res("BTCUSDT", rules, exchange="Kraken")
    assert (kraken.exchange, kraken.symbol, kraken.base) == ("kraken", "XBT/USDT", "XBT")


def test_a_disabled_row_refuses_and_is_not_skipped():
    rules = [
        MapRule(tv="BTCUSDT", exchange="binance", symbol="BTC/USDT", enabled=False),
        MapRule(tv="BTCUSDT", exchange="binance", symbol="BTC/USDC"),
    ]
    assert refusal("BTCUSDT", rules, auto=True) == (
        "BTCUSDT is disabled in the symbol map (enabled = false): enable its row to trade it"
    )


def test_the_row_multiplier_is_carried():
    rule = MapRule(tv="BTCUSDT", exchange="binance", symbol="BTC/USDT", qty_multiplier=Decimal(2))
    assert res("BTCUSDT", [rule]).qty_multiplier == Decimal(2)


def test_a_perpetual_never_matches_a_plain_row():
    assert "no symbol map row for BTCUSDT.P on binance" in refusal("BTCUSDT.P", [BTC_SPOT])
    assert "no symbol map row for BTCUSDT on binance" in refusal("BTCUSDT", [BTC_PERP])
    assert res("BINANCE:BTCUSDT.P", [BTC_SPOT, BTC_PERP]).symbol == "BTC/USDT:USDT"
    assert res("BTCUSDTPERP", [BTC_SPOT, BTC_PERP]).symbol == "BTC/USDT:USDT"


def test_a_perp_row_parses_base_and_quote_without_the_settle_currency():
    mapping = res("BTCUSDT.P", [BTC_PERP], market_type="spot")  # the table wins over the type
    assert (mapping.base, mapping.quote) == ("BTC", "USDT")


def test_a_foreign_exchange_is_refused_never_sent_elsewhere():
    message = refusal("BTCUSDT", [BTC_SPOT], exchange="KuCoin", auto=True)
    assert message.startswith(
        "the alert for BTCUSDT names exchange kucoin, which is neither the default (binance) "
        "nor in the symbol map, and it is never sent elsewhere"
    )
    assert 'exchange = "kucoin"' in message


def test_the_default_exchange_named_in_any_case_is_fine():
    assert res("BTCUSDT", [BTC_SPOT], exchange="BINANCE").exchange == "binance"


def test_an_exchange_in_the_map_allows_auto_mapping_there():
    rules = [MapRule(tv="ETHUSDT", exchange="kraken", symbol="ETH/USDT")]
    mapping = res("BTCUSDT", rules, exchange="kraken", auto=True)
    assert (mapping.exchange, mapping.symbol, mapping.source) == ("kraken", "BTC/USDT", "auto")


def test_without_a_row_and_without_auto_the_message_says_how_to_map():
    assert refusal("BTCUSDT") == (
        'no symbol map row for BTCUSDT on binance: add one ([[symbols]] tv = "BTCUSDT", '
        'exchange = "binance", symbol = "BTC/USDT") or set exchange.auto_map'
    )
    assert '[[symbols]] tv = "BTCUSDT.P", exchange = "binance", symbol = "BTC/USDT:USDT"' in (
        refusal("BINANCE:BTCUSDT.P")
    )


@pytest.mark.parametrize(
    ("ticker", "symbol", "base", "quote"),
    [
        ("BTCUSDT", "BTC/USDT", "BTC", "USDT"),
        ("BINANCE:ETHBTC", "ETH/BTC", "ETH", "BTC"),
        ("sol-usdc", "SOL/USDC", "SOL", "USDC"),
        ("PEPE_TRY", "PEPE/TRY", "PEPE", "TRY"),
    ],
)
def test_auto_maps_by_rule(ticker, symbol, base, quote):
    for market_type, market in (("spot", symbol), ("swap", f"{symbol}:{quote}")):
        mapping = res(ticker, auto=True, market_type=market_type)  # swap: BTCUSDT is the perp
        assert mapping == Mapping(
            exchange="binance",
            symbol=market,
            base=base,
            quote=quote,
            qty_multiplier=Decimal(1),
            source="auto",
        )


def test_auto_maps_a_perpetual_to_the_linear_swap_when_the_market_type_is_swap():
    mapping = res("BINANCE:BTCUSDT.P", auto=True, market_type="swap")
    assert (mapping.symbol, mapping.base, mapping.quote) == ("BTC/USDT:USDT", "BTC", "USDT")


def test_auto_never_trades_a_perpetual_as_spot():
    message = refusal("BTCUSDT.P", auto=True, market_type="spot")
    assert message.startswith(
        "BTCUSDT.P is a perpetual contract but exchange.market_type is spot: "
        'set exchange.market_type = "swap" to trade it as BTC/USDT:USDT'
    )
    assert message.endswith("never traded as spot")


def test_auto_refuses_an_unknown_quote():
    message = refusal("BTCXYZ", auto=True)
    assert message.startswith("cannot tell the base and quote currency of BTCXYZ")
    assert '[[symbols]] tv = "BTCXYZ", exchange = "binance", symbol = "BASE/QUOTE"' in message


def test_the_table_wins_over_auto():
    rule = MapRule(tv="BTCUSDT", exchange="binance", symbol="BTC/USDC", qty_multiplier=Decimal(3))
    mapping = res("BTCUSDT", [rule], auto=True)
    assert (mapping.symbol, mapping.source, mapping.qty_multiplier) == (
        "BTC/USDC",
        "table",
        Decimal(3),
    )


def test_a_row_symbol_that_is_not_a_ccxt_symbol_is_refused():
    rule = MapRule(tv="BTCUSDT", exchange="binance", symbol="BTCUSDT")
    message = refusal("BTCUSDT", [rule])
    assert 'symbol = "BTCUSDT", which is not a ccxt market symbol' in message
    assert '"BTC/USDT"' in message


# ---------------------------------------------------------------- describe


@pytest.mark.parametrize(
    ("multiplier", "shown"),
    [(Decimal(1), "1.0"), (Decimal("1.0"), "1.0"), (Decimal("2.50"), "2.5"), (Decimal(10), "10.0")],
)
def test_describe(multiplier, shown):
    rule = MapRule(
        tv="BTCUSDT.P", exchange="binance", symbol="BTC/USDT:USDT", qty_multiplier=multiplier
    )
    mapping = res("BINANCE:BTCUSDT.P", [rule])
    assert mapping.describe("BINANCE:BTCUSDT.P") == (
        f"BINANCE:BTCUSDT.P → BTC/USDT:USDT ×{shown} (table)"
    )


def test_describe_auto():
    assert res("ETHUSDT", auto=True).describe("ETHUSDT") == "ETHUSDT → ETH/USDT ×1.0 (auto)"


# -- resolution through the exchange's own markets (binance-shaped, as ccxt loads them) --

BINANCE_MARKETS = [
    Market("BTC/USDT", "BTCUSDT", "BTC", "USDT", swap=False),
    Market("ETH/BTC", "ETHBTC", "ETH", "BTC", swap=False),
    Market("BTC/USDT:USDT", "BTCUSDT", "BTC", "USDT", swap=True),
    Market("BTC/USD:BTC", "BTCUSD_PERP", "BTC", "USD", swap=True, linear=False),
    Market("1000PEPE/USDT:USDT", "1000PEPEUSDT", "1000PEPE", "USDT", swap=True),
]


def by_markets(ticker: str, market_type: str = "spot", markets=BINANCE_MARKETS) -> Mapping:
    return resolve(
        ticker,
        exchange=None,
        default_exchange="binance",
        rules=[],
        auto=True,
        market_type=market_type,
        markets=markets,
    )


@pytest.mark.parametrize(
    ("ticker", "market_type", "symbol"),
    [
        ("BINANCE:BTCUSDT", "spot", "BTC/USDT"),
        ("btcusdt", "swap", "BTC/USDT:USDT"),
        ("ETHBTC", "spot", "ETH/BTC"),
        ("BINANCE:BTCUSDT.P", "swap", "BTC/USDT:USDT"),
        ("1000PEPEUSDT.P", "swap", "1000PEPE/USDT:USDT"),
    ],
)
def test_market_ids_resolve_spot_and_linear_swaps(ticker, market_type, symbol):
    mapping = by_markets(ticker, market_type)
    assert mapping.symbol == symbol
    assert mapping.source == "auto"


def test_a_perpetual_is_never_resolved_to_spot_markets():
    with pytest.raises(Unmapped, match="never traded as spot"):
        by_markets("BTCUSDT.P", "spot")


def test_a_ticker_the_exchange_does_not_list_is_refused_with_the_fix():
    with pytest.raises(Unmapped, match=r"binance has no spot market for SOLUSDT.*\[\[symbols\]\]"):
        by_markets("SOLUSDT")


def test_several_candidates_are_listed_not_guessed():
    doubled = [*BINANCE_MARKETS, Market("BTC/USDT:USDT-2", "BTCUSDT", "BTC", "USDT", swap=True)]
    with pytest.raises(
        Unmapped, match=r"several binance markets \(BTC/USDT:USDT, BTC/USDT:USDT-2\)"
    ):
        by_markets("BTCUSDT.P", "swap", doubled)


def test_the_symbol_table_still_wins_over_the_markets():
    mapping = resolve(
        "BTCUSDT",
        exchange=None,
        default_exchange="binance",
        rules=[MapRule("BTCUSDT", "binance", "BTC/USDC")],
        auto=True,
        markets=BINANCE_MARKETS,
    )
    assert (mapping.symbol, mapping.source) == ("BTC/USDC", "table")


def test_an_alert_naming_the_exact_ccxt_symbol_needs_no_mapping():
    # Even with auto-mapping off (live mode's default): the trader named the market.
    mapping = resolve(
        "BTC/USDT",
        exchange=None,
        default_exchange="binance",
        rules=[],
        auto=False,
        markets=BINANCE_MARKETS,
    )
    assert (mapping.symbol, mapping.source) == ("BTC/USDT", "exact")
    with pytest.raises(Unmapped, match="no symbol map row for BTCUSDT"):
        resolve(
            "BTCUSDT",
            exchange=None,
            default_exchange="binance",
            rules=[],
            auto=False,
            markets=BINANCE_MARKETS,
        )


def test_a_usd_ticker_whose_base_ends_in_t_is_not_read_as_tusd():
    assert (normalise("DOTUSD").base, normalise("DOTUSD").quote) == ("DOT", "USD")
    assert (normalise("XBTUSD").base, normalise("XBTUSD").quote) == ("XBT", "USD")
    assert (normalise("BTCTUSD").base, normalise("BTCTUSD").quote) == ("BTC", "TUSD")
    assert (normalise("OPUSDT").base, normalise("OPUSDT").quote) == ("OP", "USDT")
