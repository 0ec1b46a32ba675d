"""The one backoff: exponential delays, capped, with "equal jitter" (half fixed, half random)
so many clients that failed together do not retry together."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterator


def backoff_delay(
    attempt: int,
    base_s: float,
    max_s: float,
    rand: Callable[[], float] | None = random.random,
) -> float:
    """The wait before retry number ``attempt`` (0-based): ``base_s`` doubling up to ``max_s``.

    ``rand=None`` drops the jitter: for a single retrier with nobody to collide with
    (the tunnel's one agent), whose waits the trader reads on screen.
    """
    delay = min(max_s, base_s * 2 ** min(attempt, 62))
    return delay if rand is None else delay / 2 + rand() * delay / 2


def backoff(
    base_s: float, max_s: float, rand: Callable[[], float] | None = random.random
) -> Iterator[float]:
    """The delays of one retry loop, one per attempt, for ever."""
    for attempt in itertools.count():
        yield backoff_delay(attempt, base_s, max_s, rand)
