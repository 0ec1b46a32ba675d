"""A bar close's burst: alerts on ten markets of the fake Binance, and how to read what
the exchange saw of them (the test and the benchmark of issue 17 share it)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from tests.kit.live import live_settings
from tvdesk.config.schema import Settings, SymbolRule
from tvdesk.core.ids import client_order_id

# Ten markets: the fake's own two and eight more with Binance-like filters.
COINS = ["BTC", "ETH", "SOL", "BNB", "XRP", "ADA", "DOGE", "LTC", "DOT", "LINK"]
PRICES = {f"{coin}USDT": "100" for coin in COINS} | {"BTCUSDT": "50000", "ETHUSDT": "3000"}
QTY = {f"{coin}USDT": "0.1" for coin in COINS} | {"BTCUSDT": "0.001", "ETHUSDT": "0.01"}
MORE_SYMBOLS = {
    f"{coin}USDT": {
        "base": coin,
        "quote": "USDT",
        "step": "0.001",
        "min_qty": "0.001",
        "max_qty": "90000",
        "tick": "0.01",
        "min_notional": "5",
    }
    for coin in COINS[2:]
}
BALANCES = {"USDT": "1000000"} | {coin: "100" for coin in COINS}


def fake_options(order_delay_s: float = 0.0) -> dict[str, Any]:
    """FakeBinance(**fake_options()): the ten markets, their prices, a funded account."""
    return {
        "symbols": MORE_SYMBOLS,
        "prices": PRICES,
        "balances": BALANCES,
        "order_delay_s": order_delay_s,
    }


def burst_settings(url: str, **risk: Any) -> Settings:
    """Live on the fake, every one of the ten markets in the symbol map."""
    settings = live_settings(url, **risk)
    rules = [SymbolRule(f"{coin}USDT", "binance", f"{coin}/USDT") for coin in COINS]
    return replace(settings, symbols=rules)


def burst(alerts: int = 50) -> list[dict[str, str]]:
    """``alerts`` market buys, round-robin over the ten markets (alert i on market i % 10)."""
    tickers = [f"{coin}USDT" for coin in COINS]
    return [
        {"symbol": f"BINANCE:{t}", "side": "buy", "qty": QTY[t], "price": PRICES[t]}
        for t in (tickers[i % len(tickers)] for i in range(alerts))
    ]


def out_of_order(received: list[dict[str, Any]], alert_ids: list[str]) -> list[str]:
    """The markets on which the exchange saw orders in another order than their alerts'."""
    arrival = {client_order_id(a): i for i, a in enumerate(alert_ids)}
    seen: dict[str, list[int]] = {}
    for entry in received:
        index = arrival.get(entry["clientOrderId"])
        if index is not None:
            seen.setdefault(entry["params"]["symbol"], []).append(index)
    return [symbol for symbol, order in seen.items() if order != sorted(order)]
