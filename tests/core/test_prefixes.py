"""TradingView's exchange names and ticker forms → ccxt ids and markets (DESIGN.md, Webhook
symbol/exchange rows and "Exchanges")."""

from decimal import Decimal

import ccxt
import pytest

from tvdesk.core.symbols import (
    TRADINGVIEW_EXCHANGES,
    Mapping,
    MapRule,
    Market,
    Unmapped,
    exchange_id,
    normalise,
    prefix_exchange,
    resolve,
    split_symbol,
)


def res(ticker: str, default: str, rules=(), *, exchange=None, auto=True, markets=None, **kw):
    return resolve(
        ticker,
        exchange=exchange,
        default_exchange=default,
        rules=list(rules),
        auto=auto,
        markets=markets,
        **kw,
    )


def refusal(ticker: str, default: str, rules=(), **kw) -> str:
    with pytest.raises(Unmapped) as caught:
        res(ticker, default, rules, **kw)
    return str(caught.value)


# ------------------------------------------------------------ exchange names


def test_every_tradingview_exchange_is_a_ccxt_exchange():
    assert set(TRADINGVIEW_EXCHANGES.values()) <= set(ccxt.exchanges)


@pytest.mark.parametrize(
    ("prefix", "ccxt_id"),
    [
        ("GATEIO", "gate"),
        ("BINANCEUS", "binanceus"),
        ("CRYPTOCOM", "cryptocom"),
        ("HTX", "htx"),
        ("HUOBI", "htx"),
        ("KUCOIN", "kucoin"),
        ("OKX", "okx"),
        ("BYBIT", "bybit"),
        ("BITGET", "bitget"),
        ("COINBASE", "coinbase"),
        ("KRAKEN", "kraken"),
        ("BINANCE", "binance"),
        ("MEXC", "mexc"),
        ("BITSTAMP", "bitstamp"),
        ("BITFINEX", "bitfinex"),
        ("GATE", "gate"),  # the ccxt id names its exchange too
    ],
)
def test_a_prefix_names_its_ccxt_exchange(prefix, ccxt_id):
    assert prefix_exchange(prefix) == ccxt_id
    assert normalise(f"{prefix}:BTCUSDT").exchange == ccxt_id


@pytest.mark.parametrize("feed", ["INDEX", "CRYPTO", "CRYPTOCAP", "NASDAQ", "TVC", "FX"])
def test_a_data_feed_prefix_is_no_exchange(feed):
    assert prefix_exchange(feed) is None
    ticker = normalise(f"{feed}:BTCUSD")
    assert (ticker.prefix, ticker.exchange, ticker.base, ticker.quote) == (feed, None, "BTC", "USD")


@pytest.mark.parametrize(
    ("name", "ccxt_id"),
    [
        ("GATEIO", "gate"),
        ("gateio", "gate"),
        ("Gate.io", "gate"),
        ("gate", "gate"),
        ("Crypto.com", "cryptocom"),
        ("huobi", "htx"),
        (" OKX ", "okx"),
        ("Binance US", "binanceus"),
        ("binanceusdm", "binanceusdm"),  # a ccxt id the table doesn't list is kept
        ("nyse", "nyse"),
    ],
)
def test_an_exchange_name_in_an_alert_becomes_its_ccxt_id(name, ccxt_id):
    assert exchange_id(name) == ccxt_id


# ------------------------------------------------------------ ticker forms

