"""What the risk limits count, kept between alerts: orders placed today (UTC) and in the
last minute, the last order per symbol, today's realised P&L per (mode, quote currency);
and the daily loss limit's trip, lifted on the next UTC day.

Orders are decided one at a time but sent concurrently (``engine.submits``), so a decided
order *reserves* what it will use before it is sent: a place in the order counts, its
symbol's cooldown, and the funds it spends. Every later decision sees the reservations as
if those orders were placed; a refused or failed order releases its reservation, a placed
one is confirmed as placed. Every limit stays as exact as one order at a time.
"""

from __future__ import annotations

import itertools
import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal

from tvdesk.brokers.base import Holdings
from tvdesk.config.schema import Settings
from tvdesk.core.clock import Clock
from tvdesk.core.risk import RiskState
from tvdesk.core.symbols import Mapping

log = logging.getLogger(__name__)
_ids = itertools.count(1)

Account = tuple[str, str]  # (mode, exchange): whose funds


@dataclass
class Reservation:
    """What one decided order holds until its outcome is known."""

    symbol: str
    at: float  # when it was decided: it counts as an order placed then
    account: Account
    funds: dict[str, Decimal] = field(default_factory=dict)  # currency -> amount
    id: int = field(default_factory=lambda: next(_ids))


class RiskCounters:
    def __init__(
        self,
        settings: Callable[[], Settings],
        clock: Clock,
        on_daily_loss: Callable[[str, bool], None] | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        # Called with (reason, True) when today's realised loss reaches the limit, and
        # with (reason, False) on the next UTC day, to trip and lift the kill switch.
        self.on_daily_loss = on_daily_loss
        self._tripped_day: int | None = None  # the UTC day (epoch s) the limit tripped
        self._orders_at: list[float] = []  # placement times today (UTC) and the last minute
        self._last_order_at: dict[str, float] = {}
        # Realised P&L since 00:00 UTC per (mode, quote currency): paper losses never count
        # against live, and a loss in BTC is not added to one in USDT.
        self._pnl_today: dict[tuple[str, str], Decimal] = {}
        self._day = -1
        self._reserved: dict[int, Reservation] = {}  # decided orders not yet settled

    def load(self, conn: sqlite3.Connection, now: float) -> None:
        """Count from the journal what was placed and realised before this start."""
        today = day_start(now)
        self._day = int(today)
        self._orders_at = [
            r[0]
            for r in conn.execute(
                "SELECT created_at FROM orders WHERE created_at >= ? ORDER BY created_at",
                (min(today, now - 60),),
            )
        ]
        for symbol, at in conn.execute(
            "SELECT symbol, MAX(created_at) FROM orders GROUP BY symbol"
        ):
            self._last_order_at[symbol] = at
        self._pnl_today = {}
        for mode, symbol, pnl in conn.execute(
            "SELECT mode, symbol, realized_pnl FROM fills WHERE at >= ?", (today,)
        ):
            key = (mode, quote_of(symbol))
            self._pnl_today[key] = self._pnl_today.get(key, Decimal(0)) + Decimal(pnl)

    def placed(self, symbol: str, now: float) -> None:
        """An order was placed on ``symbol`` at ``now``."""
        self._orders_at.append(now)
        self._last_order_at[symbol] = now

    # -- reservations: decided orders on their way to the exchange --------------------

    def reserve(
        self,
        mapping: Mapping,
        mode: str,
        now: float,
        funds: dict[str, Decimal] | None = None,
    ) -> Reservation:
        """A decided order takes its place in the counts and the funds it will spend."""
        funds = {c: a for c, a in (funds or {}).items() if a > 0}
        held = Reservation(mapping.symbol, now, (mode, mapping.exchange), funds)
        self._reserved[held.id] = held
        return held

    def funds_spent(self, held: Reservation) -> None:
        """The broker's own balances now show the order (it was placed or refused)."""
        held.funds = {}

    def release(self, held: Reservation) -> None:
        """The order was refused or failed, or its outcome could not be recorded."""
        self._reserved.pop(held.id, None)

    def confirm(self, held: Reservation, symbols: list[str], now: float) -> None:
        """The order's outcome is recorded: what it placed counts as placed from now on."""
        self._reserved.pop(held.id, None)
        for symbol in symbols:
            self.placed(symbol, now)

    def unreserved(self, holdings: Holdings, mode: str, mapping: Mapping) -> Holdings:
        """``holdings`` less the funds that orders decided but not yet settled will spend."""
        account = (mode, mapping.exchange)
        quote = base = Decimal(0)
        for held in self._reserved.values():
            if held.account == account:
                quote += held.funds.get(mapping.quote, Decimal(0))
                base += held.funds.get(mapping.base, Decimal(0))
        if not quote and not base:
            return holdings
        return replace(
            holdings, quote_free=holdings.quote_free - quote, base_free=holdings.base_free - base
        )

    @property
    def reserved(self) -> int:
        """How many decided orders are still on their way."""
        return len(self._reserved)

    def realized_elsewhere(self, pnl: Decimal, symbol: str, mode: str = "live") -> None:
        """P&L of a fill recorded outside the worker (a live limit or stop filling later)."""
        now = self.clock.time()
        self.roll_day(now)
        key = (mode, quote_of(symbol))
        self.add_pnl(key, pnl)
        self.check_daily_loss(now, key)

    def add_pnl(self, key: tuple[str, str], pnl: Decimal) -> None:
        self._pnl_today[key] = self._pnl_today.get(key, Decimal(0)) + pnl

    def check_daily_loss(self, now: float, key: tuple[str, str]) -> None:
        limit = Decimal(self.settings().risk.daily_loss_limit)
        day = int(day_start(now))
        pnl = self._pnl_today.get(key, Decimal(0))
        if limit <= 0 or self._tripped_day == day or pnl > -limit:
            return
        self._tripped_day = day
        mode, quote = key
        reason = (
            f"daily loss limit reached: realised P&L today {pnl:,.2f} {quote} ({mode}) "
            f"is at or below -{limit:,.2f} (daily_loss_limit); no new orders until 00:00 UTC"
        )
        log.warning(reason)
        if self.on_daily_loss is not None:
            self.on_daily_loss(reason, True)

    @property
    def tripped_day(self) -> int | None:
        """The UTC day (epoch s at 00:00) the daily loss limit tripped, if it did."""
        return self._tripped_day

    def restore_trip(self, day: int) -> None:
        """A trip from before a restart: lifted like one of this run's at the next UTC day."""
        self._tripped_day = day

    def roll_day(self, now: float) -> None:
        """When a new UTC day has begun: today's loss starts at 0 and a trip is lifted."""
        day = int(day_start(now))
        if day == self._day:
            return
        self._day = day
        self._pnl_today = {}
        if self._tripped_day is not None and self._tripped_day != day:
            self._tripped_day = None
            if self.on_daily_loss is not None:
                self.on_daily_loss("a new UTC day: the daily loss limit starts again", False)

    def risk_state(self, symbol: str, position_qty: Decimal, now: float, mode: str) -> RiskState:
        day = int(day_start(now))
        self.roll_day(now)
        # Today's orders plus the last minute (the per-minute window crosses midnight).
        horizon = min(day, now - 60)
        self._orders_at = [t for t in self._orders_at if t >= horizon]
        # Orders decided but not yet settled count as placed when they were decided.
        pending = [r.at for r in self._reserved.values()]
        last = [r.at for r in self._reserved.values() if r.symbol == symbol]
        if symbol in self._last_order_at:
            last.append(self._last_order_at[symbol])
        return RiskState(
            position_qty=position_qty,
            orders_at=tuple(sorted([*self._orders_at, *pending])),
            realized_pnl_today=self._pnl_today.get((mode, quote_of(symbol)), Decimal(0)),
            last_order_at=max(last) if last else None,
        )


def day_start(now: float) -> float:
    """The start of ``now``'s UTC day, as unix seconds."""
    day = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day.timestamp()


def funds_for(
    mapping: Mapping,
    side: str,
    qty: Decimal,
    value: Decimal | None,
    buy_cost: Decimal,
    *,
    leverage: Decimal | None = None,
    reduce_only: bool = False,
) -> dict[str, Decimal]:
    """What an order will spend: quote for a spot buy, coins for a spot sell, margin for a
    perpetual (the whole notional when the leverage is the exchange's own: it may be 1×)."""
    if ":" in mapping.symbol:
        if reduce_only or value is None:
            return {}
        margin = qty * value * buy_cost
        return {mapping.quote: margin / leverage if leverage and leverage > 0 else margin}
    if side == "sell":
        return {mapping.base: qty}
    return {mapping.quote: qty * value * buy_cost} if value is not None else {}


def quote_of(symbol: str) -> str:
    """USDT of "BTC/USDT" and of "BTC/USDT:USDT"."""
    return symbol.partition(":")[0].partition("/")[2]
