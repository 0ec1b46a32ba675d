"""The worker: journaled alerts become orders, one at a time, exactly once.

Alerts are taken in arrival order. Each step (map, size, risk, submit,
record) adds a line to the alert's decision trail with its timing. The
outcome and everything the broker did are written in one transaction, so
after a crash an alert is either finished or still pending — never half done
and never done twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tvdesk.brokers.base import Broker, Execution, OrderRequest, Refusal, Unavailable
from tvdesk.brokers.paper import seed_balances
from tvdesk.config.settings import Settings
from tvdesk.core.alert import Alert, alert_from_dict
from tvdesk.core.clock import Clock
from tvdesk.core.events import AlertDecided, OrderFilled
from tvdesk.core.ids import client_order_id
from tvdesk.core.risk import OrderIntent, RiskLimits, RiskState, check
from tvdesk.core.sizing import SizingError, size_order
from tvdesk.core.symbols import Mapping, MapRule, Unmapped, normalise, resolve
from tvdesk.store.journal import Journal, JournalError, connect
from tvdesk.support.bus import EventBus

log = logging.getLogger(__name__)

INTERNAL_PREFIX = "internal:"  # the client of alerts tvdesk makes itself (flatten)
RETRY_DELAY_S = 1.0
# How long stop() lets the alert in flight finish: with the rest of a shutdown it must
# stay inside DESIGN's 10 s (a live request alone may take that long, retries more).
STOP_GRACE_S = 5.0


@dataclass
class Job:
    """An accepted alert waiting for the worker."""

    alert_id: str
    alert: dict[str, Any]
    client: str
    received_at: float
    trail: list[dict[str, Any]] = field(default_factory=list)
    latency: dict[str, float] = field(default_factory=dict)
    replay_of: str | None = None
    mode: str | None = None  # the engine's mode when it was accepted (None: before v2)


@dataclass
class Decision:
    outcome: str  # filled | open | rejected | failed | dry_run
    reason: str
    execution: Execution | None = None
    broker: Broker | None = None
    exchange: str | None = None


class _Trail:
    def __init__(self, job: Job) -> None:
        self.entries = list(job.trail)
        self.latency = dict(job.latency)
        self._t = time.perf_counter()

    def add(self, step: str, ok: bool, detail: str) -> None:
        now = time.perf_counter()
        ms = round((now - self._t) * 1000, 3)
        self._t = now
        self.entries.append({"step": step, "ok": ok, "detail": detail, "ms": ms})
        self.latency[step] = round(self.latency.get(step, 0.0) + ms, 3)


class Worker:
    def __init__(
        self,
        journal: Journal,
        brokers: Callable[[str], Broker],
        settings: Callable[[], Settings],
        clock: Clock,
        bus: EventBus,
        on_daily_loss: Callable[[str, bool], None] | None = None,
    ) -> None:
        self.journal = journal
        # Called with (reason, True) when today's realised loss reaches the limit, and
        # with (reason, False) on the next UTC day, to trip and lift the kill switch.
        self.on_daily_loss = on_daily_loss
        self._tripped_day: int | None = None  # the UTC day (epoch s) the limit tripped
        self.brokers = brokers  # mode -> the broker of that mode
        self.settings = settings
        self.clock = clock
        self.bus = bus
        self._queue: deque[Job] = deque()
        self._queued: set[str] = set()  # alert ids in the queue: each is taken once
        self._started: list[Broker] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._orders_at: list[float] = []  # placement times today (UTC) and the last minute
        self._last_order_at: dict[str, float] = {}
        # Realised P&L since 00:00 UTC per (mode, quote currency): paper losses never count
        # against live, and a loss in BTC is not added to one in USDT.
        self._pnl_today: dict[tuple[str, str], Decimal] = {}
        self._day = -1
        self.in_flight: str | None = None

    # -- lifecycle -----------------------------------------------------------

    async def start(self) -> None:
        """Start the broker (a live one settles orders left in doubt first), then the loop."""
        settings = self.settings()
        exchange, balances = settings.exchange.default, dict(settings.paper.balances)
        await self.journal.run(lambda conn: seed_balances(conn, exchange, balances))
        # A live order left in doubt is settled before anything else, and an open one is
        # followed until it closes, even in paper mode: the exchange still acts on them.
        if settings.mode != "live" and await asyncio.to_thread(self._live_unsettled):
            await self._broker("live")
        await self._broker(settings.mode)
        pending = await asyncio.to_thread(self._load_state)
        # Alerts accepted while the broker started are in both: keep arrival order, once each.
        arrived, self._queue = list(self._queue), deque(pending)
        self._queued = {job.alert_id for job in pending}
        for job in arrived:
            if job.alert_id not in self._queued:
                self._queue.append(job)
                self._queued.add(job.alert_id)
        self._task = asyncio.create_task(self._run(), name="tvdesk-worker")
        if pending:
            log.info("resuming %d alerts accepted before the last stop", len(pending))
        if self._queue:
            self._wake.set()

    async def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        """Finish the alert in flight, for up to ``grace_s``; leave the queued ones.

        One still in flight then is left as a crash would leave it, and settled the same
        way at the next start: it is still pending, and an order it sent has its
        ``submitting`` row, so the exchange is asked about it before anything is re-sent.
        """
        self._stopping = True
        self._wake.set()
        task, self._task = self._task, None
        if task is not None:
            done, _ = await asyncio.wait({task}, timeout=grace_s)
            if done:
                task.result()
            else:
                log.warning(
                    "alert %s still in flight after %.0f s: stopping anyway; the next start "
                    "settles it (an order it sent is looked up at the exchange first)",
                    self.in_flight,
                    grace_s,
                )
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        for broker in self._started:
            await broker.stop()
        self._started.clear()

    async def _broker(self, mode: str) -> Broker:
        """The broker of ``mode``, started on first use (the mode can change at run time)."""
        broker = self.brokers(mode)
        if broker not in self._started:
            await broker.start()
            self._started.append(broker)
        return broker

    def submit(self, job: Job) -> None:
        if job.alert_id in self._queued:
            return
        self._queued.add(job.alert_id)
        self._queue.append(job)
        self._wake.set()

    @property
    def depth(self) -> int:
        return len(self._queue)

    def _live_unsettled(self) -> bool:
        conn = connect(self.journal.path, readonly=True)
        try:
            return (
                conn.execute(
                    "SELECT 1 FROM orders WHERE mode = 'live' AND status IN"
                    " ('submitting', 'unknown', 'open', 'partially_filled') LIMIT 1"
                ).fetchone()
                is not None
            )
        finally:
            conn.close()

    def _load_state(self) -> list[Job]:
        conn = connect(self.journal.path, readonly=True)
        try:
            now = self.clock.time()
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
            return [
                Job(
                    alert_id=r["alert_id"],
                    alert=json.loads(r["alert"]),
                    client=r["client"] or "",
                    received_at=r["received_at"],
                    trail=json.loads(r["trail"]),
                    latency=json.loads(r["latency"]),
                    replay_of=r["replay_of"],
                    mode=r["mode"],
                )
                for r in conn.execute(
                    "SELECT alert_id, alert, client, received_at, trail, latency, replay_of, mode"
                    " FROM alerts WHERE outcome = 'pending' ORDER BY seq"
                )
            ]
        finally:
            conn.close()

    # -- the loop ------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue and not self._stopping:
                job = self._queue[0]
                self.in_flight = job.alert_id
                try:
                    await self._process(job)
                except JournalError as exc:
                    # Not recorded, so not done: it runs again once the journal takes writes.
                    log.error("alert %s not recorded (%s); retrying", job.alert_id, exc)
                    await asyncio.sleep(RETRY_DELAY_S)
                    continue
                except Exception:
                    # A bug must not end the worker: every later alert would stay pending.
                    # This one stays as the journal has it (pending: it runs at the next start).
                    log.exception("alert %s: tvdesk failed while finishing it", job.alert_id)
                finally:
                    self.in_flight = None
                self._queued.discard(self._queue.popleft().alert_id)
            if self._stopping:
                return

    async def _process(self, job: Job) -> None:
        trail = _Trail(job)
        trail.latency["wait"] = round(max(0.0, self.clock.time() - job.received_at) * 1000, 3)
        try:
            decision = await self._decide(job, trail)
        except Exception as exc:  # a bug must not stop the worker or lose the alert silently
            log.exception("alert %s failed inside tvdesk", job.alert_id)
            decision = Decision("failed", f"tvdesk internal error: {type(exc).__name__}: {exc}")
            trail.add("error", False, decision.reason)
        now = self.clock.time()
        execution = decision.execution
        write = execution.write if execution is not None else None

        def record(conn: Any) -> list[tuple[str, str, str]]:
            settled = write(conn) if write is not None else []
            for alert_id, outcome, reason in settled:
                conn.execute(
                    "UPDATE alerts SET outcome = ?, reason = ?, decided_at = ?"
                    " WHERE alert_id = ? AND outcome = 'open'",
                    (outcome, reason, now, alert_id),
                )
            conn.execute(
                "UPDATE alerts SET outcome = ?, reason = ?, trail = ?, latency = ?, decided_at = ?"
                " WHERE alert_id = ?",
                (
                    decision.outcome,
                    decision.reason,
                    json.dumps(trail.entries),
                    json.dumps(trail.latency),
                    now,
                    job.alert_id,
                ),
            )
            return settled

        trail.add("record", True, f"{decision.outcome}: {decision.reason}")
        try:
            # Losing a paper outcome in a power cut loses its fill with it: the alert is
            # still pending and runs again. Live outcomes are synced: the exchange acted.
            live = decision.broker is not None and decision.broker.mode != "paper"
            settled = await self.journal.run(record, durable=live)
        except JournalError:
            if decision.broker is not None and decision.exchange:
                decision.broker.discard(decision.exchange)
            raise
        realized: tuple[str, str] | None = None  # (mode, quote) whose P&L this changed
        if execution is not None:
            for symbol in execution.placed:
                self._orders_at.append(now)
                self._last_order_at[symbol] = now
            filled = [e.symbol for e in execution.events if isinstance(e, OrderFilled)]
            if filled and decision.broker is not None:  # one execution fills one market
                realized = (decision.broker.mode, quote_of(filled[0]))
                self._add_pnl(realized, execution.realized_pnl)
            for event in execution.events:
                self.bus.publish(event)
        for alert_id, outcome, reason in settled:
            self.bus.publish(AlertDecided(now, alert_id, outcome, reason))
        self.bus.publish(AlertDecided(now, job.alert_id, decision.outcome, decision.reason))
        if realized is not None:
            self._check_daily_loss(now, realized)

    # -- deciding --------------------------------------------------------------

    async def _decide(self, job: Job, trail: _Trail) -> Decision:
        # First, so that the first alert of a new UTC day sees a daily-loss trip lifted.
        self.roll_day(self.clock.time())
        settings = self.settings()
        if settings.mode == "live" and job.mode == "paper":
            # The trader agreed to live for what comes next, not for what paper had queued.
            reason = (
                "accepted while tvdesk was in paper mode, and it is live now: not sent to "
                "the exchange (send the alert again to trade it live)"
            )
            trail.add("mode", False, reason)
            return Decision("rejected", reason)
        broker = await self._broker(settings.mode)
        if job.replay_of:
            trail.add(
                "replay", True, f"replay of {job.replay_of}: duplicate and age checks skipped"
            )
        try:
            # An order this alert already sent is settled, never decided anew.
            execution = await broker.recover(job.alert_id)
            if execution is not None:
                for step, ok, detail in execution.trail:
                    trail.add(step, ok, detail)
                trail.add("submit", execution.outcome in ("filled", "open"), execution.reason)
                exchange = settings.exchange.default
                return Decision(execution.outcome, execution.reason, execution, broker, exchange)
            return await self._decide_steps(job, trail, settings, broker)
        except Unavailable as exc:  # the exchange cannot be used now: nothing was placed
            trail.add("exchange", False, str(exc))
            return Decision("failed", str(exc))

    async def _decide_steps(
        self, job: Job, trail: _Trail, settings: Settings, broker: Broker
    ) -> Decision:
        alert = alert_from_dict(job.alert)
        internal = job.client.startswith(INTERNAL_PREFIX)

        try:
            mapping = await self._map(alert, settings, internal, broker)
        except Unmapped as exc:
            trail.add("map", False, str(exc))
            return Decision("rejected", str(exc))
        trail.add("map", True, mapping.describe(alert.symbol))
        price = alert.price
        if price is None and (internal or broker.mode == "live"):
            try:
                price = await broker.market_price(mapping)
            except Refusal as exc:
                trail.add("price", False, str(exc))
                return Decision("rejected", str(exc))
            if price is not None and not internal:
                trail.add("price", True, f"no price in the alert: {price} from {mapping.exchange}")

        holdings = await broker.holdings(mapping)
        try:
            sizing = size_order(
                alert,
                multiplier=mapping.qty_multiplier,
                price=price,
                quote_free=holdings.quote_free,
                base_free=holdings.base_free,
                position_qty=holdings.position_qty,
                base=mapping.base,
                quote=mapping.quote,
                spot=":" not in mapping.symbol,
                buy_cost=holdings.buy_cost,
                base_reserved=holdings.base_reserved,
            )
        except SizingError as exc:
            trail.add("size", False, str(exc))
            return Decision("rejected", str(exc))
        for note in sizing.notes:
            trail.add("size", True, note)
        try:
            qty, price, note = await broker.conform(mapping, sizing.qty, price)
        except Refusal as exc:
            trail.add("precision", False, str(exc))
            return Decision("rejected", str(exc))
        trail.add("precision", True, note)

        limits = _limits(settings)
        if internal:
            limits = RiskLimits()  # flattening is how the kill switch protects; never refuse it
        elif alert.test and price is None:
            limits = replace(limits, max_notional=Decimal(0), max_position_notional=Decimal(0))
            trail.add("risk", True, "test alert without a price: notional limits not checked")
        now = self.clock.time()
        verdict = check(
            OrderIntent(mapping.symbol, mapping.quote, sizing.side, qty, price, alert.confidence),
            limits,
            self._risk_state(mapping.symbol, holdings.position_qty, now, broker.mode),
            now,
        )
        if not verdict.ok:
            trail.add("risk", False, verdict.reason)
            return Decision("rejected", verdict.reason)
        trail.add("risk", True, "within the risk limits")

        if alert.test:
            reason = f"would {sizing.side} {qty} {mapping.symbol} on {mapping.exchange} (test)"
            trail.add("submit", True, reason)
            return Decision("dry_run", reason)
        request = OrderRequest(
            alert_id=job.alert_id,
            client_order_id=client_order_id(job.alert_id),
            mapping=mapping,
            side=sizing.side,
            order_type=alert.order_type,
            qty=qty,
            price=price,
            stop_loss=alert.stop_loss,
            take_profit=alert.take_profit,
        )
        try:
            execution = await broker.execute(request, now)
        except Refusal as exc:
            trail.add("submit", False, str(exc))
            return Decision("rejected", str(exc))
        for step, ok, detail in execution.trail:
            trail.add(step, ok, detail)
        trail.add("submit", execution.outcome in ("filled", "open"), execution.reason)
        return Decision(execution.outcome, execution.reason, execution, broker, mapping.exchange)

    async def _map(
        self, alert: Alert, settings: Settings, internal: bool, broker: Broker
    ) -> Mapping:
        if internal:
            rules = [MapRule(alert.symbol, alert.exchange or "", alert.symbol)]
            return resolve(
                alert.symbol,
                exchange=alert.exchange,
                default_exchange=settings.exchange.default,
                rules=rules,
                auto=False,
            )
        auto_map = settings.exchange.auto_map
        auto = auto_map == "always" or (auto_map == "paper" and settings.mode == "paper")
        rules = [
            MapRule(r.tv, r.exchange, r.symbol, Decimal(r.qty_multiplier), r.enabled)
            for r in settings.symbols
        ]
        exchange = (alert.exchange or settings.exchange.default).strip().lower()
        listed = any(
            normalise(r.tv).key == normalise(alert.symbol).key and r.exchange == exchange
            for r in rules
        )
        # The exchange's own markets, when the broker has them (live), resolve what the
        # table doesn't list; a table row never waits for them.
        markets = None if listed else await broker.markets(exchange)
        return resolve(
            alert.symbol,
            exchange=alert.exchange,
            default_exchange=settings.exchange.default,
            rules=rules,
            auto=auto,
            market_type=settings.exchange.market_type,
            markets=markets,
        )

    def realized_elsewhere(self, pnl: Decimal, symbol: str, mode: str = "live") -> None:
        """P&L of a fill recorded outside the worker (a live limit or stop filling later)."""
        now = self.clock.time()
        self.roll_day(now)
        key = (mode, quote_of(symbol))
        self._add_pnl(key, pnl)
        self._check_daily_loss(now, key)

    def _add_pnl(self, key: tuple[str, str], pnl: Decimal) -> None:
        self._pnl_today[key] = self._pnl_today.get(key, Decimal(0)) + pnl

    def _check_daily_loss(self, now: float, key: tuple[str, str]) -> None:
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

    def _risk_state(self, symbol: str, position_qty: Decimal, now: float, mode: str) -> RiskState:
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


def _limits(settings: Settings) -> RiskLimits:
    r = settings.risk
    return RiskLimits(
        kill_switch=r.kill_switch,
        max_qty=Decimal(r.max_qty),
        max_notional=Decimal(r.max_notional),
        max_position_notional=Decimal(r.max_position_notional),
        max_orders_per_minute=r.max_orders_per_minute,
        max_orders_per_day=r.max_orders_per_day,
        daily_loss_limit=Decimal(r.daily_loss_limit),
        min_confidence=Decimal(r.min_confidence),
        cooldown_s=r.cooldown_s,
    )


def day_start(now: float) -> float:
    """The start of ``now``'s UTC day, as unix seconds."""
    day = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day.timestamp()


def quote_of(symbol: str) -> str:
    """USDT of "BTC/USDT" and of "BTC/USDT:USDT"."""
    return symbol.partition(":")[0].partition("/")[2]
