"""The worker: journaled alerts become orders, exactly once: decided one at a time, sent
concurrently across markets and in arrival order within one.

Alerts are taken in arrival order, each into the chain of its market (``submits``).
Each step (map, size, risk, submit, record) adds a line to the alert's decision trail
with its timing. An order decided on reserves its place in the limits before it is
sent, so the limits hold as if one order went at a time. The outcome and everything the
broker did are written in one transaction, so after a crash an alert is either finished
or still pending — never half done and never done twice.

This module holds the queue, the decisions' lock and the broker's lifecycle; the steps
that decide a new alert are in ``decide``, the chains that send in ``submits``, the
journal rows in ``records``, and what the risk limits count in ``counters``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable

from tvdesk.brokers.base import Broker, Unavailable
from tvdesk.brokers.paper import PaperBroker
from tvdesk.brokers.paper_store import seed_balances
from tvdesk.config.schema import Settings
from tvdesk.core.alert.fields import Alert
from tvdesk.core.clock import Clock
from tvdesk.core.events import AlertDecided, OrderFilled
from tvdesk.core.symbols import Mapping
from tvdesk.engine.counters import RiskCounters, quote_of
from tvdesk.engine.decide import decide_steps, map_symbol
from tvdesk.engine.job import ORIGIN_FLATTEN, Decision, Job, Trail
from tvdesk.engine.records import live_unsettled, outcome_writer, pending_jobs
from tvdesk.engine.submits import NO_MARKET, Market, MarketChains, Submit, market_of, send
from tvdesk.store.errors import JournalError
from tvdesk.store.journal import Journal
from tvdesk.store.schema import connect
from tvdesk.support.bus import EventBus

log = logging.getLogger(__name__)

RETRY_DELAY_S = 1.0
# How long stop() lets the alerts in flight finish: with the rest of a shutdown it must
# stay inside DESIGN's 10 s (a live request alone may take that long, retries more).
STOP_GRACE_S = 5.0
MAX_ROUTES = 4096  # symbols remembered (paper) before the memo starts afresh


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
        # on_daily_loss trips and lifts the kill switch (see RiskCounters).
        self.counters = RiskCounters(settings, clock, on_daily_loss)
        self.brokers = brokers  # mode -> the broker of that mode
        self.settings = settings
        self.clock = clock
        self.bus = bus
        self._queue: deque[Job] = deque()  # arrived, not yet in their market's chain
        self._queued: set[str] = set()  # alert ids in the queue or a chain: each taken once
        self._started: list[Broker] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.chains = MarketChains(self._take, lambda job: self._queued.discard(job.alert_id))
        # One decision at a time, across every market: what it reserves, the next one sees.
        self._deciding = asyncio.Lock()
        # Paper's symbol -> market, for the settings and broker they were found with.
        self._routes: dict[tuple[str, str | None, bool], Mapping] = {}
        self._routes_by: tuple[Settings, Broker] | None = None

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
        """Finish the alerts in flight, for up to ``grace_s``; leave the queued ones.

        One still in flight then is left as a crash would leave it, and settled the same
        way at the next start: it is still pending, and an order it sent has its
        ``submitting`` row, so the exchange is asked about it before anything is re-sent.
        """
        self._stopping = True
        self._wake.set()
        started = self.clock.monotonic()
        task, self._task = self._task, None
        if task is not None:  # the loop that hands alerts to their chains
            done, _ = await asyncio.wait({task}, timeout=grace_s)
            if done:
                task.result()
            else:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        left = max(0.0, grace_s - (self.clock.monotonic() - started))
        for alert_id in await self.chains.stop(left):
            log.warning(
                "alert %s still in flight after %.0f s: stopping anyway; the next start "
                "settles it (an order it sent is looked up at the exchange first)",
                alert_id,
                grace_s,
            )
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
        """Alerts accepted and not yet decided and recorded."""
        return len(self._queue) + self.chains.waiting

    def _live_unsettled(self) -> bool:
        conn = connect(self.journal.path, readonly=True)
        try:
            return live_unsettled(conn)
        finally:
            conn.close()

    def _load_state(self) -> list[Job]:
        conn = connect(self.journal.path, readonly=True)
        try:
            self.counters.load(conn, self.clock.time())
            return pending_jobs(conn)
        finally:
            conn.close()

    # -- the loop ------------------------------------------------------------

    async def _run(self) -> None:
        """Hand each alert, in arrival order, to the chain of the market it trades on."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue and not self._stopping:
                job = self._queue.popleft()
                self.chains.add(await self._market(job), job)
            if self._stopping:
                return

    async def _market(self, job: Job) -> Market:
        """The market ``job`` trades on; ``NO_MARKET`` when it has none (it is refused)."""
        settings = self.settings()
        if settings.mode == "live" and job.mode == "paper":
            return NO_MARKET  # refused at once: see _decide
        try:
            broker = await self._broker(settings.mode)
            alert = job.parsed()
            internal = job.origin == ORIGIN_FLATTEN
            mapping = await self._map(alert, settings, internal, broker)
            job.route(settings, broker, mapping)  # deciding takes it as it is
            return market_of(broker.mode, mapping)
        except Exception:  # unmapped, or the exchange not ready: deciding says why
            return NO_MARKET

    async def _map(
        self, alert: Alert, settings: Settings, internal: bool, broker: Broker
    ) -> Mapping:
        """``map_symbol``, remembered for the paper broker: it has no list of markets, so
        there a symbol maps by the settings alone, the same way until they are replaced."""
        if not isinstance(broker, PaperBroker):
            return await map_symbol(alert, settings, internal, broker)
        by = self._routes_by
        if by is None or by[0] is not settings or by[1] is not broker:
            self._routes, self._routes_by = {}, (settings, broker)
        elif len(self._routes) > MAX_ROUTES:
            self._routes = {}
        key = (alert.symbol, alert.exchange, internal)
        mapping = self._routes.get(key)
        if mapping is None:
            mapping = self._routes[key] = await map_symbol(alert, settings, internal, broker)
        return mapping

    async def _take(self, job: Job) -> None:
        """One alert from its decision to its recorded outcome (a step of its chain)."""
        while not self._stopping:
            try:
                await self._process(job)
            except JournalError as exc:
                # Not recorded, so not done: it runs again once the journal takes writes.
                log.error("alert %s not recorded (%s); retrying", job.alert_id, exc)
                await asyncio.sleep(RETRY_DELAY_S)
                continue
            except Exception:
                # A bug must not end the chain: every later alert would stay pending.
                # This one stays as the journal has it (pending: it runs at the next start).
                log.exception("alert %s: tvdesk failed while finishing it", job.alert_id)
            return

    async def _process(self, job: Job) -> None:
        trail = Trail(job)
        async with self._deciding:
            if self._stopping:
                return  # not decided: it stays pending for the next start
            trail.latency["wait"] = round(max(0.0, self.clock.time() - job.received_at) * 1000, 3)
            try:
                decided = await self._decide(job, trail)
            except Exception as exc:  # a bug must not stop the worker or lose the alert
                decided = self._internal_error(job, trail, exc)
        held = decided.held if isinstance(decided, Submit) else None
        if isinstance(decided, Submit):
            decision = await self._send(job, decided, trail)
        else:
            decision = decided
        now = self.clock.time()
        execution = decision.execution
        record = outcome_writer(job, decision, trail, now)

        trail.add("record", True, f"{decision.outcome}: {decision.reason}")
        try:
            # Losing a paper outcome in a power cut loses its fill with it: the alert is
            # still pending and runs again. Live outcomes are synced: the exchange acted.
            live = decision.broker is not None and decision.broker.mode != "paper"
            settled = await self.journal.run(record, durable=live)
        except JournalError:
            if held is not None:
                self.counters.release(held)  # the retry counts what it placed
            if decision.broker is not None and decision.exchange:
                decision.broker.discard(decision.exchange, job.alert_id)
            raise
        placed = execution.placed if execution is not None else []
        realized: tuple[str, str] | None = None  # (mode, quote) whose P&L this changed
        if held is not None:
            self.counters.confirm(held, placed, now)
        else:
            for symbol in placed:
                self.counters.placed(symbol, now)
        if execution is not None:
            filled = [e.symbol for e in execution.events if isinstance(e, OrderFilled)]
            if filled and decision.broker is not None:  # one execution fills one market
                realized = (decision.broker.mode, quote_of(filled[0]))
                self.counters.add_pnl(realized, execution.realized_pnl)
            for event in execution.events:
                self.bus.publish(event)
        for alert_id, outcome, reason in settled:
            self.bus.publish(AlertDecided(now, alert_id, outcome, reason))
        self.bus.publish(AlertDecided(now, job.alert_id, decision.outcome, decision.reason))
        if realized is not None:
            self.counters.check_daily_loss(now, realized)

    async def _send(self, job: Job, submit: Submit, trail: Trail) -> Decision:
        """Send a decided order; what it reserved is released unless it placed something."""
        try:
            decision = await send(submit, trail)
        except BaseException as exc:
            self.counters.release(submit.held)
            if not isinstance(exc, Exception):
                raise  # cancelled at stop: left as a crash leaves it
            return self._internal_error(job, trail, exc)
        self.counters.funds_spent(submit.held)  # the broker's balances show the order now
        if decision.execution is None or not decision.execution.placed:
            self.counters.release(submit.held)
        return decision

    def _internal_error(self, job: Job, trail: Trail, exc: Exception) -> Decision:
        log.error("alert %s failed inside tvdesk", job.alert_id, exc_info=exc)
        decision = Decision("failed", f"tvdesk internal error: {type(exc).__name__}: {exc}")
        trail.add("error", False, decision.reason)
        return decision

    # -- deciding --------------------------------------------------------------

    async def _decide(self, job: Job, trail: Trail) -> Decision | Submit:
        # First, so that the first alert of a new UTC day sees a daily-loss trip lifted.
        self.counters.roll_day(self.clock.time())
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
            return await decide_steps(job, trail, settings, broker, self.counters, self.clock)
        except Unavailable as exc:  # the exchange cannot be used now: nothing was placed
            trail.add("exchange", False, str(exc))
            return Decision("failed", str(exc))
