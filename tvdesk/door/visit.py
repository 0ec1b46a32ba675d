"""One request's visit to the webhook door: its timings, its journal row, its event and
its JSON reply, for each refusal and for the admission of a valid alert.

Nothing is acknowledged before the journal has committed it; what is kept of a body is
redacted and cut to RAW_KEEP_BYTES.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from aiohttp import web

from tvdesk.config.schema import Settings
from tvdesk.core.alert.canonical import canonical_json, text_hash
from tvdesk.core.alert.fields import Alert, InvalidAlert, alert_to_dict
from tvdesk.core.alert.redact import scrub_runs
from tvdesk.core.events import AlertAccepted, AlertRejected
from tvdesk.core.network import network_of
from tvdesk.door.deps import DoorDeps
from tvdesk.store.errors import JournalError
from tvdesk.store.journal import AlertRecord

log = logging.getLogger(__name__)

RAW_KEEP_BYTES = 8192
_JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}
_json_str = json.encoder.encode_basestring_ascii  # json.dumps(str), without its set-up


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


def accepted(alert_id: str) -> web.Response:
    """reply(200, alert_id=alert_id), written directly: it answers every accepted alert."""
    text = f'{{"status": "accepted", "alert_id": {_json_str(alert_id)}}}'
    return web.Response(body=text.encode(), headers=_JSON_HEADERS)


class Visit:
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
        # Set once a signature header has verified: the hash of the exact body signed.
        self.signed_hash: str | None = None

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
                f"too many failed attempts from {self.client}'s network "
                f"{network_of(self.client)}: try again in {retry_after} s "
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
        record.signed_hash = self.signed_hash
        try:
            admission = await self.deps.journal.admit(record, 0)
        except JournalError as exc2:
            return self.unavailable(exc2)
        if admission.duplicate_of is not None:
            return self._duplicate(record, admission.duplicate_of)
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
        record.signed_hash = self.signed_hash
        try:
            admission = await self.deps.journal.admit(record, self.settings.auth.dedupe_window_s)
        except JournalError as exc:
            return self.unavailable(exc)
        if admission.duplicate_of is not None:
            return self._duplicate(record, admission.duplicate_of)
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
        return accepted(admission.alert_id)

    def _duplicate(self, record: AlertRecord, first: str) -> web.Response:
        self._rejected(record.alert_id, "duplicate", record.message or "duplicate")
        return reply(409, alert_id=first, error="duplicate", message=record.message)


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
