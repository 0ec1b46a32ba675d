"""Webhook authentication: the secret in the body, or an HMAC signature header.

Every comparison is constant-time and runs against every accepted secret, so neither the
result nor the timing says how close a guess was or which secret (current or previous)
matched. Reasons are plain words for the trader and never contain a secret.
"""

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tvdesk.core.alert.names import body_secrets

SIGNATURE_HEADERS = ("x-signature", "x-signature-256", "x-webhook-signature")
TVDESK_SIGNATURE_HEADER = "x-tvdesk-signature"
SIGNATURE_MAX_AGE_S = 300

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
# ASCII only: int() reads "١٧٠٠..." too, and t would then be signed as one text, checked as another.
_UNIX_SECONDS = re.compile(r"[+-]?[0-9]{1,18}")
_MS_THRESHOLD = 10**11  # unix seconds reach 1e11 only in the year 5138
_DISPLAY = {
    "x-signature": "X-Signature",
    "x-signature-256": "X-Signature-256",
    "x-webhook-signature": "X-Webhook-Signature",
    TVDESK_SIGNATURE_HEADER: "X-TVDesk-Signature",
}
_TVDESK_FORM = "t=<unix seconds>,v1=<hex HMAC-SHA256 of '<t>.' + raw body>"
_ROTATED = "(rotated? copy the current one from tvdesk)"


@dataclass(frozen=True)
class WebhookSecrets:
    current: str
    previous: str | None = None
    previous_expires_at: float | None = None  # unix s; previous accepted while now < this

    def accepted(self, now: float) -> tuple[str, ...]:
        """The secrets that authenticate at `now`: current first, previous within its grace."""
        secrets = [self.current]
        expires = self.previous_expires_at
        if self.previous and expires is not None and now < expires:
            secrets.append(self.previous)
        # An empty secret must never authenticate an empty guess.
        return tuple(s for s in secrets if s)


@dataclass(frozen=True)
class AuthResult:
    ok: bool
    reason: str  # plain words, never containing a secret; "" when ok
    used_previous: bool = False  # authenticated with the previous (rotated-out) secret


def hmac_hex(secret: str, data: bytes) -> str:
    """Hex HMAC-SHA256 of data under the secret."""
    return hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()


def sign_tvdesk(secret: str, body: bytes, t: int) -> str:
    """The X-TVDesk-Signature value for body signed at unix time t."""
    return f"t={t},v1={hmac_hex(secret, f'{t}.'.encode() + body)}"


def signed_body_hash(body: bytes) -> str:
    """What the journal keeps of a signed request to take its exact body only once."""
    return hashlib.sha256(body).hexdigest()


def find_signature(headers: Mapping[str, str]) -> tuple[str, str] | None:
    """The signature header to check, as (lower-case name, value); X-TVDesk-Signature wins.

    A header with an empty value counts as absent: some relays forward every header they
    know of, set or not, and an empty one must not override a correct body secret.
    """
    wanted = (TVDESK_SIGNATURE_HEADER, *SIGNATURE_HEADERS)
    found: dict[str, str] = {}
    # items() rather than get(): a plain dict is case-sensitive, a multidict is not.
    for name, value in headers.items():
        key = name.lower()
        if key in wanted and key not in found and value.strip():
            found[key] = value
    for key in wanted:
        if key in found:
            return key, found[key]
    return None


def verify_signature(
    sig: tuple[str, str], body: bytes, secrets: WebhookSecrets, now: float
) -> AuthResult:
    """Check a signature header (from find_signature) against the raw body."""
    name, value = sig
    if name == TVDESK_SIGNATURE_HEADER:
        return _verify_tvdesk(value, body, secrets, now)
    shown = _DISPLAY.get(name, name)
    digest = value.strip()
    if digest[:7].lower() == "sha256=":
        digest = digest[7:].strip()
    if not _HEX64.fullmatch(digest):
        return _fail(
            f"{shown} is malformed: expected the hex HMAC-SHA256 of the raw body "
            "(64 hex digits, optionally prefixed with sha256=)"
        )
    given = [digest.lower().encode()]
    index = _match(given, lambda secret: hmac_hex(secret, body), secrets.accepted(now))
    if index is None:
        return _fail(
            f"{shown} does not match: sign the raw body exactly as sent with the current "
            f"webhook secret {_ROTATED}"
        )
    return AuthResult(True, "", used_previous=index > 0)


