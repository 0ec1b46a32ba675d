"""The webhook door: the aiohttp application that takes TradingView alerts.

The order of checks is a public contract (DESIGN.md): size, header signature,
JSON object, body secret, fields; then duplicates and the journal. Nothing is
acknowledged before the journal has committed it.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from aiohttp import StreamReader, web

from tvdesk import __version__
from tvdesk.core import auth
from tvdesk.core.alert.canonical import canonical_json
from tvdesk.core.alert.fields import BodyError, InvalidAlert
from tvdesk.core.alert.names import FIELD_OF, normalise
from tvdesk.core.alert.parse import parse_alert
from tvdesk.core.alert.redact import redact_pair
from tvdesk.core.alert.text_forms import load_alert_body
from tvdesk.door.clients import client_of, is_tradingview, not_tradingview
from tvdesk.door.deps import DEPS, TRUST_FORWARDED, DoorDeps
from tvdesk.door.visit import Visit


def create_app(deps: DoorDeps, *, trust_forwarded: bool = False) -> web.Application:
    """The door. ``trust_forwarded`` only for the listener the tunnel feeds."""
    # The body is read by read_body, chunk by chunk against listener.max_body_bytes;
    # client_max_size only bounds aiohttp's own request.read(), which nothing here calls.
    app = web.Application()
    app[DEPS] = deps
    app[TRUST_FORWARDED] = trust_forwarded
    app.router.add_post("/webhook", handle_webhook)
    app.router.add_get("/health", handle_health)
    return app


async def handle_health(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    body = {
        "status": "ok",
        "mode": deps.mode(),
        "version": __version__,
        "tunnel": deps.tunnel_status(),
    }
    return web.Response(text=json.dumps(body), content_type="application/json")


async def handle_webhook(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    started = time.perf_counter()
    now = deps.clock.time()
    settings = deps.settings()
    client, via_tunnel = client_of(request)
    visit = Visit(deps, settings, client, via_tunnel, now)
    if via_tunnel and settings.auth.tradingview_ips_only and not is_tradingview(client, settings):
        return visit.refuse_unsigned(403, "forbidden", not_tradingview(client))

    limit = settings.listener.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        return visit.refuse_unsigned(413, "too_large", _too_large(request.content_length, limit))
    try:
        body = await read_body(request.content, limit, settings.listener.read_timeout_s)
    except (TimeoutError, ConnectionError):
        # Too slow, or gone: cut the connection; there is nobody to answer.
        if request.transport is not None:
            request.transport.close()
        return web.Response(status=408)  # never sent: the transport is closed
    if body is None:
        return visit.refuse_unsigned(413, "too_large", _too_large(None, limit))

    secrets = deps.keystore.webhook_secrets(now)
    signature = auth.find_signature(request.headers)
    if signature is not None:
        result = auth.verify_signature(signature, body, secrets, now)
        if not result.ok:
            return visit.auth_failed(401, "unauthorized", result.reason)
        # A signature proves who sent the body, not when: the journal takes it once.
        visit.signed_hash = auth.signed_body_hash(body)
    try:
        obj = load_alert_body(body)
    except BodyError as exc:
        if signature is None:
            return visit.auth_failed(400, "invalid_json", str(exc))
        return visit.refuse_signed_invalid_json(str(exc))
    accepted_secrets = secrets.accepted(now)
    # Even a request that fails to authenticate may carry the real secret in a misnamed
    # field, so what is journaled of it is redacted with the real secrets too. One walk
    # makes both copies: the one kept, and the one the parser reads (runs not cut).
    redacted, readable = redact_pair(obj, accepted_secrets)
    if signature is None:
        result = auth.verify_body_secret(obj, secrets, now)
        if not result.ok:
            return visit.auth_failed(401, "unauthorized", result.reason, redacted)
    visit.mark("auth", started)

    raw = canonical_json(redacted)
    try:
        alert = parse_alert(
            obj,
            now=now,
            max_age_s=settings.auth.max_alert_age_s,
            max_skew_s=settings.auth.max_clock_skew_s,
            webhook_secrets=accepted_secrets,
            redacted=readable,
        )
    except InvalidAlert as exc:
        return await visit.refuse_invalid(exc, raw, _client_ref_guess(redacted))
    visit.mark("parse", started)
    return await visit.admit(alert, raw, redacted, signature)


async def read_body(content: StreamReader, limit: int, timeout_s: float) -> bytes | None:
    """The request body; None as soon as it passes ``limit`` bytes.

    Read chunk by chunk as it arrives, so a body without a Content-Length (chunked) is
    never buffered past the limit. A body that has not arrived whole within ``timeout_s``
    raises TimeoutError: a client that stalls mid-body is cut off.
    """
    if content.is_eof():
        # The usual alert: its whole body came with the headers, nothing to wait for.
        body = content.read_nowait()
        return body if len(body) <= limit else None
    chunks: list[bytes] = []
    size = 0
    async with asyncio.timeout(timeout_s):
        while chunk := await content.readany():
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
    return b"".join(chunks)


def _too_large(size: int | None, limit: int) -> str:
    got = f"{size} bytes" if size is not None else "more than that"
    return (
        f"the body is {got}; the limit is {limit} bytes (listener.max_body_bytes): "
        "send a shorter alert message"
    )


def _client_ref_guess(obj: dict[str, Any]) -> str | None:
    for key, value in obj.items():
        # id / order_id are free text ({{strategy.order.id}} is "Long" on every trade).
        if FIELD_OF.get(normalise(key)) == "client_ref" and isinstance(value, str | int):
            return str(value)[:128]
    return None
