"""The kill switch, as the engine's commands turn it: by hand (kill, resume) or by the
daily loss limit, which turns it on for the rest of the UTC day, also across a restart.

``KillSwitchCommands`` is part of ``Engine`` (engine.py), whose ``__init__`` sets what
it reads.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from tvdesk.config.load import SettingsError
from tvdesk.config.schema import Settings
from tvdesk.core.clock import Clock
from tvdesk.core.events import KillSwitchChanged
from tvdesk.engine.counters import day_start
from tvdesk.engine.worker import Worker
from tvdesk.store.journal import Journal, read_state, write_state
from tvdesk.support.bus import EventBus

if TYPE_CHECKING:
    from tvdesk.brokers.live import LiveBroker

log = logging.getLogger(__name__)

# The journal's state key holding the UTC day (epoch s) on which the daily loss limit
# turned the kill switch on; gone once the switch is turned off or on by anyone else.
DAILY_LOSS_TRIP = "daily_loss_trip"


class KillSwitchCommands:
    # What this part of the engine reads from the rest of it.
    settings: Settings
    clock: Clock
    bus: EventBus
    journal: Journal
    worker: Worker
    live: LiveBroker | None
    _kill_reason: str
    update_settings: Callable[..., None]

    def set_kill_switch(self, on: bool, reason: str, *, daily_loss_day: int | None = None) -> None:
        """Refuse (on) or allow (off) new orders, queued alerts included; persisted.

        ``daily_loss_day``: the daily loss limit turned it on that UTC day, so it lifts
        at the next one, also across a restart. Any other call keeps it as it is told.
        """
        risk = replace(self.settings.risk, kill_switch=on)
        turned = replace(self.settings, risk=risk)
        try:
            self.update_settings(turned)
        except (SettingsError, OSError) as exc:
            # The switch must hold even when the file cannot take it: for this run at least.
            log.error(
                "kill switch %s for this run only: settings.toml could not be saved (%s)",
                "ON" if on else "off",
                exc,
            )
            self.update_settings(turned, persist=False)
        self._kill_reason = reason if on else ""
        self._remember_trip(daily_loss_day if on else None)
        log.warning("kill switch %s: %s", "ON" if on else "off", reason)
        self.bus.publish(KillSwitchChanged(self.clock.time(), on, reason))

    def resume(self) -> None:
        """Lift the kill switch, and resume live execution paused by the circuit breaker."""
        if self.settings.risk.kill_switch:
            self.set_kill_switch(False, "resumed")
        if self.live is not None:
            self.live.resume()

    # -- the daily loss limit -------------------------------------------------

    def _daily_loss(self, reason: str, tripped: bool) -> None:
        if tripped:
            self.set_kill_switch(True, reason, daily_loss_day=self.worker.counters.tripped_day)
        elif self.settings.risk.kill_switch and self._kill_reason.startswith("daily loss"):
            self.set_kill_switch(False, reason)

    def _remember_trip(self, day: int | None) -> None:
        value = None if day is None else str(day)
        # Synced: a manual kill whose "forget the trip" a power cut lost would be lifted
        # at midnight after the next start.
        self.journal.run_nowait(
            lambda conn: write_state(conn, DAILY_LOSS_TRIP, value), durable=True
        )

    async def _restore_daily_loss_trip(self) -> None:
        """A daily-loss trip from before this start: keep it today, lift it on a later day."""
        stored = await self.journal.run(lambda conn: read_state(conn, DAILY_LOSS_TRIP))
        if stored is None:
            return
        if not self.settings.risk.kill_switch:
            self._remember_trip(None)
            return
        day, today = int(stored), int(day_start(self.clock.time()))
        if day == today:
            self.worker.counters.restore_trip(day)
            self._kill_reason = (
                "daily loss limit reached earlier today (before tvdesk restarted); "
                "no new orders until 00:00 UTC"
            )
            log.warning("kill switch ON: %s", self._kill_reason)
        else:
            self.set_kill_switch(False, "a new UTC day: the daily loss limit starts again")
