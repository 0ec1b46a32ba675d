"""The kill switch, as the engine's commands turn it: by hand (kill, resume) or by the
daily loss limit, which turns it on for the rest of the UTC day, also across a restart.

The switch's state (on/off, reason, since) is kept in the journal, so a restart never
lifts it, not even when settings.toml could not be saved; the file's
``risk.kill_switch = true`` turns it on too.

``KillSwitchCommands`` is part of ``Engine`` (engine.py), whose ``__init__`` sets what
it reads.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
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
# The journal's state key holding the switch itself: {"on", "reason", "since"}.
KILL_SWITCH = "kill_switch"


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
    _adopt: Callable[[Settings], None]

    def set_kill_switch(self, on: bool, reason: str, *, daily_loss_day: int | None = None) -> str:
        """Refuse (on) or allow (off) new orders, queued alerts included; persisted.

        Kept in the journal, and in settings.toml when it can be saved; returns where
        ("kill switch ON (kept in the journal; settings.toml could not be saved: ...)").
        ``daily_loss_day``: the daily loss limit turned it on that UTC day, so it lifts
        at the next one, also across a restart. Any other call keeps it as it is told.
        """
        risk = replace(self.settings.risk, kill_switch=on)
        turned = replace(self.settings, risk=risk)
        where = "kept in the journal and settings.toml"
        try:
            self.update_settings(turned)
        except (SettingsError, OSError) as exc:
            # The journal holds it across a restart; the file only lags behind.
            where = f"kept in the journal; settings.toml could not be saved: {exc}"
            if not on:
                where += " (while it says risk.kill_switch = true, a restart turns it on)"
            log.error("kill switch %s: settings.toml could not be saved (%s)", _word(on), exc)
            self.update_settings(turned, persist=False)
        self._kill_reason = reason if on else ""
        self._record_kill_switch(on, reason)
        self._remember_trip(daily_loss_day if on else None)
        log.warning("kill switch %s: %s", _word(on), reason)
        self.bus.publish(KillSwitchChanged(self.clock.time(), on, reason))
        return f"kill switch {_word(on)} ({where})"

    def resume(self) -> str:
        """Lift the kill switch, and resume live execution paused by the circuit breaker."""
        said = "kill switch off"
        if self.settings.risk.kill_switch:
            said = self.set_kill_switch(False, "resumed")
        if self.live is not None:
            self.live.resume()
        return said

    async def kill_kept(self, reason: str) -> str:
        """The kill switch on; returns once the journal holds it (the control port's kill)."""
        said = self.set_kill_switch(True, reason)
        await self.journal.run(lambda conn: None, single=True)  # after the switch's write
        return said

    async def resume_kept(self) -> str:
        """resume(); returns once the journal holds the switch off."""
        said = self.resume()
        await self.journal.run(lambda conn: None, single=True)
        return said

    def _record_kill_switch(self, on: bool, reason: str) -> None:
        state = json.dumps({"on": on, "reason": reason, "since": self.clock.time()})
        # Synced: a kill that a power cut lost would be lifted by the next start.
        self.journal.run_nowait(lambda conn: write_state(conn, KILL_SWITCH, state), durable=True)

    def _adopt_from_file(self, settings: Settings) -> None:
        """Take an edit of settings.toml; the journal follows a switch the edit turned."""
        turned = settings.risk.kill_switch != self.settings.risk.kill_switch
        self._adopt(settings)
        if turned:
            self._record_kill_switch(settings.risk.kill_switch, "settings.toml")

    async def _restore_kill_switch(self) -> None:
        """On at start when the journal or settings.toml says so; then the daily-loss trip."""
        stored = await self.journal.run(lambda conn: read_state(conn, KILL_SWITCH))
        state = json.loads(stored) if stored else {}
        if state.get("on") and not self.settings.risk.kill_switch:
            # In memory only (the file may be what could not be saved), and not through
            # _adopt, which would forget a daily-loss trip the next step restores.
            risk = replace(self.settings.risk, kill_switch=True)
            self.settings = replace(self.settings, risk=risk)
            self._kill_reason = str(state.get("reason") or "")
            log.warning(
                "kill switch ON (kept in the journal since %s): %s",
                _when(state.get("since")),
                self._kill_reason,
            )
            self.bus.publish(KillSwitchChanged(self.clock.time(), True, self._kill_reason))
        await self._restore_daily_loss_trip()

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


def _word(on: bool) -> str:
    return "ON" if on else "off"


def _when(since: object) -> str:
    if not isinstance(since, int | float):
        return "an earlier run"
    return datetime.fromtimestamp(since, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
