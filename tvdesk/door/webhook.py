"""The webhook door: the aiohttp application that takes TradingView alerts.

The order of checks is a public contract (DESIGN.md): size, header signature,
JSON object, body secret, fields; then duplicates and the journal. Nothing is
acknowledged before the journal has committed it.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tvdesk import __version__
from tvdesk.config.keystore import Keystore
from tvdesk.config.settings import Settings
from tvdesk.core import auth
from tvdesk.core.alert import (
    Alert,
    BodyError,
    InvalidAlert,
    alert_to_dict,
    canonical_json,
    load_body,
    parse_alert,
    redact,
    scrub_runs,
    text_hash,
)
from tvdesk.core.clock import Clock
from tvdesk.core.events import AlertAccepted, AlertRejected
from tvdesk.core.lockout import FailedAuthLimiter
from tvdesk.store.journal import AlertRecord, Journal, JournalError
from tvdesk.support.bus import EventBus

log = logging.getLogger(__name__)

# aiohttp refuses bodies past this on its own; the configurable limit is checked below it.
HARD_BODY_CAP = 16 * 1024 * 1024
RAW_KEEP_BYTES = 8192


@dataclass
class DoorDeps:
    """What the door needs from the engine."""

    settings: Callable[[], Settings]
    keystore: Keystore
    clock: Clock
    journal: Journal
    bus: EventBus
    limiter: FailedAuthLimiter
    new_alert_id: Callable[[], str]
    on_accepted: Callable[[AlertRecord], None]
    mode: Callable[[], str]
    tunnel_status: Callable[[], dict[str, Any]]


DEPS = web.AppKey("deps", DoorDeps)
TRUST_FORWARDED = web.AppKey("trust_forwarded", bool)


def create_app(deps: DoorDeps, *, trust_forwarded: bool = False) -> web.Application:
    """The door. ``trust_forwarded`` only for the listener the tunnel feeds."""
    app = web.Application(client_max_size=HARD_BODY_CAP)
    app[DEPS] = deps
    app[TRUST_FORWARDED] = trust_forwarded
    app.router.add_post("/webhook", handle_webhook)
    app.router.add_get("/health", handle_health)
    return app


def reply(
    code: int,
    *,
    alert_id: str | None = None,
    error: str | None = None,
    message: str | None = None,
    fields: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    body: dict[str, Any] = {"status": "accepted" if code == 200 else "rejected"}
    if alert_id is not None:
        body["alert_id"] = alert_id
    if error is not None:
        body["error"] = error
    if message is not None:
        body["message"] = message
    if fields is not None:
        body["fields"] = fields
    return web.Response(
        status=code, text=json.dumps(body), content_type="application/json", headers=headers
    )


async def handle_health(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    body = {
        "status": "ok",
        "mode": deps.mode(),
        "version": __version__,
        "tunnel": deps.tunnel_status(),
    }
    return web.Response(text=json.dumps(body), content_type="application/json")


def client_of(request: web.Request) -> tuple[str, bool]:
    """The calling client's address, and whether the request came through the tunnel.

    ``X-Forwarded-For`` is believed only on the tunnel's own listener; there the
    agent appends the real address last, so anything a caller put before it is
    ignored.
    """
    peer = request.remote or "unknown"
    if not request.app[TRUST_FORWARDED]:
        return peer, False
    forwarded = request.headers.get("X-Forwarded-For", "")
    last = forwarded.rsplit(",", 1)[-1].strip()
    return (last or peer), True


async def handle_webhook(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    started = time.perf_counter()
    now = deps.clock.time()
    settings = deps.settings()
    client, via_tunnel = client_of(request)
    door = _Door(deps, settings, client, via_tunnel, now)
    if via_tunnel and settings.auth.tradingview_ips_only and not _tradingview(client, settings):
        return door.refuse_unsigned(403, "forbidden", _not_tradingview(client))

    limit = settings.listener.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        return door.refuse_unsigned(413, "too_large", _too_large(request.content_length, limit))
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return door.refuse_unsigned(413, "too_large", _too_large(None, limit))
    if len(body) > limit:
        return door.refuse_unsigned(413, "too_large", _too_large(len(body), limit))

    secrets = deps.keystore.webhook_secrets(now)
    signature = auth.find_signature(request.headers)
    if signature is not None:
        result = auth.verify_signature(signature, body, secrets, now)
        if not result.ok:
            return door.auth_failed(401, "unauthorized", result.reason)
    try:
        obj = load_body(body)
    except BodyError as exc:
        if signature is None:
            return door.auth_failed(400, "invalid_json", str(exc))
        return door.refuse_signed_invalid_json(str(exc))
    accepted_secrets = secrets.accepted(now)
    # Even a request that fails to authenticate may carry the real secret in a misnamed
    # field, so what is journaled of it is redacted with the real secrets too.
    redacted = redact(obj, accepted_secrets)
    if signature is None:
        result = auth.verify_body_secret(obj, secrets, now)
        if not result.ok:
            return door.auth_failed(401, "unauthorized", result.reason, redacted)
    door.mark("auth", started)

    raw = canonical_json(redacted)
    try:
        alert = parse_alert(
            obj,
            now=now,
            max_age_s=settings.auth.max_alert_age_s,
            max_skew_s=settings.auth.max_clock_skew_s,
            webhook_secrets=accepted_secrets,
            redacted=redacted,
        )
    except InvalidAlert as exc:
        return await door.refuse_invalid(exc, raw, _client_ref_guess(redacted))
    door.mark("parse", started)
    return await door.admit(alert, raw, redacted, signature)


def _tradingview(client: str, settings: Settings) -> bool:
    """Whether client is one of TradingView's published webhook addresses (settings)."""
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for listed in settings.auth.tradingview_ips:
        try:
            if address == ipaddress.ip_address(listed):
                return True
        except ValueError:
            continue
    return False


