"""The one small protocol the worker sees: paper and live brokers both speak it."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from tvdesk.core.decimals import plain
from tvdesk.core.events import Event
from tvdesk.core.symbols import Mapping, Market

# Runs inside the transaction that records the alert's outcome; returns the
# (alert_id, outcome, reason) of *other* alerts that this step settled (a resting
# limit order filled by a later price, or expired).
Writer = Callable[[sqlite3.Connection], list[tuple[str, str, str]]]


class Refusal(Exception):
    """The broker refuses before contacting the exchange (outcome ``rejected``)."""


class Unavailable(Exception):
    """The broker cannot act now (exchange unreachable, execution paused): outcome ``failed``."""


@dataclass(frozen=True)
class Holdings:
    """What the account holds for one market, as the sizing step needs it."""

    quote_free: Decimal
    base_free: Decimal
    position_qty: Decimal  # what tvdesk's own fills built (DESIGN.md)
    # What buying for one unit of quote really costs here, fees and slippage in: a
    # qty_pct of 100 then spends the whole balance instead of being refused for it.
    buy_cost: Decimal = Decimal(1)
    # Coins tvdesk's own resting sell orders hold: still its position, just not free.
    base_reserved: Decimal = Decimal(0)


@dataclass(frozen=True)
class OrderRequest:
    alert_id: str
    client_order_id: str
    mapping: Mapping
    side: str  # buy | sell
    order_type: str  # market | limit
    qty: Decimal
    price: Decimal | None  # the limit price, or the reference price of a market order
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    # Perpetuals (engine/derivatives.py): an order that only reduces the position, and
    # the leverage / margin mode to set on the market first (None / "": leave them).
    reduce_only: bool = False
    leverage: Decimal | None = None
    margin_mode: str = ""
    # A live reversal (brokers/reversal.py): the size held, closed reduce-only first; the
    # rest of ``qty`` then opens the other side. 0: one order.
    closes: Decimal = Decimal(0)


@dataclass(frozen=True)
class RestingOrder:
    """One of tvdesk's own orders resting on a market: what the alert action cancel takes off."""

    client_order_id: str
    side: str
    order_type: str
    qty: Decimal  # what it has yet to fill
    price: Decimal | None

    def describe(self) -> str:
        """The order in the trader's words: ``tvd01H… (limit buy 0.01 @ 49000)``."""
        at = f" @ {plain(self.price)}" if self.price is not None else ""
        kind = self.order_type.replace("_", "-")
        return f"{self.client_order_id} ({kind} {self.side} {plain(self.qty)}{at})"


def nothing_to_cancel(mapping: Mapping) -> str:
    return f"nothing to cancel: tvdesk has no resting order on {mapping.exchange} {mapping.symbol}"


def resting_text(mapping: Mapping, orders: Sequence[RestingOrder]) -> str:
    """``2 resting orders on binance BTC/USDT: tvdA (limit buy …), tvdB (…)``."""
    n = len(orders)
    listed = ", ".join(order.describe() for order in orders)
    return (
        f"{n} resting order{'' if n == 1 else 's'} on {mapping.exchange} {mapping.symbol}: {listed}"
    )


@dataclass
class Execution:
    """What happened at the broker, and what to write with the alert's outcome."""

    outcome: str  # filled | open | rejected | failed; canceled for the alert action cancel
    reason: str
    write: Writer | None = None
    events: list[Event] = field(default_factory=list)  # published after the commit
    placed: list[str] = field(default_factory=list)  # symbols of orders placed (risk counters)
    realized_pnl: Decimal = Decimal(0)
    trail: list[tuple[str, bool, str]] = field(default_factory=list)  # (step, ok, detail)


class Broker(Protocol):
    mode: str

    async def start(self) -> None:
        """Load what the broker needs (markets) and settle orders left in doubt."""
        ...

    async def stop(self) -> None: ...

    def last_price(self, exchange: str, symbol: str) -> Decimal | None: ...

    async def market_price(self, mapping: Mapping) -> Decimal | None:
        """A reference price for an alert that carries none (None when there is none)."""
        ...

    async def reference_price(self, mapping: Mapping) -> Decimal | None:
        """The exchange's price, to value an order at and check the alert's price against.

        None when the broker has no market data (paper without ``price_source = "market"``);
        raises ``Refusal`` or ``Unavailable`` when the exchange cannot say.
        """
        ...

    async def markets(self, exchange: str) -> Sequence[Market] | None:
        """The exchange's markets for symbol mapping; None when none are loaded (paper)."""
        ...

    async def recover(self, alert_id: str) -> Execution | None:
        """What an alert already did at the exchange when its outcome could not be recorded.

        The worker asks before deciding an alert again, so an order that was sent is
        settled, never decided anew (and never refused by a risk check after the fact).
        """
        ...

    async def holdings(self, mapping: Mapping) -> Holdings: ...

    async def conform(
        self, mapping: Mapping, qty: Decimal, price: Decimal | None
    ) -> tuple[Decimal, Decimal | None, str]:
        """Round to the market's precision and check its limits; raises ``Refusal``.

        Returns the rounded qty and price and a sentence for the trail.
        """
        ...

    async def execute(self, request: OrderRequest, now: float) -> Execution: ...

    async def resting(self, mapping: Mapping, now: float) -> list[RestingOrder]:
        """tvdesk's own resting orders on this market, oldest first: what a cancel takes off."""
        ...

    async def cancel_resting(self, alert_id: str, mapping: Mapping, now: float) -> Execution:
        """Cancel tvdesk's own resting orders on this market (the alert action cancel).

        Outcome ``canceled`` (the reason names each order), ``rejected`` when none rests,
        ``failed`` when the exchange would not cancel one (named, in the exchange's words).
        Orders tvdesk did not place are never touched; the alerts whose orders were
        canceled are settled with it (``write`` returns them, or ``events`` say so).
        """
        ...

    def discard(self, exchange: str, alert_id: str) -> None:
        """The outcome could not be recorded: drop in-memory state the journal lacks."""
        ...
