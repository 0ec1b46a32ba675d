"""Secrets: the OS keyring (or the store chosen when there is none, see secret_stores),
with TVDESK_* environment variables, or TVDESK_*_FILE naming a file that holds the value
(container secrets), overriding it.

No message raised from here ever contains a secret: errors name the entry and the fix, and
backend exceptions (which could echo what was passed to them) are reduced to their class name.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

import keyring
import keyring.backend
import keyring.errors
from keyring.backends import fail, null

from tvdesk.config.secret_stores import OS_KEYRING, os_keyring
from tvdesk.core.alert.fields import MIN_WEBHOOK_SECRET_LEN
from tvdesk.core.auth import WebhookSecrets

log = logging.getLogger(__name__)

WEBHOOK_SECRET = "webhook_secret"
WEBHOOK_SECRET_PREVIOUS = "webhook_secret_previous"
# Notification channels (tvdesk.notify); TVDESK_TELEGRAM_BOT_TOKEN etc. override them.
TELEGRAM_BOT_TOKEN = "telegram_bot_token"
DISCORD_WEBHOOK_URL = "discord_webhook_url"  # the whole URL: it carries the webhook's token
NTFY_TOKEN = "ntfy_token"  # optional: a protected topic or a self-run ntfy server
_KEYRING_HELP = (
    "Install or unlock an OS keyring (GNOME Keyring or KWallet on Linux; Windows and macOS "
    "have one built in), or set {env} (or {env}_FILE, the path of a file holding it) instead."
)


class KeystoreError(Exception):
    """A secret could not be read or stored; the message says why and how to fix it."""


def env_var_name(name: str) -> str:
    return "TVDESK_" + name.upper()


def service_name(data_dir: Path | None) -> str:
    if data_dir is None:
        return "tvdesk"
    resolved = str(Path(data_dir).expanduser().resolve())
    digest = hashlib.sha256(resolved.encode("utf-8", "surrogateescape")).hexdigest()
    return f"tvdesk/{digest[:8]}"


def _no_keyring(what: str, env: str, reason: str = "") -> str:
    because = f" ({reason})" if reason else ""
    return f"No usable OS keyring was found{because}, so {what}. " + _KEYRING_HELP.format(env=env)


class Keystore:
    def __init__(
        self,
        service: str,
        env: Mapping[str, str] | None = None,
        backend: keyring.backend.KeyringBackend | None = None,
        store: str = OS_KEYRING,
    ) -> None:
        self._service = service
        self._env = os.environ if env is None else env
        self._backend = backend
        self.store = store  # in words: "the OS keyring", "the encrypted file ...", ...
        self._files: dict[str, str] = {}  # TVDESK_*_FILE contents, read once
        # The webhook path reads secrets on every request; a keyring read can be a D-Bus call.
        self._cache: dict[str, str | None] = {}
        self._webhook: WebhookSecrets | None = None

    def _keyring(self) -> keyring.backend.KeyringBackend:
        if self._backend is None:
            self._backend = os_keyring()
        return self._backend

    def describe(self) -> str:
        """One line for the log: where secrets are kept in this run."""
        if self.store == OS_KEYRING and not self.available()[0]:
            return "secrets: no OS keyring; only TVDESK_* / TVDESK_*_FILE environment variables"
        return f"secrets: kept in {self.store}"

    def _env_origin(self, name: str) -> str:
        var = env_var_name(name)
        return var + "_FILE" if self._env.get(var + "_FILE") else var

    def _from_env(self, name: str) -> str | None:
        return env_secret(name, self._env, self._files)

    def get(self, name: str) -> str | None:
        value = self._from_env(name)
        if value is not None:
            return value
        if name not in self._cache:
            self._cache[name] = self._read(name)
        return self._cache[name]

    def _read(self, name: str) -> str | None:
        try:
            return self._keyring().get_password(self._service, name)
        except keyring.errors.NoKeyringError:
            return None  # without a keyring nothing can have been stored
        except Exception as exc:
            raise KeystoreError(
                f"Could not read {name} from {self.store} ({type(exc).__name__}). "
                + _KEYRING_HELP.format(env=env_var_name(name))
            ) from exc

    def from_environment(self, name: str) -> bool:
        """Whether ``name`` comes from TVDESK_* / TVDESK_*_FILE (never touches the keyring)."""
        return self._from_env(name) is not None

    def source(self, name: str) -> str | None:
        if self._from_env(name) is not None:
            return "env"
        return "keyring" if self.get(name) is not None else None

    def set(self, name: str, value: str) -> None:
        env = self._env_origin(name)
        if self._from_env(name) is not None:
            raise KeystoreError(
                f"{name} comes from the environment variable {env}; change it there "
                "(or unset it to keep the value in the keyring)."
            )
        if not value:
            raise KeystoreError(f"{name} cannot be empty: paste a value, or delete the entry.")
        if name == WEBHOOK_SECRET:
            _check_webhook_secret(
                value, "use a longer one, or rotate it and tvdesk makes a strong one"
            )
        self._write(name, value, env)

    def _write(self, name: str, value: str, env: str) -> None:
        """Store and read back, so a backend that silently drops writes is caught."""
        self._webhook = None
        self._cache.pop(name, None)
        backend = self._keyring()
        reason = ""
        try:
            backend.set_password(self._service, name, value)
            stored = backend.get_password(self._service, name)
        except Exception as exc:
            # Raised outside this block so the backend's exception is not chained.
            reason, stored = type(exc).__name__, None
        if stored != value and self.store != OS_KEYRING:
            raise KeystoreError(f"{name} could not be stored in {self.store} ({reason}).")
        if stored != value:
            raise KeystoreError(_no_keyring(f"{name} could not be stored", env, reason))
        self._cache[name] = value

    def delete(self, name: str) -> None:
        self._webhook = None
        try:
            self._keyring().delete_password(self._service, name)
        except (keyring.errors.PasswordDeleteError, keyring.errors.NoKeyringError):
            pass  # already absent, or there is no keyring that could hold it
        except Exception as exc:
            raise KeystoreError(
                f"Could not delete {name} from {self.store} ({type(exc).__name__}): "
                "unlock the keyring and try again."
            ) from exc
        self._cache[name] = None

    def available(self) -> tuple[bool, str]:
        backend = self._keyring()
        try:
            usable = not isinstance(backend, fail.Keyring | null.Keyring) and backend.priority > 0
        except Exception:  # a backend's priority raises when it cannot work here
            usable = False
        if usable:
            return True, ""
        every = _no_keyring("secrets cannot be saved", "TVDESK_<NAME>")
        return False, every + " docs/server.md (Secrets) names each, like TVDESK_WEBHOOK_SECRET."

    def ensure_webhook_secret(self) -> str:
        current = self.get(WEBHOOK_SECRET)
        if current is not None:
            if self._from_env(WEBHOOK_SECRET) is not None:
                fix = f"set {self._env_origin(WEBHOOK_SECRET)} to a longer one"
            else:
                fix = (
                    f"delete it from the OS keyring (keyring del {self._service} "
                    f"{WEBHOOK_SECRET}) and tvdesk makes a strong one at the next start"
                )
            _check_webhook_secret(current, fix)
            return current
        new = secrets.token_urlsafe(32)
        self._write(WEBHOOK_SECRET, new, env_var_name(WEBHOOK_SECRET))
        return new

    def webhook_secrets(self, now: float) -> WebhookSecrets:
        """The secrets that authenticate at ``now``; a previous secret whose grace has
        ended is deleted from the keyring here (the engine also asks at every start)."""
        if self._webhook is None:
            self._webhook = self._load_webhook_secrets()
        expires = self._webhook.previous_expires_at
        if expires is not None and now >= expires:
            current = self._webhook.current
            self._forget_previous()
            self._webhook = WebhookSecrets(current)
        return self._webhook

    def _forget_previous(self) -> None:
        """A rotated-out secret that can no longer authenticate is one more copy of a
        secret to leak: delete it. If the keyring refuses, it stays refused all the same,
        and deleting it is tried again at the next start."""
        try:
            self.delete(WEBHOOK_SECRET_PREVIOUS)
        except KeystoreError as exc:
            log.warning("the previous webhook secret is no longer accepted, but %s", exc)

    def _load_webhook_secrets(self) -> WebhookSecrets:
        current = self.get(WEBHOOK_SECRET)
        if current is None:
            raise KeystoreError(
                "There is no webhook secret yet: start tvdesk once to create one, "
                f"or set {env_var_name(WEBHOOK_SECRET)}."
            )
        # Rotation is refused while the variable overrides, so a stored previous secret
        # predates it and must not stay valid behind the trader's back.
        if self._from_env(WEBHOOK_SECRET) is not None:
            return WebhookSecrets(current)
        stored = self.get(WEBHOOK_SECRET_PREVIOUS)
        if stored is None:
            return WebhookSecrets(current)
        try:
            entry = json.loads(stored)
            previous, expires = str(entry["secret"]), float(entry["expires_at"])
            if not math.isfinite(expires):
                raise ValueError("no end to its grace")
        except (ValueError, TypeError, KeyError):
            # Damaged: only the grace window is lost, never the current secret; an entry
            # that can never authenticate again does not stay in the keyring either.
            self._forget_previous()
            return WebhookSecrets(current)
        return WebhookSecrets(current, previous, expires)

    def rotate_webhook_secret(self, now: float, grace_s: int) -> str:
        env = self._env_origin(WEBHOOK_SECRET)
        if self._from_env(WEBHOOK_SECRET) is not None:
            raise KeystoreError(
                f"The webhook secret comes from the environment variable {env}; "
                "change it there, then update your TradingView alerts."
            )
        old = self.get(WEBHOOK_SECRET)
        if old is not None and grace_s > 0:
            entry = json.dumps({"secret": old, "expires_at": now + grace_s})
            self._write(WEBHOOK_SECRET_PREVIOUS, entry, env)
        else:
            self.delete(WEBHOOK_SECRET_PREVIOUS)
        new = secrets.token_urlsafe(32)
        self._write(WEBHOOK_SECRET, new, env)
        return new


def env_secret(
    name: str, env: Mapping[str, str], files: dict[str, str] | None = None
) -> str | None:
    """``TVDESK_<NAME>``, or the content of the file ``TVDESK_<NAME>_FILE`` names (read once
    into ``files``); None when neither is set. Also for what is no keystore entry, like the
    secrets file's password."""
    # An empty variable must not become an empty (guessable) secret.
    var = env_var_name(name)
    value = env.get(var) or None
    path = env.get(var + "_FILE") or None
    if path is None:
        return value
    if value is not None:
        raise KeystoreError(f"{name} is set twice, by {var} and by {var}_FILE: unset one of them.")
    files = {} if files is None else files
    if name not in files:
        files[name] = _read_secret_file(var + "_FILE", Path(path))
    return files[name]


def _check_webhook_secret(value: str, fix: str) -> None:
    """Refuse a short webhook secret: it is cut out of alerts wherever it appears in a value."""
    if len(value) < MIN_WEBHOOK_SECRET_LEN:
        raise KeystoreError(
            f"The webhook secret is shorter than {MIN_WEBHOOK_SECRET_LEN} characters: too easy "
            f"to guess, and it would be cut out of alert values that contain it. To fix: {fix}."
        )


def _read_secret_file(var: str, path: Path) -> str:
    """A container secret: the file's content, less the one newline editors and
    ``echo`` leave at its end."""
    try:
        value = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise KeystoreError(
            f"{var} names {path}, which cannot be read ({why}): fix the path or the file's "
            "permissions, or unset it."
        ) from None
    value = value.removesuffix("\n").removesuffix("\r") if value.endswith("\n") else value
    if not value:
        raise KeystoreError(f"{var} names {path}, which is empty: put the secret in it.")
    return value