# (ticker, key, perp, base, quote, settle)
FORMS = [
    ("OKX:BTC-USDT-SWAP", "BTCUSDT.P", True, "BTC", "USDT", None),
    ("BTC-USDT-SWAP", "BTCUSDT.P", True, "BTC", "USDT", None),
    ("OKX:BTC-USDT", "BTCUSDT", False, "BTC", "USDT", None),
    ("BYBIT:BTCUSDT.P", "BTCUSDT.P", True, "BTC", "USDT", None),
    ("BTCUSDTPERP", "BTCUSDT.P", True, "BTC", "USDT", None),
    ("BTC_USDT", "BTCUSDT", False, "BTC", "USDT", None),
    ("btcusdt", "BTCUSDT", False, "BTC", "USDT", None),
    ("BTC/USDT", "BTCUSDT", False, "BTC", "USDT", None),
    ("BTC/USDT:USDT", "BTCUSDT.P", True, "BTC", "USDT", "USDT"),
    ("BYBIT:BTC/USDT:USDT", "BTCUSDT.P", True, "BTC", "USDT", "USDT"),
    ("BTC/USD:BTC", "BTCUSD.P", True, "BTC", "USD", "BTC"),
    # Kraken spells bitcoin XBT and dogecoin XDG; ccxt's symbols say BTC and DOGE.
    ("KRAKEN:XBTUSD", "XBTUSD", False, "BTC", "USD", None),
    ("KRAKEN:XBTEUR", "XBTEUR", False, "BTC", "EUR", None),
    ("KRAKEN:XBTUSDT", "XBTUSDT", False, "BTC", "USDT", None),
    ("KRAKEN:XDGUSD", "XDGUSD", False, "DOGE", "USD", None),
    ("KRAKEN:ETHXBT", "ETHXBT", False, "ETH", "BTC", None),
    ("BINANCE:XBTUSD", "XBTUSD", False, "XBT", "USD", None),  # only Kraken's spelling
]


@pytest.mark.parametrize(("ticker", "key", "perp", "base", "quote", "settle"), FORMS)
def test_ticker_forms(ticker, key, perp, base, quote, settle):
    t = normalise(ticker)
    assert (t.key, t.perp, t.base, t.quote, t.settle) == (key, perp, base, quote, settle)


def test_a_ticker_without_prefix_is_read_in_the_trading_exchanges_spelling():
    assert (normalise("XBTUSD", "kraken").base, normalise("XBTUSD").base) == ("BTC", "XBT")


def test_split_symbol_reads_ccxt_symbols():
    assert split_symbol("BTC/USDT") == ("BTC", "USDT")
    assert split_symbol("BTC/USDT:USDT") == ("BTC", "USDT")


# ------------------------------------------------------------ which exchange


def test_a_prefix_naming_the_default_exchange_trades_there():
    mapping = res("GATEIO:BTCUSDT", "gate")
    assert (mapping.exchange, mapping.symbol) == ("gate", "BTC/USDT")


def test_an_exchange_field_goes_through_the_table():
    for field in ("GATEIO", "gateio", "gate"):
        assert res("GATEIO:BTCUSDT", "gate", exchange=field).exchange == "gate"


def test_a_prefix_naming_another_exchange_is_refused_never_sent_elsewhere():
    message = refusal("KRAKEN:XBTUSD", "binance")
    assert message == (
        "the alert for KRAKEN:XBTUSD is prefixed KRAKEN:, which names exchange kraken, which "
        "is neither the default (binance) nor in the symbol map, and it is never sent "
        'elsewhere: set "exchange": "binance" in the alert to trade it on binance, or add a '
        'symbol map row with exchange = "kraken"'
    )


def test_a_field_naming_another_exchange_is_refused_with_its_ccxt_id():
    message = refusal("GATEIO:BTCUSDT", "gate", exchange="KUCOIN")
    assert message.startswith(
        "the alert for GATEIO:BTCUSDT names exchange kucoin, which is neither the default "
        "(gate) nor in the symbol map, and it is never sent elsewhere"
    )


def test_the_exchange_field_wins_over_the_charts_prefix():
    # Charted on Binance's feed, traded on the desk's exchange: the field says where.
    mapping = res("BINANCE:BTCUSDT", "bybit", exchange="bybit")
    assert (mapping.exchange, mapping.symbol) == ("bybit", "BTC/USDT")


def test_a_data_feed_prefix_trades_on_the_default():
    mapping = res("CRYPTOCAP:BTCUSDT", "kraken")
    assert (mapping.exchange, mapping.symbol) == ("kraken", "BTC/USDT")


def test_a_prefix_naming_an_exchange_in_the_symbol_map_trades_there():
    rules = [MapRule(tv="ETHUSDT", exchange="kraken", symbol="ETH/USDT")]
    mapping = res("KRAKEN:XBTUSDT", "binance", rules)
    assert (mapping.exchange, mapping.symbol, mapping.source) == ("kraken", "BTC/USDT", "auto")


