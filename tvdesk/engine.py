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
from dataclasses import replace
from typing import Any

from aiohttp import web

from tvdesk import __version__
from tvdesk.bus import EventBus
from tvdesk.core.clock import Clock
from tvdesk.core.events import EngineStarted, EngineStopped, SecretRotated
from tvdesk.core.ids import new_ulid
from tvdesk.core.lockout import FailedAuthLimiter
from tvdesk.journal import Journal
from tvdesk.keystore import Keystore
from tvdesk.lockfile import DataDirLock
from tvdesk.server import DoorDeps, create_app
from tvdesk.settings import Paths, Settings, save_settings

log = logging.getLogger(__name__)


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
    ) -> None:
        self.settings = settings
        self.keystore = keystore
        self.clock = clock
        self.bus = bus
        self.paths = paths
        self.tunnel_enabled = settings.tunnel.enabled if tunnel_enabled is None else tunnel_enabled
        self.journal = Journal(paths.journal_file)
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
            self._write_engine_file()
        except BaseException:
            await self._teardown()
            raise
        self.started = True
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
        await self._teardown()
        self.bus.publish(EngineStopped(self.clock.time()))

    async def _teardown(self) -> None:
        for runner in reversed(self._runners):
            await runner.cleanup()
        self._runners.clear()
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
            "mode": self.settings.mode,
            "version": __version__,
        }
        tmp = self.paths.engine_file.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(info, indent=2), encoding="utf-8")
        os.replace(tmp, self.paths.engine_file)

    # -- commands ------------------------------------------------------------

    def new_alert_id(self) -> str:
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
            save_settings(settings, self.paths.settings_file)
        self.settings = settings
        self.limiter.limit = settings.auth.lockout_failures

    def set_mode(self, mode: str) -> None:
        self.update_settings(replace(self.settings, mode=mode))

    # -- queries -------------------------------------------------------------

    def tunnel_status(self) -> dict[str, Any]:
        if not self.tunnel_enabled:
            return {"state": "off", "public_url": None, "error": None}
        return {
            "state": "off",
            "public_url": None,
            "error": "the built-in tunnel is not available in this version yet",
        }

    @property
    def local_url(self) -> str:
        host = self.settings.listener.host
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        return f"http://{host}:{self.port}"

    # -- internals -----------------------------------------------------------

    def _on_accepted(self, alert_id: str) -> None:
        """The worker's doorbell (the worker arrives with the next issue)."""