def _not_tradingview(client: str) -> str:
    return (
        f"{client} is not one of TradingView's webhook addresses, and [auth] "
        "tradingview_ips_only is on, so only TradingView may send alerts through the tunnel: "
        "update [auth] tradingview_ips if TradingView has published new addresses, or turn "
        "tradingview_ips_only off to send from elsewhere"
    )


def _too_large(size: int | None, limit: int) -> str:
    got = f"{size} bytes" if size is not None else "more than that"
    return (
        f"the body is {got}; the limit is {limit} bytes (listener.max_body_bytes): "
        "send a shorter alert message"
    )


def _client_ref_guess(obj: dict[str, Any]) -> str | None:
    for key, value in obj.items():
        if key.lower() in ("client_ref", "id", "client_id", "order_id") and isinstance(
            value, str | int
        ):
            return str(value)[:128]
    return None


class _Door:
    """One request's way through the door: timings, journal rows, events."""

    def __init__(
        self, deps: DoorDeps, settings: Settings, client: str, via_tunnel: bool, now: float
    ) -> None:
        self.deps = deps
        self.settings = settings
        self.client = client
        self.via_tunnel = via_tunnel
        self.now = now
        self.latency: dict[str, float] = {}
        self._last = 0.0

    def mark(self, step: str, started: float) -> None:
        elapsed = (time.perf_counter() - started) * 1000
        self.latency[step] = round(elapsed - self._last, 3)
        self._last = elapsed

    def _record(self, status: str, error: str | None, message: str | None) -> AlertRecord:
        return AlertRecord(
            alert_id=self.deps.new_alert_id(),
            received_at=self.now,
            client=self.client,
            via_tunnel=self.via_tunnel,
            status=status,
            error=error,
            message=message,
            outcome="rejected" if status != "accepted" else "pending",
            reason=message,
        )

    def _rejected(self, alert_id: str | None, error: str, message: str) -> None:
        self.deps.bus.publish(AlertRejected(self.now, alert_id, self.client, error, message))

    # -- refusals before authentication --------------------------------------

    def refuse_unsigned(self, code: int, error: str, message: str) -> web.Response:
        record = self._record("rejected", error, message)
        self.deps.journal.refuse_unauthenticated(record)
        self._rejected(None, error, message)
        return reply(code, error=error, message=message)

    def auth_failed(
        self, code: int, error: str, message: str, redacted: dict[str, Any] | None = None
    ) -> web.Response:
        limiter = self.deps.limiter
        limiter.limit = self.settings.auth.lockout_failures
        retry_after = limiter.retry_after(self.client, self.now)
        if retry_after is not None:
            message = (
                f"too many failed attempts from {self.client}: try again in {retry_after} s "
                f"(last problem: {message})"
            )
            code, error = 429, "rate_limited"
            headers = {"Retry-After": str(retry_after)}
        else:
            limiter.record_failure(self.client, self.now)
            headers = None
        record = self._record("rejected", error, message)
        if redacted is not None:
            known = self.deps.keystore.webhook_secrets(self.now)
            raw = canonical_json(redacted)[:RAW_KEEP_BYTES]
            record.raw = scrub_runs(raw, (known.current, known.previous or ""))
        self.deps.journal.refuse_unauthenticated(record)
        self._rejected(None, error, message)
        return reply(code, error=error, message=message, headers=headers)

    # -- refusals after authentication ------------------------------------

    def refuse_signed_invalid_json(self, message: str) -> web.Response:
        record = self._record("rejected", "invalid_json", message)
        self.deps.journal.record_nowait(record)
        self._rejected(record.alert_id, "invalid_json", message)
        return reply(400, error="invalid_json", message=message)

    async def refuse_invalid(
        self, exc: InvalidAlert, raw: str, client_ref: str | None
    ) -> web.Response:
        record = self._record("rejected", "invalid_alert", exc.message)
        record.fields = exc.fields
        record.raw = raw[:RAW_KEEP_BYTES]
        record.client_ref = client_ref
        record.latency = self.latency
        try:
            admission = await self.deps.journal.admit(record, 0)
        except JournalError as exc2:
            return self.unavailable(exc2)
        self._rejected(admission.alert_id, "invalid_alert", exc.message)
        return reply(
            422,
            alert_id=admission.alert_id,
            error="invalid_alert",
            message=exc.message,
            fields=exc.fields,
        )

    def unavailable(self, exc: Exception) -> web.Response:
        log.error("alert not journaled: %s", exc)
        message = (
            f"tvdesk could not save the alert ({exc}); nothing was executed. "
            "TradingView will resend it; check the disk holding the journal"
        )
        self._rejected(None, "unavailable", message)
        return reply(503, error="unavailable", message=message)

    # -- the accepted path ---------------------------------------------------

    async def admit(
        self,
        alert: Alert,
        raw: str,
        redacted: dict[str, Any],
        signature: tuple[str, str] | None,
    ) -> web.Response:
        how = f"signature header {signature[0]}" if signature else "secret in the body"
        trail: list[dict[str, Any]] = [
            {"step": "auth", "ok": True, "detail": f"authenticated by {how}"},
            {"step": "parse", "ok": True, "detail": _describe(alert)},
        ]
        trail.extend({"step": "parse", "ok": True, "detail": note} for note in alert.notes)
        record = self._record("accepted", None, None)
        record.reason = None
        record.client_ref = alert.client_ref
        record.body_hash = None if alert.client_ref else text_hash(raw)
        record.symbol = alert.symbol
        record.side = alert.side
        record.qty = _qty_text(alert)
        record.test = alert.test
        record.alert = alert_to_dict(alert)
        record.raw = raw[:RAW_KEEP_BYTES]
        record.trail = trail
        record.latency = self.latency
        record.mode = self.deps.mode()
        try:
            admission = await self.deps.journal.admit(record, self.settings.auth.dedupe_window_s)
        except JournalError as exc:
            return self.unavailable(exc)
        if admission.duplicate_of is not None:
            self._rejected(record.alert_id, "duplicate", record.message or "duplicate")
            return reply(
                409, alert_id=admission.duplicate_of, error="duplicate", message=record.message
            )
        self.deps.on_accepted(record)
        self.deps.bus.publish(
            AlertAccepted(
                self.now,
                admission.alert_id,
                self.client,
                alert.symbol,
                alert.side,
                record.qty,
                alert.test,
            )
        )
        return reply(200, alert_id=admission.alert_id)


def _qty_text(alert: Alert) -> str | None:
    if alert.qty is not None:
        return str(alert.qty)
    return None


def _describe(alert: Alert) -> str:
    side = alert.side or "trade to"
    if alert.sizing == "qty":
        size = f"{alert.qty}"
    elif alert.sizing == "notional":
        size = f"{alert.notional} (quote)"
    elif alert.sizing == "qty_pct":
        size = f"{alert.qty_pct}%"
    else:
        size = f"target position {alert.target_position}"
    price = f" @ {alert.price}" if alert.price is not None else ""
    test = " (test)" if alert.test else ""
    return f"{side} {size} {alert.symbol} {alert.order_type}{price}{test}"
