"""What the risk limits count, kept between alerts: orders placed today (UTC) and in the
last minute, the last order per symbol, today's realised P&L per (mode, quote currency);
and the daily loss limit's trip, lifted on the next UTC day."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

from tvdesk.config.schema import Settings
from tvdesk.core.clock import Clock
from tvdesk.core.risk import RiskState

log = logging.getLogger(__name__)


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
        return RiskState(
            position_qty=position_qty,
            orders_at=tuple(self._orders_at),
            realized_pnl_today=self._pnl_today.get((mode, quote_of(symbol)), Decimal(0)),
            last_order_at=self._last_order_at.get(symbol),
        )


def day_start(now: float) -> float:
    """The start of ``now``'s UTC day, as unix seconds."""
    day = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day.timestamp()


def quote_of(symbol: str) -> str:
    """USDT of "BTC/USDT" and of "BTC/USDT:USDT"."""
    return symbol.partition(":")[0].partition("/")[2]
