"""The keystore every command opens: the OS keyring, or the encrypted secrets file the window
offers where there is none, unlocked with ``TVDESK_SECRETS_PASSWORD_FILE`` /
``TVDESK_SECRETS_PASSWORD`` (a command has nobody to type it); TVDESK_* variables override
both.

The engine (``--headless``) needs every secret, so it refuses to start when the file is there
and locked, and makes the file at a first start with a password. A one-shot command
(``kill``, ``status``, ``send-test``, ``notify-test``) names the secrets it needs: when
TVDESK_* variables give all of them the file is not needed, and it never makes a file.
"""

from __future__ import annotations

import sys
from collections.abc import Collection, MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tvdesk.config.keystore import Keystore

SECRETS_PASSWORD = "secrets_password"  # TVDESK_SECRETS_PASSWORD, or ..._FILE naming a file
NEEDS_PASSWORD = (
    "your secrets are in the encrypted file {path}, and there is no password to unlock it "
    "(a server has nobody to type it). Put the password in a file only tvdesk's user can "
    "read and set TVDESK_SECRETS_PASSWORD_FILE to its path (or set TVDESK_SECRETS_PASSWORD); "
    "or move that file away to use TVDESK_* variables alone (docs/server.md, Secrets)"
)


def open_keystore(
    service: str,
    config_dir: Path,
    env: MutableMapping[str, str],
    *,
    needs: Collection[str] | None = None,
) -> Keystore:
    """The OS keyring's keystore; the encrypted secrets file when a password is given (from
    TVDESK_SECRETS_PASSWORD_FILE or TVDESK_SECRETS_PASSWORD).

    ``needs``: the secrets a one-shot command reads (None: the engine, which reads them all
    and may make the file). Raises KeystoreError or SecretsFileError, whose message names
    the variable, never the password.
    """
    from tvdesk.config.keystore import Keystore, env_secret, env_var_name
    from tvdesk.config.secret_stores import (
        SECRETS_FILE,
        SecretsFileError,
        WrongPassword,
        encrypted_label,
        unlock_encrypted_file,
    )

    path = config_dir / SECRETS_FILE
    var = env_var_name(SECRETS_PASSWORD)
    origin = var + "_FILE" if env.get(var + "_FILE") else var
    password = env_secret(SECRETS_PASSWORD, env)
    env.pop(var, None)  # read once: the ngrok agent and other children never inherit it
    if password is None or (needs is not None and not path.exists()):
        keystore = Keystore(service, env=env)
        if path.exists() and not keystore.available()[0]:
            if needs is not None and all(env_secret(name, env) is not None for name in needs):
                return keystore  # the variables give all this command reads
            raise SecretsFileError(NEEDS_PASSWORD.format(path=path))
        return keystore
    if not password.strip():
        raise SecretsFileError(f"{origin} gives a blank password: put the real one there")
    if not path.exists():
        print(f"tvdesk: made a new encrypted secrets file {path}", file=sys.stderr, flush=True)
    try:
        backend = unlock_encrypted_file(path, password, needs)
    except WrongPassword:
        raise SecretsFileError(
            f"the password from {origin} does not unlock the secrets file {path}: put the one "
            "you chose there. If it is lost, move that file away (its secrets go with it) and "
            "store them again"
        ) from None
    return Keystore(service, env=env, backend=backend, store=encrypted_label(path))
