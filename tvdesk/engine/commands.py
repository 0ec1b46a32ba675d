"""What the front-ends tell the engine to do, apart from the kill switch: rotate the
webhook secret, take new settings (or re-read settings.toml), switch mode, and make
alerts of its own (flatten every position, replay a journaled alert).

``EngineCommands`` is part of ``Engine`` (engine.py), whose ``__init__`` sets what it
reads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal

from tvdesk.config.keystore import Keystore
from tvdesk.config.schema import Settings
from tvdesk.core.alert.fields import Alert, InvalidAlert, alert_to_dict
from tvdesk.core.alert.json_body import load_body
from tvdesk.core.alert.parse import parse_alert
from tvdesk.core.clock import Clock
from tvdesk.core.events import SecretRotated, SettingsChanged
from tvdesk.core.lockout import FailedAuthLimiter
from tvdesk.engine.errors import EngineError
from tvdesk.engine.job import ORIGIN_FLATTEN
from tvdesk.engine.reload import SettingsSync, changes
from tvdesk.store.journal import AlertRecord, Journal
from tvdesk.store.queries import Queries
from tvdesk.support.bus import EventBus


class EngineCommands:
    # What this part of the engine reads from the rest of it.
    settings: Settings
    settings_sync: SettingsSync
    keystore: Keystore
    clock: Clock
    bus: EventBus
    journal: Journal
    queries: Queries
    limiter: FailedAuthLimiter
    started: bool
    _kill_reason: str
    _write_engine_file: Callable[[], None]
    _remember_trip: Callable[[int | None], None]
    new_alert_id: Callable[[], str]
    _on_accepted: Callable[[AlertRecord], None]

    def rotate_secret(self) -> str:
        """A new webhook secret; the old one keeps working for the grace window."""
        now = self.clock.time()
        grace = self.settings.auth.rotation_grace_s
        secret = self.keystore.rotate_webhook_secret(now, grace)
        self.bus.publish(SecretRotated(now, now + grace))
        return secret

    def update_settings(self, settings: Settings, *, persist: bool = True) -> None:
        """Take new settings for the next alert; written back to settings.toml."""
        if persist:
            self.settings_sync.save(settings)
        self._adopt(settings)

    def reload_settings(self) -> list[str]:
        """Re-read settings.toml now (SIGHUP); returns what changed."""
        return self.settings_sync.reload()

    def _adopt(self, settings: Settings) -> None:
        previous, self.settings = self.settings, settings
        self.limiter.limit = settings.auth.lockout_failures
        if previous.mode != settings.mode and self.started:
            self._write_engine_file()  # send-test --fill reads the mode from there
        if previous.risk.kill_switch != settings.risk.kill_switch:
            # Whoever turned it (an edit of settings.toml, say), a daily-loss trip no
            # longer explains the switch: set_kill_switch says why when it was the caller.
            self._kill_reason = ""
            self._remember_trip(None)
        changed = changes(previous, settings)
        if changed:
            self.bus.publish(SettingsChanged(self.clock.time(), "\n".join(changed)))

    def hold_paper(self) -> bool:
        """LIVE needs consent at every start: run in PAPER until ``set_mode("live")``.

        Called before start(). settings.toml keeps its ``mode = "live"`` meanwhile (the
        trader's choice stays recorded); True when the settings asked for live.
        """
        if self.settings.mode != "live":
            return False
        self.settings_sync.hold("mode", "paper")
        self.settings = replace(self.settings, mode="paper")
        return True

    def set_mode(self, mode: str) -> None:
        self.settings_sync.release("mode")  # the trader chose: the file records it again
        self.update_settings(replace(self.settings, mode=mode))

    # -- alerts tvdesk makes itself ---------------------------------------------

    async def flatten(self) -> list[str]:
        """Close every position tvdesk built, at market; returns the alerts made for it.

        Each close is an alert of its own (source ``internal:flatten``) so the log
        and the export show it like any other, with its trail. Made here, inside the
        engine, never through a listener: its privilege (it passes the kill switch and
        every limit) is the journal's ``origin``, which no request can set.
        """
        created = []
        for position in await self.queries.positions(self.settings.mode):
            if position["qty"] == 0:  # a short (perpetuals) is closed too, with a buy
                continue
            alert = Alert(
                symbol=position["symbol"],
                side=None,
                exchange=position["exchange"],
                target_position=Decimal(0),
                market_position="flat",
                strategy="flatten",
            )
            created.append(await self._inject(alert, "internal:flatten", origin=ORIGIN_FLATTEN))
        return created

    async def replay(self, alert_id: str, *, again: bool = False) -> str:
        """Run a journaled alert again as a new alert with ``replay_of`` set.

        Only the duplicate and age checks are skipped; everything else runs again
        on today's settings. An alert replayed before is refused unless ``again``:
        each replay may place an order.
        """
        original = await self.queries.alert(alert_id)
        if original is None:
            raise EngineError(f"no alert {alert_id} in the journal")
        earlier = await self.queries.replays_of(alert_id)
        if earlier and not again:
            raise EngineError(f"alert {alert_id} was already replayed as {earlier[-1]}")
        if not original.get("raw"):
            raise EngineError(f"alert {alert_id} has no stored body to replay")
        try:
            alert = parse_alert(
                load_body(original["raw"].encode()),
                now=self.clock.time(),
                max_age_s=0,
                max_skew_s=0,
                check_age=False,
            )
        except (InvalidAlert, ValueError) as exc:
            raise EngineError(f"alert {alert_id} is still invalid: {exc}") from exc
        return await self._inject(alert, "replay", replay_of=alert_id)

    async def _inject(
        self,
        alert: Alert,
        client: str,
        replay_of: str | None = None,
        origin: str | None = None,
    ) -> str:
        """Journal an alert tvdesk makes itself and queue it; ``client`` only labels it."""
        now = self.clock.time()
        detail = "replay" if replay_of else client
        record = AlertRecord(
            alert_id=self.new_alert_id(),
            received_at=now,
            client=client,
            status="accepted",
            symbol=alert.symbol,
            side=alert.side,
            qty=str(alert.qty) if alert.qty is not None else None,
            test=alert.test,
            alert=alert_to_dict(alert),
            outcome="pending",
            trail=[{"step": "source", "ok": True, "detail": f"made by tvdesk ({detail})"}],
            replay_of=replay_of,
            mode=self.settings.mode,
            origin=origin,
        )
        await self.journal.admit(record, 0)
        self._on_accepted(record)
        return record.alert_id
