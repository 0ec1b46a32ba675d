"""The live broker's copy of each exchange's balance: read at the live check and per alert.

A balance is read again once older than ``balance_ttl_s``, kept close to the truth after
a fill in between, and dropped when funds went on hold (read it next time). The copy is
also what ``status`` and the window show, in words or listed.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tvdesk.brokers.base import Unavailable
from tvdesk.brokers.errors import ExchangeError, TemporaryError
from tvdesk.brokers.exchange import ExchangeClient, LiveTuning, OrderState
from tvdesk.brokers.ledger import LiveOrder
from tvdesk.brokers.retry import CircuitBreaker
from tvdesk.core.clock import Clock
from tvdesk.core.decimals import plain
from tvdesk.core.symbols import split_symbol

Held = dict[str, tuple[Decimal, Decimal]]  # currency -> (free, used)


class BalanceCache:
    def __init__(self, clock: Clock, tuning: LiveTuning, circuit: CircuitBreaker) -> None:
        self.clock = clock
        self.tuning = tuning
        self.circuit = circuit
        self._balances: dict[str, tuple[float, Held]] = {}

    def put(self, exchange: str, held: Held) -> None:
        self._balances[exchange] = (self.clock.monotonic(), held)

    def drop(self, exchange: str) -> None:
        self._balances.pop(exchange, None)

    def clear(self) -> None:
        self._balances.clear()

    async def fresh(self, exchange: str, client: ExchangeClient) -> Held:
        """The balance, read again from the exchange once the copy is older than its TTL."""
        fetched = self._balances.get(exchange)
        if fetched is None or self.clock.monotonic() - fetched[0] > self.tuning.balance_ttl_s:
            try:
                fetched = (self.clock.monotonic(), await client.balance())
            except ExchangeError as exc:
                if isinstance(exc, TemporaryError):
                    self.circuit.failure(str(exc))
                raise Unavailable(f"could not read the {exchange} balance: {exc}") from None
            self._balances[exchange] = fetched
        return fetched[1]

    def summary(self, exchange: str) -> str | None:
        """The balance the last check or order read, in words; None before any."""
        cached = self._balances.get(exchange)
        if cached is None:
            return None
        held = cached[1]
        shown = ", ".join(f"{plain(f + u)} {c}" for c, (f, u) in sorted(held.items()) if f + u)
        return shown or "empty"

    def listed(self) -> list[dict[str, Any]]:
        """The balances the exchange last reported (read at the live check and per alert)."""
        return [
            {"exchange": exchange, "currency": cur, "free": free, "used": used}
            for exchange, (_, held) in sorted(self._balances.items())
            for cur, (free, used) in sorted(held.items())
            if free or used
        ]

    def after_fill(self, exchange: str, order: LiveOrder, state: OrderState) -> None:
        """Keep the cached balance close to the truth between reads of it."""
        cached = self._balances.get(exchange)
        if cached is None:
            return
        # Funds on hold, or a perpetual (margin, not coins, moves): read them next time.
        if state.status != "filled" or state.average is None or ":" in order.symbol:
            self._balances.pop(exchange, None)
            return
        base, quote = split_symbol(order.symbol)
        held = dict(cached[1])
        zero = (Decimal(0), Decimal(0))
        sign = 1 if order.side == "buy" else -1
        fee = state.fee or Decimal(0)
        base_free, base_used = held.get(base, zero)
        quote_free, quote_used = held.get(quote, zero)
        base_free += sign * state.filled - (fee if state.fee_currency == base else 0)
        quote_free -= sign * state.filled * state.average + (
            fee if state.fee_currency == quote else 0
        )
        held[base], held[quote] = (base_free, base_used), (quote_free, quote_used)
        self._balances[exchange] = (cached[0], held)