def test_a_row_for_the_ticker_on_the_default_makes_the_prefix_the_charts_feed():
    rules = [MapRule(tv="BINANCE:BTCUSDT", exchange="bybit", symbol="BTC/USDT")]
    mapping = res("BINANCE:BTCUSDT", "bybit", rules, auto=False)
    assert (mapping.exchange, mapping.symbol, mapping.source) == ("bybit", "BTC/USDT", "table")
    assert "names exchange binance" in refusal("BINANCE:ETHUSDT", "bybit", rules)


def test_a_row_may_name_its_exchange_the_tradingview_way():
    rules = [MapRule(tv="BTCUSDT", exchange="gateio", symbol="BTC/USDT", qty_multiplier=Decimal(2))]
    mapping = res("GATEIO:BTCUSDT", "binance", rules, auto=False)
    assert mapping == Mapping("gate", "BTC/USDT", "BTC", "USDT", Decimal(2), "table")


# ------------------------------------------------------------ markets


def test_kraken_xbt_maps_to_btc_by_rule_and_suggests_a_real_symbol():
    assert res("KRAKEN:XBTUSD", "kraken").symbol == "BTC/USD"
    assert res("KRAKEN:XDGUSD", "kraken").symbol == "DOGE/USD"
    assert res("XBTEUR", "kraken").symbol == "BTC/EUR"
    message = refusal("KRAKEN:XBTUSD", "kraken", auto=False)
    assert '[[symbols]] tv = "XBTUSD", exchange = "kraken", symbol = "BTC/USD"' in message


# As ccxt loads Kraken: ids are Kraken's (XXBTZUSD), symbols ccxt's common codes.
KRAKEN_MARKETS = [
    Market("BTC/USD", "XXBTZUSD", "BTC", "USD", swap=False),
    Market("BTC/USDT", "XBTUSDT", "BTC", "USDT", swap=False),
    Market("DOGE/USD", "XDGUSD", "DOGE", "USD", swap=False),
    Market("ETH/BTC", "XETHXXBT", "ETH", "BTC", swap=False),
]


@pytest.mark.parametrize(
    ("ticker", "symbol"),
    [
        ("KRAKEN:XBTUSD", "BTC/USD"),
        ("KRAKEN:XBTUSDT", "BTC/USDT"),
        ("KRAKEN:XDGUSD", "DOGE/USD"),
        ("KRAKEN:ETHXBT", "ETH/BTC"),
    ],
)
def test_kraken_tickers_find_krakens_markets(ticker, symbol):
    assert res(ticker, "kraken", markets=KRAKEN_MARKETS).symbol == symbol


def test_an_unlisted_kraken_ticker_suggests_a_ccxt_symbol():
    message = refusal("KRAKEN:XBTGBP", "kraken", markets=KRAKEN_MARKETS)
    assert 'symbol = "BTC/GBP"' in message


OKX_MARKETS = [
    Market("BTC/USDT", "BTC-USDT", "BTC", "USDT", swap=False),
    Market("BTC/USDT:USDT", "BTC-USDT-SWAP", "BTC", "USDT", swap=True),
    Market("BTC/USD:BTC", "BTC-USD-SWAP", "BTC", "USD", swap=True, linear=False),
]


@pytest.mark.parametrize(
    ("ticker", "market_type", "symbol"),
    [
        ("OKX:BTC-USDT-SWAP", "swap", "BTC/USDT:USDT"),
        ("OKX:BTCUSDT.P", "swap", "BTC/USDT:USDT"),
        ("OKX:BTC-USDT", "spot", "BTC/USDT"),
        ("BTC/USDT:USDT", "spot", "BTC/USDT:USDT"),  # already ccxt's: exact, any market type
    ],
)
def test_okx_forms_find_okx_markets(ticker, market_type, symbol):
    mapping = res(ticker, "okx", markets=OKX_MARKETS, market_type=market_type)
    assert mapping.symbol == symbol


def test_a_ccxt_perpetual_symbol_maps_by_rule_with_its_settle_currency():
    assert res("BTC/USD:BTC", "okx", market_type="swap").symbol == "BTC/USD:BTC"
    assert res("BTC-USDT-SWAP", "okx", market_type="swap").symbol == "BTC/USDT:USDT"
