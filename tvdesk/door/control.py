"""The control port: loopback only, never tunnelled, every request signed.

``tvdesk status`` / ``kill`` / ``resume`` / ``flatten`` talk to the running
engine of a data dir here. Requests carry ``X-TVDesk-Signature`` made with the
webhook secret over the method, path and body (``signed_message``), so another
local user who can reach the port but cannot read the keyring cannot flip the
kill switch, nor replay a webhook's signature as a control request.
"""

from __future__ import annotations

import ipaddress
import json
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from aiohttp import web

from tvdesk.config.keystore import Keystore
from tvdesk.core import auth
from tvdesk.core.clock import Clock


class ControlledEngine(Protocol):
    """What the control port drives: the running engine hands itself down as this."""

    clock: Clock
    keystore: Keystore

    async def status(self) -> dict[str, Any]: ...

    def set_kill_switch(self, on: bool, reason: str) -> None: ...

    def resume(self) -> None: ...

    async def flatten(self) -> list[str]: ...


ENGINE = web.AppKey("engine", ControlledEngine)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def create_control_app(engine: ControlledEngine) -> web.Application:
    app = web.Application(middlewares=[_signed_loopback_only], client_max_size=65536)
    app[ENGINE] = engine
    app.router.add_get("/status", _status)
    app.router.add_post("/kill", _kill)
    app.router.add_post("/resume", _resume)
    app.router.add_post("/flatten", _flatten)
    return app


def _json(body: dict[str, Any], status: int = 200) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json")


@web.middleware
async def _signed_loopback_only(request: web.Request, handler: Handler) -> web.StreamResponse:
    engine = request.app[ENGINE]
    try:
        loopback = ipaddress.ip_address(request.remote or "").is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        return _json({"error": "forbidden", "message": "the control port is loopback only"}, 403)
    body = await request.read()
    signature = request.headers.get(auth.TVDESK_SIGNATURE_HEADER)
    now = engine.clock.time()
    if not signature:
        return _json({"error": "unauthorized", "message": "control requests must be signed"}, 401)
    result = auth.verify_signature(
        (auth.TVDESK_SIGNATURE_HEADER, signature),
        signed_message(request.method, request.path, body),
        engine.keystore.webhook_secrets(now),
        now,
    )
    if not result.ok:
        return _json({"error": "unauthorized", "message": result.reason}, 401)
    return await handler(request)


async def _body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


async def _status(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    return _json(await engine.status())


async def _kill(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    body = await _body(request)
    reason = str(body.get("reason") or "tvdesk kill")
    engine.set_kill_switch(True, reason)
    flattened: list[str] = []
    if body.get("flatten"):
        flattened = await engine.flatten()
    return _json({"kill_switch": True, "flatten_alerts": flattened})


async def _resume(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    engine.resume()
    return _json({"kill_switch": False})


async def _flatten(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    return _json({"flatten_alerts": await engine.flatten()})


# -- the client side (the CLI) ---------------------------------------------------


class ControlError(Exception):
    """The running engine could not be reached or refused; the message says why."""


def signed_message(method: str, path: str, body: bytes) -> bytes:
    """What a control request's signature covers: its method and path, then its body.

    So a webhook's signature (over a body alone), or one control request's, cannot be
    replayed as another: a captured alert signature never flattens positions.
    """
    return f"tvdesk-control {method.upper()} {path}\n".encode() + body


def call(
    port: int, secret: str, method: str, path: str, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    data = json.dumps(body).encode() if body is not None and method == "POST" else b""
    signature = auth.sign_tvdesk(secret, signed_message(method, path, data), int(time.time()))
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=data if method == "POST" else None,
        method=method,
        headers={"Content-Type": "application/json", auth.TVDESK_SIGNATURE_HEADER: signature},
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read()).get("message", exc.reason)
        except ValueError:
            message = exc.reason
        raise ControlError(f"the engine refused: {message}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise ControlError(
            f"cannot reach the engine's control port {port}: {getattr(exc, 'reason', exc)}"
        ) from None
