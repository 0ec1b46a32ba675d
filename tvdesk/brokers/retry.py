"""The circuit breaker that pauses live execution after repeated temporary failures."""

from __future__ import annotations

from collections.abc import Callable


class CircuitBreaker:
    """Opens after ``threshold`` consecutive temporary failures; closes after ``cooldown_s``.

    While open, live execution is paused: nothing is sent, new alerts fail at once
    with the reason (an order sent minutes after its alert is not what the trader
    asked for). ``on_change(open, reason)`` is told on every change.
    """

    def __init__(
        self,
        threshold: int,
        cooldown_s: float,
        now: Callable[[], float],
        on_change: Callable[[bool, str], None],
    ) -> None:
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self._now = now
        self._on_change = on_change
        self.failures = 0
        self.opened_at: float | None = None
        self.reason = ""

    @property
    def is_open(self) -> bool:
        if self.opened_at is not None and self._now() - self.opened_at >= self.cooldown_s:
            self.reset("cool-down over")
        return self.opened_at is not None

    @property
    def resumes_in(self) -> float:
        if not self.is_open or self.opened_at is None:
            return 0.0
        return max(0.0, self.cooldown_s - (self._now() - self.opened_at))

    def success(self) -> None:
        self.failures = 0

    def failure(self, reason: str) -> None:
        self.failures += 1
        if self.opened_at is None and self.threshold > 0 and self.failures >= self.threshold:
            self.opened_at = self._now()
            self.reason = (
                f"{self.failures} temporary failures in a row (last: {reason}); "
                f"live execution paused for {self.cooldown_s:g} s or until resume"
            )
            self._on_change(True, self.reason)

    def reset(self, why: str) -> None:
        was_open = self.opened_at is not None
        self.failures = 0
        self.opened_at = None
        self.reason = ""
        if was_open:
            self._on_change(False, f"live execution resumed ({why})")
