"""The control port: loopback only, never tunnelled, every request signed, once.

``tvdesk status`` / ``kill`` / ``resume`` / ``flatten`` talk to the running
engine of a data dir here. Each request carries two headers::

    X-TVDesk-Nonce: <16 to 64 of A-Z a-z 0-9 - _, new for every request>
    X-TVDesk-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + message>

made with the webhook secret, where ``message`` (``signed_message``) is::

    "tvdesk-control <METHOD> <target>\n<nonce>\n" + body

and ``<target>`` is the request target exactly as sent: the path, then ``?`` and
the query string when there is one (``/status?verbose=1``). So another local
user who can reach the port but cannot read the keyring cannot flip the kill
switch; a webhook's signature, or one control request's, cannot be used for
another method, path, query or body; and a captured request cannot be sent
again: the engine remembers each nonce for as long as its signature is valid
(5 minutes either side of t) and refuses a request signed before it started.
"""

from __future__ import annotations

import ipaddress
import json
import re
import secrets
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

    async def kill_kept(self, reason: str) -> str: ...

    async def resume_kept(self) -> str: ...

    async def flatten(self) -> list[str]: ...


NONCE_HEADER = "X-TVDesk-Nonce"
_NONCE = re.compile(r"[A-Za-z0-9_-]{16,64}")


class UsedNonces:
    """The nonces of the control requests this engine took, each while its signature holds."""

    def __init__(self, started_at: float) -> None:
        # Nonces are kept in memory only: a request signed before this engine started
        # could have been taken by the one before, so it is refused outright.
        self.started_at = int(started_at)
        self._until: dict[str, float] = {}

    def take(self, nonce: str, signed_at: int, now: float) -> str | None:
        """Remember ``nonce``; the reason to refuse the request instead, in words."""
        if signed_at < self.started_at:
            return (
                "this control request was signed before the engine started: a request is "
                "good once, for the engine running when it was signed; sign a new one"
            )
        self._until = {n: until for n, until in self._until.items() if until >= now}
        if nonce in self._until:
            return (
                f"this control request was already used ({NONCE_HEADER} seen before): each "
                "request is taken once, so a captured one cannot be replayed; sign a new one "
                "with a new nonce"
            )
        self._until[nonce] = signed_at + auth.SIGNATURE_MAX_AGE_S
        return None


ENGINE = web.AppKey("engine", ControlledEngine)
NONCES = web.AppKey("nonces", UsedNonces)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def create_control_app(engine: ControlledEngine) -> web.Application:
    app = web.Application(middlewares=[_signed_loopback_only], client_max_size=65536)
    app[ENGINE] = engine
    app[NONCES] = UsedNonces(engine.clock.time())
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
    nonce = request.headers.get(NONCE_HEADER, "")
    now = engine.clock.time()
    if not signature:
        return _unauthorized("control requests must be signed (see tvdesk.door.control)")
    if not _NONCE.fullmatch(nonce):
        return _unauthorized(
            f"control requests need a one-time {NONCE_HEADER} header (16 to 64 letters, "
            "digits, - or _), covered by the signature (see tvdesk.door.control)"
        )
    result = auth.verify_signature(
        (auth.TVDESK_SIGNATURE_HEADER, signature),
        # raw_path: the target as sent, query string included, so neither can be changed.
        signed_message(request.method, request.raw_path, nonce, body),
        engine.keystore.webhook_secrets(now),
        now,
    )
    if not result.ok:
        return _unauthorized(result.reason)
    refused = request.app[NONCES].take(nonce, _signed_at(signature), now)
    if refused is not None:
        return _unauthorized(refused)
    return await handler(request)


def _unauthorized(message: str) -> web.Response:
    return _json({"error": "unauthorized", "message": message}, 401)


def _signed_at(signature: str) -> int:
    # Only called once the signature verified, so it holds exactly one whole t.
    for part in signature.split(","):
        key, _, value = part.partition("=")
        if key.strip().lower() == "t":
            return int(value.strip())
    raise ValueError("a verified X-TVDesk-Signature without t")


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
    # The reply waits for the journal: it says where the switch is kept.
    message = await engine.kill_kept(reason)
    flattened: list[str] = []
    if body.get("flatten"):
        flattened = await engine.flatten()
    return _json({"kill_switch": True, "message": message, "flatten_alerts": flattened})


async def _resume(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    message = await engine.resume_kept()
    return _json({"kill_switch": False, "message": message})


async def _flatten(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    return _json({"flatten_alerts": await engine.flatten()})


# -- the client side (the CLI) ---------------------------------------------------


class ControlError(Exception):
    """The running engine could not be reached or refused; the message says why."""


def signed_message(method: str, target: str, nonce: str, body: bytes) -> bytes:
    """What a control request's signature covers: method, target (path?query), nonce, body.

    So a webhook's signature (over a body alone), or one control request's, cannot be
    replayed as another: a captured alert signature never flattens positions.
    """
    return f"tvdesk-control {method.upper()} {target}\n{nonce}\n".encode() + body


def control_headers(
    secret: str, method: str, target: str, body: bytes, t: int, nonce: str | None = None
) -> dict[str, str]:
    """The headers that sign one control request (a fresh nonce unless one is given)."""
    nonce = nonce or secrets.token_urlsafe(18)
    message = signed_message(method, target, nonce, body)
    return {
        NONCE_HEADER: nonce,
        auth.TVDESK_SIGNATURE_HEADER: auth.sign_tvdesk(secret, message, t),
    }


def call(
    port: int, secret: str, method: str, target: str, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One signed control request to the engine on ``port``; ``target`` is path[?query]."""
    data = json.dumps(body).encode() if body is not None and method == "POST" else b""
    signed = control_headers(secret, method, target, data, int(time.time()))
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{target}",
        data=data if method == "POST" else None,
        method=method,
        headers={"Content-Type": "application/json", **signed},
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
