"""Reading a ticker is remembered (it is on every alert's path), yet a symbol map or a
market list that changes is followed at once: nothing the trader edits is cached."""

from decimal import Decimal

import pytest

from tvdesk.core.symbols import MapRule, Market, Unmapped, normalise, resolve


def _resolve(ticker: str, rules: list[MapRule], markets: list[Market] | None = None) -> str:
    mapping = resolve(
        ticker,
        exchange=None,
        default_exchange="binance",
        rules=rules,
        auto=True,
        markets=markets,
    )
    return f"{mapping.symbol} ×{mapping.qty_multiplier} ({mapping.source})"


def test_a_new_symbol_map_row_wins_over_what_the_old_settings_gave() -> None:
    assert _resolve("BTCUSDT", []) == "BTC/USDT ×1 (auto)"
    assert _resolve("BTCUSDT", []) == "BTC/USDT ×1 (auto)"  # the second read: the same
    reloaded = [MapRule("BTCUSDT", "binance", "BTC/USDC", Decimal("0.5"))]
    assert _resolve("BTCUSDT", reloaded) == "BTC/USDC ×0.5 (table)"
    assert _resolve("BTCUSDT", []) == "BTC/USDT ×1 (auto)"  # the row removed again


def test_a_market_listed_after_a_reload_is_found() -> None:
    before = [Market("ETH/USDT", "ETHUSDT", "ETH", "USDT", swap=False)]
    after = [*before, Market("PEPE/USDT", "PEPEUSDT", "PEPE", "USDT", swap=False)]
    assert _resolve("ETHUSDT", [], before) == "ETH/USDT ×1 (auto)"
    with pytest.raises(Unmapped, match="has no spot market for PEPEUSDT"):
        _resolve("PEPEUSDT", [], before)
    assert _resolve("PEPEUSDT", [], after) == "PEPE/USDT ×1 (auto)"


def test_the_same_ticker_reads_in_each_exchanges_own_spelling() -> None:
    assert (normalise("XBTUSD").base, normalise("XBTUSD").quote) == ("XBT", "USD")
    kraken = normalise("XBTUSD", "kraken")
    assert (kraken.base, kraken.quote) == ("BTC", "USD")
    assert normalise("XBTUSD").base == "XBT"  # the kraken reading did not stick to it
    assert normalise("xbtusd", "kraken").raw == "xbtusd"  # as sent, not the cached spelling
