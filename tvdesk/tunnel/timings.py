"""How long the tunnel waits for what, and the one way it waits for a blocking call."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TypeVar

from tvdesk.support.backoff import backoff_delay

T = TypeVar("T")


@dataclass(frozen=True)
class TunnelTimings:
    """How long to wait for what; tests shrink them instead of sleeping."""

    startup_s: float = 20.0  # agent start until its session is established
    api_s: float = 15.0  # the agent API opening the public endpoint
    download_s: float = 300.0  # fetching the agent on first use
    check_s: float = 10.0  # GET /health through the public URL
    poll_s: float = 0.5  # how often the agent process is looked at
    stop_s: float = 3.0  # polite stop before a kill
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 30.0
    # Checks of the public URL before tvdesk stops asking: each one counts against the
    # trader's ngrok request quota, and only TradingView's own requests really matter.
    max_checks: int = 8

    def backoff(self, attempt: int) -> float:
        return backoff_delay(attempt, self.backoff_initial_s, self.backoff_max_s, rand=None)


async def within(future: asyncio.Future[T], seconds: float) -> T:
    """Wait for a blocking call's future, at most ``seconds``; the call itself goes on.

    asyncio.timeout rather than wait_for: on 3.11, wait_for can swallow a cancellation
    that arrives just as the future completes, and stop() would wait forever.
    """
    async with asyncio.timeout(seconds):
        return await asyncio.shield(future)
