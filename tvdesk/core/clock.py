"""The clock every time-dependent rule reads, injected so tests control time."""

from __future__ import annotations

from typing import Protocol


class Clock(Protocol):
    def time(self) -> float:
        """Wall-clock time, unix seconds (UTC)."""
        ...

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin that never goes backwards."""
        ...