def _verify_tvdesk(value: str, body: bytes, secrets: WebhookSecrets, now: float) -> AuthResult:
    shown = _DISPLAY[TVDESK_SIGNATURE_HEADER]
    stamps: list[str] = []
    digests: list[str] = []
    for part in value.split(","):
        key, sep, item = part.partition("=")
        key, item = key.strip().lower(), item.strip()
        if not sep and not key:
            continue  # tolerate a trailing comma
        if key == "t":
            stamps.append(item)
        elif key == "v1":
            digests.append(item)
    if len(stamps) != 1 or not _UNIX_SECONDS.fullmatch(stamps[0]):
        return _fail(
            f"{shown} is malformed: needs one t in whole unix seconds (ASCII digits 0-9); "
            + _TVDESK_FORM
        )
    if not digests or not all(_HEX64.fullmatch(d) for d in digests):
        return _fail(f"{shown} is malformed: v1 must be 64 hex digits; {_TVDESK_FORM}")
    t = int(stamps[0])
    if now - t > SIGNATURE_MAX_AGE_S:
        return _fail(
            f"{shown} is stale: signed {now - t:.0f} s ago (limit {SIGNATURE_MAX_AGE_S} s); "
            "sign each request when sending it"
        )
    if t - now > SIGNATURE_MAX_AGE_S and t > _MS_THRESHOLD:
        return _fail(
            f"{shown} has t in milliseconds: t must be unix seconds, not milliseconds "
            "(divide by 1000); " + _TVDESK_FORM
        )
    if t - now > SIGNATURE_MAX_AGE_S:
        return _fail(
            f"{shown} is from the future: t is {t - now:.0f} s ahead (limit "
            f"{SIGNATURE_MAX_AGE_S} s); check the clocks of the sender and of this PC"
        )
    signed = f"{t}.".encode() + body
    given = [d.lower().encode() for d in digests]
    index = _match(given, lambda secret: hmac_hex(secret, signed), secrets.accepted(now))
    if index is None:
        return _fail(
            f"{shown} does not match: sign '<t>.' + the raw body with the current webhook "
            f"secret {_ROTATED}"
        )
    return AuthResult(True, "", used_previous=index > 0)


def verify_body_secret(obj: Mapping[str, Any], secrets: WebhookSecrets, now: float) -> AuthResult:
    """ok when a secret slot of the alert (names.body_secrets: secret, token, passphrase,
    webhook_secret, signalToken, or a text body's slot) holds an accepted secret."""
    given = body_secrets(obj)
    if not given:
        return _fail(
            'no secret in the alert: add "secret": "<your webhook secret>" to the alert '
            "message in TradingView (or sign the request with an X-Signature header)"
        )
    texts = [v.encode() for v in given if isinstance(v, str)]
    index = _match(texts, lambda secret: secret, secrets.accepted(now))
    if index is None:
        return _fail(
            "the secret in the alert is wrong: it is not the webhook secret tvdesk shows "
            f"{_ROTATED}"
        )
    return AuthResult(True, "", used_previous=index > 0)


def _match(
    given: Sequence[bytes], expected_for: Callable[[str], str], accepted: Sequence[str]
) -> int | None:
    """Index of the first accepted secret that any given value matches.

    Every pair is compared, so the time taken does not depend on which one matched.
    """
    hits = []
    for secret in accepted:
        expected = expected_for(secret).encode()
        hits.append(any([hmac.compare_digest(expected, g) for g in given]))
    return hits.index(True) if True in hits else None


def _fail(reason: str) -> AuthResult:
    return AuthResult(False, reason)
