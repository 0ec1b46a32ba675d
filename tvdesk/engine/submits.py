"""Orders reach the exchange concurrently across markets, in arrival order within one.

Every alert joins the chain of the market it trades on, ``(mode, exchange, symbol)``; a
chain takes its alerts one after another: decide (one decision at a time across all
chains, under the worker's lock, reserving what the order will use), send, record. So a
bar close's burst on ten markets has ten orders at the exchange at once, while two alerts
on one market reach it in the order they arrived, and the second is decided knowing what
the first did (its fill, its position).

Paper runs one chain per account (``(paper, exchange, "")``): its book is changed in
memory and written with each alert's outcome, so an alert is decided, filled and
recorded before the next one on that book begins; a crash then loses or keeps both.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from tvdesk.brokers.base import Broker, OrderRequest, Refusal, Unavailable
from tvdesk.core.symbols import Mapping
from tvdesk.engine.counters import Reservation
from tvdesk.engine.job import Decision, Job, Trail

log = logging.getLogger(__name__)

Market = tuple[str, str, str]  # (mode, exchange, symbol); symbol "" for a paper account
NO_MARKET: Market = ("", "", "")  # alerts that could not be mapped: refused in a chain of their own


@dataclass
class Submit:
    """An order decided on and not yet sent, with what it holds in the risk limits."""

    request: OrderRequest
    broker: Broker
    held: Reservation
    now: float


def market_of(mode: str, mapping: Mapping) -> Market:
    """The chain an alert on ``mapping`` joins: its market live, its account on paper."""
    return (mode, mapping.exchange, "" if mode == "paper" else mapping.symbol)


async def send(submit: Submit, trail: Trail) -> Decision:
    """Send the order; its outcome in the trail and as the alert's decision."""
    request, broker = submit.request, submit.broker
    try:
        execution = await broker.execute(request, submit.now)
    except Refusal as exc:
        trail.add("submit", False, str(exc))
        return Decision("rejected", str(exc))
    except Unavailable as exc:  # the exchange cannot be used now: nothing was placed
        trail.add("exchange", False, str(exc))
        return Decision("failed", str(exc))
    for step, ok, detail in execution.trail:
        trail.add(step, ok, detail)
    trail.add("submit", execution.outcome in ("filled", "open"), execution.reason)
    exchange = request.mapping.exchange
    return Decision(execution.outcome, execution.reason, execution, broker, exchange)


class MarketChains:
    """One task per market with alerts to take, each taking them in arrival order."""

    def __init__(self, run: Callable[[Job], Awaitable[None]], done: Callable[[Job], None]) -> None:
        self._run = run  # takes one alert from start to recorded outcome; never raises
        self._done = done
        self._chains: dict[Market, deque[Job]] = {}
        self._tasks: dict[Market, asyncio.Task[None]] = {}
        self._running: dict[Market, str] = {}  # the alert each chain is taking now
        self._stopping = False

    def add(self, market: Market, job: Job) -> None:
        self._chains.setdefault(market, deque()).append(job)
        if market not in self._tasks and not self._stopping:
            name = "tvdesk-chain-" + "/".join(part for part in market if part)
            self._tasks[market] = asyncio.create_task(self._drain(market), name=name)

    @property
    def waiting(self) -> int:
        """Alerts in the chains, the ones being taken included."""
        return sum(len(chain) for chain in self._chains.values())

    @property
    def running(self) -> list[str]:
        return list(self._running.values())

    async def _drain(self, market: Market) -> None:
        chain = self._chains[market]
        try:
            while chain and not self._stopping:
                job = chain[0]
                self._running[market] = job.alert_id
                try:
                    await self._run(job)
                finally:
                    self._running.pop(market, None)
                chain.popleft()
                self._done(job)
        finally:
            # In the same step as the loop's end: an alert added from now on starts a new task.
            del self._tasks[market]
            if not chain:
                del self._chains[market]

    async def stop(self, grace_s: float) -> list[str]:
        """Let each chain finish the alert it is taking, for up to ``grace_s``; start none.

        Returns the alerts still being taken then (cancelled, left as a crash leaves them).
        """
        self._stopping = True
        tasks = list(self._tasks.values())
        if not tasks:
            return []
        _, late = await asyncio.wait(tasks, timeout=grace_s)
        cut = self.running
        for task in late:
            task.cancel()
        for task in late:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        return cut if late else []
