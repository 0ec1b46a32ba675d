"""Secrets and credentials out: what is journaled, logged or shown never carries the webhook
secret or an exchange credential, even one pasted into the wrong field.
"""

from collections.abc import Iterable, Mapping
from typing import Any

from tvdesk.core.alert.fields import CREDENTIAL_FIELDS, SECRET_FIELDS


def redact(obj: Any, secrets: Iterable[str]) -> Any:
    """A copy without secret or credential keys, and with secret values replaced."""
    return _redact(obj, tuple(s for s in secrets if s))


def _redact(obj: Any, secrets: tuple[str, ...]) -> Any:
    hidden = SECRET_FIELDS + CREDENTIAL_FIELDS
    if isinstance(obj, Mapping):
        return {
            _redact(k, secrets): _redact(v, secrets)
            for k, v in obj.items()
            if not (isinstance(k, str) and k.lower() in hidden)
        }
    if isinstance(obj, list):
        return [_redact(v, secrets) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_redact(v, secrets) for v in obj)
    if isinstance(obj, str):
        # Substrings too: a secret pasted into a client_ref template must not be journaled.
        return scrub(obj, secrets)
    return obj


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of a secret replaced."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return text


def scrub_runs(text: str, secrets: Iterable[str], run: int = 8) -> str:
    """``text`` with every ``run`` characters in a row of a secret replaced.

    For what an unauthenticated request leaves in the journal: a mistyped secret sent
    under a name that does not say it is one is still nearly the secret.
    """
    for secret in secrets:
        for i in range(len(secret) - run + 1):
            window = secret[i : i + run]
            if window in text:
                text = text.replace(window, "[redacted]")
    return text
