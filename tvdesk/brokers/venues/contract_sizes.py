"""Contract sizes paper trading knows without the network: coins per contract of the
USDT-settled perpetuals whose size is fixed by the exchange (``brokers/contracts.py``).

Binance USDⓈ-M and Bybit's linear perpetuals count in coins: one contract is one coin on
every market. OKX, Gate and KuCoin set a size per market; only the ones listed here are
known offline, and any other is read from the exchange's markets (``[paper] price_source =
"market"``) or refused with the reason, never guessed.
"""

from __future__ import annotations

from decimal import Decimal

_IN_COINS = ("binance", "binanceusdm", "bybit")
_PER_MARKET: dict[str, dict[str, Decimal]] = {
    "okx": {"BTC/USDT:USDT": Decimal("0.01"), "ETH/USDT:USDT": Decimal("0.1")},
    "gate": {"BTC/USDT:USDT": Decimal("0.0001")},
    "gateio": {"BTC/USDT:USDT": Decimal("0.0001")},
    "kucoinfutures": {"BTC/USDT:USDT": Decimal("0.001")},
    "kucoin": {"BTC/USDT:USDT": Decimal("0.001")},
}


def known_contract_size(exchange: str, symbol: str) -> Decimal | None:
    """Coins per contract of ``symbol`` (a ccxt perpetual) on ``exchange``; None if unknown."""
    if ":" not in symbol:
        return None
    if exchange in _IN_COINS and symbol.endswith(":USDT"):
        return Decimal(1)
    return _PER_MARKET.get(exchange, {}).get(symbol)
