"""Where secrets are kept: the OS keyring, or, on a desktop that has none (i3, sway, bare
XFCE, WSLg), an encrypted file unlocked by a password asked at start, or memory for this
session only. Each is a keyring backend, so the Keystore treats them alike.

The file is keyrings.cryptfile's (Argon2id key derivation, AES-GCM per entry): no crypto is
written here. Its backends register themselves for keyring's auto-detection when imported,
and would then be picked as "the OS keyring" and ask for a password on the terminal; they
are taken out of auto-detection here, before anything asks keyring for its backend.
"""

from __future__ import annotations

import configparser
from collections.abc import Collection
from pathlib import Path

import keyring
import keyring.backend
import keyring.errors
from keyrings.cryptfile import cryptfile, file
from keyrings.cryptfile.escape import unescape

for _backend in (cryptfile.CryptFileKeyring, file.EncryptedKeyring, file.PlaintextKeyring):
    keyring.backend.KeyringBackend._classes.discard(_backend)

SECRETS_FILE = "secrets.cfg"
OS_KEYRING = "the OS keyring"
SESSION_ONLY = "this session only (gone when tvdesk quits)"
_SETTINGS_SECTION = "keyring-setting"  # keyrings.cryptfile's own: scheme, version, reference


class SecretsFileError(Exception):
    """The encrypted secrets file cannot be opened; the message says why and what to do."""


class WrongPassword(SecretsFileError):
    pass


def os_keyring() -> keyring.backend.KeyringBackend:
    """The OS keyring keyring detects (or its configured one); never the encrypted file."""
    return keyring.get_keyring()


def encrypted_label(path: Path) -> str:
    return f"the encrypted file {path}"


class SessionKeyring(keyring.backend.KeyringBackend):
    """Secrets in memory only: nothing is written anywhere, all is gone at exit."""

    priority = 0.1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self._entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self._entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self._entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self._entries.pop((service, username), None) is None:
            raise keyring.errors.PasswordDeleteError(f"no {username} stored")


class EncryptedFileKeyring(SessionKeyring):
    """The encrypted file, decrypted once at unlock (each entry costs a deliberately slow
    key derivation: reading them on the window's loop would freeze it) and written through
    on every change. ``only``: decrypt just these names (a one-shot command such as
    ``tvdesk kill`` reads one secret; each entry costs about a second)."""

    def __init__(
        self, ring: cryptfile.CryptFileKeyring, only: Collection[str] | None = None
    ) -> None:
        super().__init__()
        self._ring = ring
        config = configparser.RawConfigParser()
        config.read(ring.file_path, encoding="utf-8")
        for section in config.sections():
            service = unescape(section)
            if service == _SETTINGS_SECTION:
                continue
            for option in config.options(section):
                name = unescape(option)
                if only is not None and name not in only:
                    continue
                value = ring.get_password(service, name)
                if value is not None:
                    self._entries[(service, name)] = value

    def set_password(self, service: str, username: str, password: str) -> None:
        self._ring.set_password(service, username, password)
        super().set_password(service, username, password)

    def delete_password(self, service: str, username: str) -> None:
        super().delete_password(service, username)
        self._ring.delete_password(service, username)


# Defining a backend registers it for keyring's auto-detection too: these two are only ever
# chosen by the trader, never detected (as "the OS keyring", or chained with the real one).
for _backend in (SessionKeyring, EncryptedFileKeyring):
    keyring.backend.KeyringBackend._classes.discard(_backend)


def unlock_encrypted_file(
    path: Path, password: str, only: Collection[str] | None = None
) -> EncryptedFileKeyring:
    """Open the secrets file at ``path`` (made, owner-only, when it does not exist yet);
    ``only``: decrypt just the secrets of these names.

    Slow on purpose (the key derivation): call it off the window's loop.
    """
    if not password.strip():
        raise SecretsFileError("The password cannot be empty: type one.")
    ring = cryptfile.CryptFileKeyring()
    ring.file_path = str(path)  # the library makes it owner-only (0600)
    try:
        ring.keyring_key = password
        return EncryptedFileKeyring(ring, only)
    except ValueError:  # the library's "Incorrect Password" and "MAC check failed"
        raise WrongPassword(
            f"Wrong password for the secrets file {path}. Type it again; if it is lost, "
            "delete that file (its secrets are lost with it) and choose a new password."
        ) from None
    except (OSError, configparser.Error) as exc:
        raise SecretsFileError(
            f"Cannot open the secrets file {path} ({type(exc).__name__}): check that it is "
            "readable, or move it away to start a new one."
        ) from None
