"""The running system both front-ends drive: listeners, journal, worker, tunnel.

``Engine`` is asyncio-native and does not care whose loop it runs on (the
window's qasync loop, or a plain one in headless mode). Front-ends use only
its public commands, queries and the event bus.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tvdesk import __version__
from tvdesk.brokers.base import Broker
from tvdesk.brokers.paper import PaperBroker
from tvdesk.config.keystore import Keystore
from tvdesk.config.settings import Paths, Settings, SettingsError, local_url
from tvdesk.core.alert import Alert, InvalidAlert, alert_to_dict, load_body, parse_alert
from tvdesk.core.clock import Clock
from tvdesk.core.events import (
    EngineStarted,
    EngineStopped,
    Event,
    KillSwitchChanged,
    SecretRotated,
    SettingsChanged,
)
from tvdesk.core.ids import new_ulid
from tvdesk.core.lockout import FailedAuthLimiter
from tvdesk.core.symbols import Mapping as MarketMapping
from tvdesk.door.control import create_control_app
from tvdesk.door.webhook import DoorDeps, create_app
from tvdesk.engine.reload import SettingsSync, changes
from tvdesk.engine.worker import INTERNAL_PREFIX, Job, Worker, day_start
from tvdesk.store.journal import AlertRecord, Journal, read_state, write_state
from tvdesk.store.queries import Queries
from tvdesk.support.atomic import write_atomic
from tvdesk.support.bus import EventBus
from tvdesk.support.lockfile import DataDirLock
from tvdesk.tunnel import TunnelManager

if TYPE_CHECKING:
    from tvdesk.brokers.exchange import LiveTuning
    from tvdesk.brokers.live import LiveBroker

log = logging.getLogger(__name__)

SETTINGS_POLL_S = 1.0
# The journal's state key holding the UTC day (epoch s) on which the daily loss limit
# turned the kill switch on; gone once the switch is turned off or on by anyone else.
DAILY_LOSS_TRIP = "daily_loss_trip"


class EngineError(Exception):
    """The engine cannot start; the message says why and what to do."""


class Engine:
    def __init__(
        self,
        settings: Settings,
        keystore: Keystore,
        clock: Clock,
        bus: EventBus,
        *,
        paths: Paths,
        tunnel_enabled: bool | None = None,
        journal_busy_timeout_ms: int = 5000,
        overrides: Mapping[str, Any] | None = None,
    ) -> None:
        self.settings = settings
        # Command-line flags override settings.toml for this run only.
        self.settings_sync = SettingsSync(
            paths.settings_file, overrides or {}, lambda: self.settings, self._adopt
        )
        self._watch: asyncio.Task[None] | None = None
        self.keystore = keystore
        self.clock = clock
        self.bus = bus
        self.paths = paths
        self.tunnel_enabled = settings.tunnel.enabled if tunnel_enabled is None else tunnel_enabled
        self.tunnel = (
            TunnelManager(lambda: self.settings.tunnel, keystore, paths, clock, self._tunnel_event)
            if self.tunnel_enabled
            else None
        )
        self.journal = Journal(paths.journal_file, busy_timeout_ms=journal_busy_timeout_ms)
        self.paper = PaperBroker(paths.journal_file, lambda: self.settings.paper)
        self.live: LiveBroker | None = None  # made on first use: it loads ccxt
        self.live_tuning: LiveTuning | None = None  # the live broker's timings (tests shrink them)
        self.worker = Worker(
            self.journal,
            self.broker,
            lambda: self.settings,
            clock,
            bus,
            on_daily_loss=self._daily_loss,
        )
        self._kill_reason = ""
        self.queries = Queries(paths.journal_file)
        self.limiter = FailedAuthLimiter(settings.auth.lockout_failures)
        self._lock = DataDirLock(paths.lock_file)
        self._runners: list[web.AppRunner] = []
        self.port = 0
        self.tunnel_port = 0
        self.control_port = 0
        self.started = False

    # -- lifecycle -----------------------------------------------------------

    async def start(self) -> None:
        """Lock the data dir, open the journal, start listening, write engine.json."""
        self.paths.ensure()
        self._lock.acquire(f"tvdesk {__version__}")
        try:
            self.keystore.ensure_webhook_secret()
            self.journal.open()
            deps = DoorDeps(
                settings=lambda: self.settings,
                keystore=self.keystore,
                clock=self.clock,
                journal=self.journal,
                bus=self.bus,
                limiter=self.limiter,
                new_alert_id=self.new_alert_id,
                on_accepted=self._on_accepted,
                mode=lambda: self.settings.mode,
                tunnel_status=self.tunnel_status,
            )
            listener = self.settings.listener
            self.port = await self._serve(create_app(deps), listener.host, listener.port)
            # The tunnel's own loopback listener: the only one that believes
            # X-Forwarded-For, because only the ngrok agent talks to it.
            self.tunnel_port = await self._serve(
                create_app(deps, trust_forwarded=True), "127.0.0.1", 0
            )
            self.control_port = await self._serve(create_control_app(self), "127.0.0.1", 0)
            await self._restore_daily_loss_trip()
            await self.worker.start()
            self._write_engine_file()
            if self.tunnel is not None:
                await self.tunnel.start(self.tunnel_port)
        except BaseException:
            await self._teardown()
            raise
        self.started = True
        if self.settings.mode == "live":
            ex = self.settings.exchange
            where = " (TESTNET)" if ex.sandbox else f" via {ex.url}" if ex.url else ""
            log.warning(
                "LIVE TRADING on %s%s: every alert that passes the risk limits places a REAL order",
                ex.default,
                where,
            )
        self._watch = asyncio.create_task(self._watch_settings(), name="tvdesk-settings")
        self.bus.publish(
            EngineStarted(
                self.clock.time(),
                self.settings.mode,
                self.settings.listener.host,
                self.port,
                self.tunnel_port,
                self.control_port,
                __version__,
            )
        )

    async def stop(self) -> None:
        """Stop accepting, finish what is in flight, close the journal, unlock."""
        if not self.started:
            return
        self.started = False
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        await self._teardown()
        self.bus.publish(EngineStopped(self.clock.time()))

    async def _teardown(self) -> None:
        if self.tunnel is not None:
            await self.tunnel.stop()  # the agent never outlives the engine
        # Stop accepting first, then let the worker finish the order in flight;
        # queued alerts stay pending in the journal for the next start.
        for runner in reversed(self._runners):
            await runner.cleanup()
        self._runners.clear()
        await self.worker.stop()
        self.queries.close()
        await asyncio.to_thread(self.journal.close)
        try:
            self.paths.engine_file.unlink(missing_ok=True)
        finally:
            self._lock.release()

    async def _serve(self, app: web.Application, host: str, port: int) -> int:
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=5)
        await runner.setup()
        self._runners.append(runner)
        site = web.TCPSite(runner, host, port, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            raise EngineError(
                f"cannot listen on {host}:{port} ({exc.strerror or exc}); "
                "another program uses that port: pick another with --port"
            ) from exc
        server = site._server  # aiohttp exposes no public accessor for the bound port
        assert server is not None
        return int(server.sockets[0].getsockname()[1])

    def _write_engine_file(self) -> None:
        info = {
            "pid": os.getpid(),
            "host": self.settings.listener.host,
            "port": self.port,
            "tunnel_port": self.tunnel_port,
            "control_port": self.control_port,
            "public_url": self.tunnel.public_url if self.tunnel is not None else None,
            "mode": self.settings.mode,
            "version": __version__,
        }
        write_atomic(self.paths.engine_file, json.dumps(info, indent=2))

    # -- commands ------------------------------------------------------------

    def new_alert_id(self) -> str:
        # 80 bits from the OS per id: a seeded generator's later ids could be predicted
        # from about 250 observed ones, and with them the client order ids.
        return new_ulid(int(self.clock.time() * 1000), os.urandom(10))

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

    async def _watch_settings(self) -> None:
        """Notice edits of settings.toml while running (headless users edit the file).

        Also notices midnight UTC, so a daily-loss trip lifts then, not at the next alert.
        """
        while True:
            await asyncio.sleep(SETTINGS_POLL_S)
            try:
                self.settings_sync.poll()
                self.worker.roll_day(self.clock.time())
            except Exception:  # one bad look must not end the watching
                log.exception("watching settings.toml and the clock failed; trying again")

    def set_mode(self, mode: str) -> None:
        self.update_settings(replace(self.settings, mode=mode))

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

    async def check_live(self) -> str | None:
        """None when live trading can start now; otherwise why not, in plain words.

        It needs the default exchange's API key and secret, and a balance check that
        shows the account is reachable. A key that may withdraw is warned about.
        """
        return await self._live_broker().check()

    async def balances(self, mode: str) -> list[dict[str, Any]]:
        """Paper: the book in the journal. Live: what the exchange last reported."""
        if mode == "live":
            return self.live.cached_balances() if self.live is not None else []
        return await self.queries.balances(mode)

    def live_balance(self) -> str | None:
        """The default exchange's balance as the last live check read it (None before)."""
        if self.live is None:
            return None
        return self.live.balance_summary(self.settings.exchange.default)

    async def flatten(self) -> list[str]:
        """Close every position tvdesk built, at market; returns the alerts made for it.

        Each close is an alert of its own (source ``internal:flatten``) so the log
        and the export show it like any other, with its trail.
        """
        created = []
        for position in await self.queries.positions(self.settings.mode):
            if position["qty"] <= 0:
                continue
            alert = Alert(
                symbol=position["symbol"],
                side=None,
                exchange=position["exchange"],
                target_position=Decimal(0),
                market_position="flat",
                strategy="flatten",
            )
            created.append(await self._inject(alert, f"{INTERNAL_PREFIX}flatten"))
        return created

    async def replay(self, alert_id: str) -> str:
        """Run a journaled alert again as a new alert with ``replay_of`` set.

        Only the duplicate and age checks are skipped; everything else runs again
        on today's settings.
        """
        original = await self.queries.alert(alert_id)
        if original is None:
            raise EngineError(f"no alert {alert_id} in the journal")
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

    async def _inject(self, alert: Alert, client: str, replay_of: str | None = None) -> str:
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
        )
        await self.journal.admit(record, 0)
        self._on_accepted(record)
        return record.alert_id

    # -- queries -------------------------------------------------------------

    def tunnel_status(self) -> dict[str, Any]:
        if self.tunnel is None:
            return {"state": "off", "public_url": None, "error": None, "detail": None}
        return self.tunnel.status()

    def _tunnel_event(self, event: Event) -> None:
        self.bus.publish(event)
        if self.paths.engine_file.exists():
            self._write_engine_file()  # send-test reads the public URL from there

    @property
    def local_url(self) -> str:
        return local_url(self.settings.listener.host, self.port)

    async def status(self) -> dict[str, Any]:
        """Listener, tunnel, mode, kill switch, queue depth and today's counters."""
        return {
            "version": __version__,
            "mode": self.settings.mode,
            "listener": {"host": self.settings.listener.host, "port": self.port},
            "tunnel_port": self.tunnel_port,
            "tunnel": self.tunnel_status(),
            "kill_switch": self.settings.risk.kill_switch,
            "queue_depth": self.worker.depth,
            "exchange": self.settings.exchange.default,
            **self._exchange_status(),
            "today": await self.queries.today(self.clock.time(), self.settings.mode),
        }

    async def resolve_symbol(self, ticker: str, exchange: str | None = None) -> MarketMapping:
        """The market an alert for ``ticker`` would trade on now (symbol map first).

        Raises ``Unmapped`` with the reason and the fix, exactly as the worker would.
        """
        alert = Alert(symbol=ticker, side=None, exchange=exchange)
        settings = self.settings
        return await self.worker._map(alert, settings, False, self.broker(settings.mode))

    # -- internals -----------------------------------------------------------

    def _daily_loss(self, reason: str, tripped: bool) -> None:
        if tripped:
            self.set_kill_switch(True, reason, daily_loss_day=self.worker.tripped_day)
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
            self.worker.restore_trip(day)
            self._kill_reason = (
                "daily loss limit reached earlier today (before tvdesk restarted); "
                "no new orders until 00:00 UTC"
            )
            log.warning("kill switch ON: %s", self._kill_reason)
        else:
            self.set_kill_switch(False, "a new UTC day: the daily loss limit starts again")

    def broker(self, mode: str) -> Broker:
        """The broker that executes alerts in ``mode``."""
        return self._live_broker() if mode == "live" else self.paper

    def _live_broker(self) -> LiveBroker:
        if self.live is None:
            from tvdesk.brokers.live import LiveBroker

            self.live = LiveBroker(
                self.journal,
                lambda: self.settings,
                self.keystore,
                self.clock,
                self.bus,
                self.live_tuning,
            )
            self.live.on_realized = self.worker.realized_elsewhere
        return self.live

    def _exchange_status(self) -> dict[str, Any]:
        """``exchange_status`` (connection, markets) and ``circuit`` (the breaker) for status()."""
        if self.live is None:
            closed = {"state": "closed", "failures": 0, "reason": None, "resumes_in_s": 0.0}
            return {
                "exchange_status": {"state": "off", "markets": 0, "error": None},
                "circuit": closed,
            }
        live = self.live.status()
        circuit = live.pop("circuit")
        return {"exchange_status": live, "circuit": circuit}

    def _on_accepted(self, record: AlertRecord) -> None:
        assert record.alert is not None
        self.worker.submit(
            Job(
                alert_id=record.alert_id,
                alert=record.alert,
                client=record.client,
                received_at=record.received_at,
                trail=record.trail,
                latency=record.latency,
                replay_of=record.replay_of,
                mode=record.mode,
            )
        )
