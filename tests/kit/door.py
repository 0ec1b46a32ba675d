"""A real engine on ephemeral loopback ports, and a client that knocks on its webhook door.

The engine is the one the app runs (listeners, journal, limiter), with a memory keyring,
a hand-moved clock and no tunnel agent. Requests are real HTTP over loopback.

The tunnel is on unless ``tunnel=False``, so the tunnel's own listener (the one that
believes X-Forwarded-For) is there to knock on; without an ngrok authtoken in the memory
keyring its agent is never started (the tunnel reports ``off``, waiting for a token).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import itertools
import json
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from multidict import CIMultiDict

from tests.kit.clock import FakeClock
from tests.kit.memkeyring import MemoryKeyring
from tvdesk.config.keystore import WEBHOOK_SECRET, Keystore
from tvdesk.config.paths import resolve_paths
from tvdesk.config.schema import ListenerSettings, Settings
from tvdesk.engine.engine import Engine
from tvdesk.store.export import records
from tvdesk.support.bus import EventBus

# As long as a real one (secrets.token_urlsafe(32)): longer than a quoted value is shown,
# so a message that truncates a pasted secret would still give most of it away.
SECRET = "dOoR7Qm2xV9pL4kR8sT1nB6cWz3yH5jK0aE-fG_uI2o"
# 2023-11-14T22:14:00Z: the start of a minute, since refused floods are summarised per minute.
NOW = 1_700_000_040.0

_refs = itertools.count(1)


def alert(**fields: Any) -> dict[str, Any]:
    """A valid alert with a fresh client_ref; a field given as None is left out."""
    body: dict[str, Any] = {
        "symbol": "BTCUSDT",
        "side": "buy",
        "qty": "0.01",
        "client_ref": f"door-{next(_refs)}",
    }
    body.update(fields)
    return {key: value for key, value in body.items() if value is not None}


def leaked(secret: str, data: bytes | str) -> bool:
    """Whether data holds any 12 characters in a row of the secret."""
    text = data.decode("latin-1") if isinstance(data, bytes) else data
    return any(secret[i : i + 12] in text for i in range(len(secret) - 11))


def hmac_hex(secret: str, data: bytes) -> str:
    return hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()


def tvdesk_signature(secret: str, body: bytes, t: int) -> str:
    return f"t={t},v1={hmac_hex(secret, f'{t}.'.encode() + body)}"


def encode(body: bytes | Mapping[str, Any]) -> bytes:
    return body if isinstance(body, bytes) else json.dumps(body).encode()


@dataclass
class Reply:
    status: int
    text: str
    headers: CIMultiDict[str] = field(default_factory=CIMultiDict)

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.text)

    @property
    def is_json(self) -> bool:
        return self.headers.get("Content-Type", "").startswith("application/json")


class Door:
    """One engine with its own data dir, keyring and clock, and an HTTP client for it."""

    def __init__(
        self,
        data_dir: Path,
        *,
        settings: Settings | None = None,
        clock: FakeClock | None = None,
        journal_busy_timeout_ms: int = 5000,
        tunnel: bool = True,
    ) -> None:
        self.paths = resolve_paths(data_dir)
        self.tunnel = tunnel
        self.settings = settings or Settings(listener=ListenerSettings(port=0))
        self.clock = clock or FakeClock(NOW)
        self.bus = EventBus()
        self.keyring = MemoryKeyring()  # what the OS keyring would hold, for tests to read
        self.keystore = Keystore("tvdesk/door-test", env={}, backend=self.keyring)
        self.keystore.set(WEBHOOK_SECRET, SECRET)
        self.secret = SECRET
        self._busy_timeout_ms = journal_busy_timeout_ms
        self.engine = self._new_engine()
        self._session: aiohttp.ClientSession | None = None

    def _new_engine(self) -> Engine:
        return Engine(
            self.settings,
            self.keystore,
            self.clock,
            self.bus,
            paths=self.paths,
            tunnel_enabled=self.tunnel,
            journal_busy_timeout_ms=self._busy_timeout_ms,
        )

    # -- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        await self.engine.start()
        self._session = aiohttp.ClientSession()

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        await self.engine.stop()

    async def restart(self) -> None:
        """Stop the engine and start a new one on the same data dir and keyring."""
        await self.engine.stop()
        self.engine = self._new_engine()
        await self.engine.start()

    def rotate_secret(self) -> str:
        self.secret = self.engine.rotate_secret()
        return self.secret

    # -- requests --------------------------------------------------------------

    def url(self, path: str, *, tunnel: bool = False) -> str:
        if tunnel:
            assert self.engine.tunnel_port is not None, "the tunnel is off: no tunnel listener"
            return f"http://127.0.0.1:{self.engine.tunnel_port}{path}"
        return self.engine.local_url + path

    async def request(
        self,
        method: str,
        path: str,
        *,
        data: bytes | AsyncIterable[bytes] | None = None,
        headers: Mapping[str, str] | None = None,
        tunnel: bool = False,
    ) -> Reply:
        assert self._session is not None, "start the door first"
        async with self._session.request(
            method, self.url(path, tunnel=tunnel), data=data, headers=dict(headers or {})
        ) as response:
            text = await response.text()
            return Reply(response.status, text, CIMultiDict(response.headers))

    async def post(
        self,
        body: bytes | Mapping[str, Any] | AsyncIterable[bytes],
        headers: Mapping[str, str] | None = None,
        *,
        tunnel: bool = False,
        content_type: str = "application/json",
    ) -> Reply:
        """POST /webhook exactly this body (a dict is sent as JSON), without adding auth."""
        data = body if isinstance(body, AsyncIterable) else encode(body)
        return await self.request(
            "POST",
            "/webhook",
            data=data,
            headers={"Content-Type": content_type, **(headers or {})},
            tunnel=tunnel,
        )

    async def send(
        self,
        fields: Mapping[str, Any],
        *,
        auth: str = "body",
        secret: str | None = None,
        headers: Mapping[str, str] | None = None,
        tunnel: bool = False,
        content_type: str = "application/json",
    ) -> Reply:
        """POST an alert authenticated one way: "body" (secret field), "x-signature", "tvdesk"."""
        key = self.secret if secret is None else secret
        extra = dict(headers or {})
        if auth == "body":
            body = encode({**fields, "secret": key})
        else:
            body = encode(fields)
            extra.update(self.signature_headers(body, auth, key))
        return await self.post(body, extra, tunnel=tunnel, content_type=content_type)

    def signature_headers(self, body: bytes, auth: str, secret: str) -> dict[str, str]:
        if auth == "x-signature":
            return {"X-Signature": hmac_hex(secret, body)}
        if auth == "tvdesk":
            return {"X-TVDesk-Signature": tvdesk_signature(secret, body, int(self.clock.time()))}
        raise ValueError(f"unknown auth form {auth!r}")

    # -- what the trader can see afterwards -----------------------------------

    async def settle(self) -> None:
        """Wait until the journal has committed every write queued so far.

        Refused requests are journaled without the door waiting; the writer runs
        its queue in order, so an empty operation committing means they have too.
        """
        await self.engine.journal.run(lambda conn: None)

    def records(self) -> list[dict[str, Any]]:
        """`tvdesk export`'s records, read through a fresh read-only connection."""
        return list(records(self.paths.journal_file))

    def record(self, alert_id: str) -> dict[str, Any]:
        found = [r for r in self.records() if r["alert_id"] == alert_id]
        assert len(found) == 1, f"alert {alert_id} is journaled {len(found)} times"
        return found[0]

    def files(self) -> dict[Path, bytes]:
        """Every file under the data dir (journal, its WAL, logs, engine.json), as bytes."""
        root = self.paths.data_dir
        return {path: path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


@contextlib.asynccontextmanager
async def open_door(data_dir: Path, **kw: Any) -> AsyncIterator[Door]:
    door = Door(data_dir, **kw)
    await door.start()
    try:
        yield door
    finally:
        await door.stop()
