"""The running system both front-ends drive: listeners, journal, worker, tunnel.

``Engine`` is asyncio-native and does not care whose loop it runs on (the
window's qasync loop, or a plain one in headless mode). Front-ends use only
its public commands, queries and the event bus.

This module builds the engine and starts and stops it; its commands are in
``commands`` and ``kill_switch``, its queries in ``queries``.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tvdesk import __version__
from tvdesk.brokers.base import Broker
from tvdesk.brokers.paper import PaperBroker
from tvdesk.brokers.prices import PublicPrices
from tvdesk.config.keystore import Keystore
from tvdesk.config.paths import Paths
from tvdesk.config.schema import Settings
from tvdesk.core.clock import Clock
from tvdesk.core.events import EngineStarted, EngineStopped, Event
from tvdesk.core.ids import new_ulid
from tvdesk.core.lockout import FailedAuthLimiter
from tvdesk.door.control import create_control_app
from tvdesk.door.deps import DoorDeps
from tvdesk.door.webhook import create_app
from tvdesk.engine.commands import EngineCommands
from tvdesk.engine.engine_file import write_engine_file
from tvdesk.engine.job import Job
from tvdesk.engine.kill_switch import KillSwitchCommands
from tvdesk.engine.listeners import Listeners
from tvdesk.engine.queries import EngineQueries
from tvdesk.engine.reload import SettingsSync
from tvdesk.engine.worker import Worker
from tvdesk.store.journal import AlertRecord, Journal
from tvdesk.store.queries import Queries
from tvdesk.support.bus import EventBus
from tvdesk.support.lockfile import DataDirLock
from tvdesk.tunnel.agent_config import remove_leftover_config
from tvdesk.tunnel.manager import TunnelManager

if TYPE_CHECKING:
    from tvdesk.brokers.exchange import LiveTuning
    from tvdesk.brokers.live import LiveBroker

log = logging.getLogger(__name__)

SETTINGS_POLL_S = 1.0


class Engine(KillSwitchCommands, EngineCommands, EngineQueries):
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
            paths.settings_file, overrides or {}, lambda: self.settings, self._adopt_from_file
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
        self.paper = PaperBroker(
            paths.journal_file,
            lambda: self.settings.paper,
            PublicPrices(lambda: self.settings.exchange, clock),
        )
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
        self._listeners = Listeners()
        self.port = 0
        self.tunnel_port: int | None = None  # None: no tunnel, no tunnel listener
        self.control_port = 0
        self.started = False

    # -- lifecycle -----------------------------------------------------------

    async def start(self) -> None:
        """Lock the data dir, open the journal, start listening, write engine.json."""
        self.paths.ensure()
        self._lock.acquire(f"tvdesk {__version__}")
        try:
            # Before anything else, tunnel or not: the ngrok authtoken a crash left on disk.
            remove_leftover_config(self.paths)
            self.paths.tighten()  # ours now: nobody else reads the journal, settings, logs
            self.keystore.ensure_webhook_secret()
            # Reading them deletes a previous secret whose grace ended while tvdesk was off.
            self.keystore.webhook_secrets(self.clock.time())
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
            serve = self._listeners.serve
            self.port = await serve(create_app(deps), listener.host, listener.port, listener)
            if self.tunnel is not None:
                # The tunnel's own loopback listener: the only one that believes
                # X-Forwarded-For, because only the ngrok agent talks to it. Without the
                # tunnel there is no such listener at all: nothing to forward for.
                tunnel_app = create_app(deps, trust_forwarded=True)
                self.tunnel_port = await serve(tunnel_app, "127.0.0.1", 0, listener)
            self.control_port = await serve(create_control_app(self), "127.0.0.1", 0, listener)
            await self._restore_kill_switch()
            await self.worker.start()
            self._write_engine_file()
            if self.tunnel is not None and self.tunnel_port is not None:
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
        await self._listeners.close()
        await self.worker.stop()
        self.queries.close()
        await asyncio.to_thread(self.journal.close)
        try:
            self.paths.engine_file.unlink(missing_ok=True)
        finally:
            self._lock.release()

    def _write_engine_file(self) -> None:
        write_engine_file(
            self.paths.engine_file,
            host=self.settings.listener.host,
            port=self.port,
            tunnel_port=self.tunnel_port,
            control_port=self.control_port,
            public_url=self.tunnel.public_url if self.tunnel is not None else None,
            mode=self.settings.mode,
        )

    def _tunnel_event(self, event: Event) -> None:
        self.bus.publish(event)
        if self.paths.engine_file.exists():
            self._write_engine_file()  # send-test reads the public URL from there

    async def _watch_settings(self) -> None:
        """Notice edits of settings.toml while running (headless users edit the file).

        Also notices midnight UTC, so a daily-loss trip lifts then, not at the next alert.
        """
        while True:
            await asyncio.sleep(SETTINGS_POLL_S)
            try:
                self.settings_sync.poll()
                self.worker.counters.roll_day(self.clock.time())
            except Exception:  # one bad look must not end the watching
                log.exception("watching settings.toml and the clock failed; trying again")

    # -- what the door hands to the worker -------------------------------------

    def new_alert_id(self) -> str:
        # 80 bits from the OS per id: a seeded generator's later ids could be predicted
        # from about 250 observed ones, and with them the client order ids.
        return new_ulid(int(self.clock.time() * 1000), os.urandom(10))

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
                origin=record.origin,
            )
        )

    # -- brokers -------------------------------------------------------------

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
            self.live.on_realized = self.worker.counters.realized_elsewhere
        return self.live
