"""Keep the computer from sleeping while tvdesk runs.

TradingView does not resend an alert that a sleeping PC missed, so a trader who
leaves tvdesk running overnight wants the machine awake. The display may still
turn off; only system sleep is held back. How, differs by OS: the platform module.
"""

from __future__ import annotations

from tvdesk.support.platform import CannotKeepAwake, Platform, WakeHold, current


class KeepAwake:
    def __init__(self, platform: Platform | None = None) -> None:
        self._platform = platform or current()
        self._hold: WakeHold | None = None

    @property
    def active(self) -> bool:
        return self._hold is not None

    def start(self) -> str | None:
        """Hold off system sleep; returns why it cannot, or None when it works."""
        if self._hold is not None:
            return None
        try:
            self._hold = self._platform.keep_awake()
        except CannotKeepAwake as exc:
            return str(exc)
        return None

    def stop(self) -> None:
        hold, self._hold = self._hold, None
        if hold is not None:
            hold.release()
