"""An in-process engine on the paper broker, with a client that waits for outcomes."""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp

from tests.kit.memkeyring import MemoryKeyring
from tvdesk.config.keystore import WEBHOOK_SECRET, Keystore
from tvdesk.config.paths import resolve_paths
from tvdesk.config.schema import Settings
from tvdesk.core.auth import sign_tvdesk
from tvdesk.core.clock import Clock
from tvdesk.core.events import AlertDecided, Event
from tvdesk.engine.engine import Engine
from tvdesk.store.export import records
from tvdesk.support.bus import EventBus
from tvdesk.support.clock import SystemClock

SECRET = "whsec_paper_Zt4Kq9vR2mX7pL1sW8nB"
_refs = itertools.count(1)


def paper_settings(**risk: Any) -> Settings:
    settings = Settings()
    settings = replace(settings, listener=replace(settings.listener, port=0))
    if risk:
        settings = replace(settings, risk=replace(settings.risk, **risk))
    return settings


class PaperDesk:
    """A running engine (real listeners, journal, worker) and the outcomes it decided."""

    def __init__(
        self, data_dir: Path, settings: Settings | None = None, clock: Clock | None = None
    ) -> None:
        self.paths = resolve_paths(data_dir)
        self.clock = clock or SystemClock()
        self.keystore = Keystore("tvdesk/paper-test", env={}, backend=MemoryKeyring())
        self.keystore.set(WEBHOOK_SECRET, SECRET)
        self.bus = EventBus()
        self.events: list[Event] = []
        self.decided: dict[str, AlertDecided] = {}
        self._changed = asyncio.Event()
        self.bus.subscribe(self._on_event)
        self.engine = Engine(
            settings or paper_settings(),
            self.keystore,
            self.clock,
            self.bus,
            paths=self.paths,
            tunnel_enabled=False,
        )
        self._session: aiohttp.ClientSession | None = None

    def _on_event(self, event: Event) -> None:
        self.events.append(event)
        if isinstance(event, AlertDecided):
            self.decided[event.alert_id] = event
        self._changed.set()

    async def __aenter__(self) -> PaperDesk:
        await self.engine.start()
        self._session = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._session is not None
        await self._session.close()
        await self.engine.stop()

    async def post(self, **fields: Any) -> tuple[int, dict[str, Any]]:
        body = {"symbol": "BINANCE:BTCUSDT", "side": "buy", "qty": "0.01", "price": "50000"}
        body["client_ref"] = f"paper-{next(_refs)}"
        body.update(fields)
        body = {k: v for k, v in body.items() if v is not None}
        data = json.dumps(body).encode()
        signed_at = int(self.clock.time())
        headers = {"X-TVDesk-Signature": sign_tvdesk(SECRET, data, signed_at)}
        assert self._session is not None
        async with self._session.post(
            f"{self.engine.local_url}/webhook", data=data, headers=headers
        ) as reply:
            return reply.status, await reply.json()

    async def outcome(self, alert_id: str, timeout: float = 10.0) -> AlertDecided:
        """Wait until the worker decided ``alert_id``."""
        async with asyncio.timeout(timeout):
            while alert_id not in self.decided:
                self._changed.clear()
                await self._changed.wait()
        return self.decided[alert_id]

    async def trade(self, **fields: Any) -> AlertDecided:
        status, reply = await self.post(**fields)
        assert status == 200, reply
        return await self.outcome(reply["alert_id"])

    def export(self) -> dict[str, dict[str, Any]]:
        return {r["alert_id"]: r for r in records(self.paths.journal_file)}

    async def balances(self) -> dict[str, Any]:
        rows = await self.engine.queries.balances("paper")
        return {r["currency"]: r["free"] for r in rows}

    async def position(self, symbol: str = "BTC/USDT") -> Any:
        for p in await self.engine.queries.positions("paper"):
            if p["symbol"] == symbol:
                return p
        return None
