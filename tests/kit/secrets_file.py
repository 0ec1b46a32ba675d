"""The encrypted secrets file as the window leaves it where there is no OS keyring, and a
cheaper key derivation for tests (in this process and in the tvdesk processes they start)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from keyrings.cryptfile.cryptfile import CryptFileKeyring

from tvdesk.config.keystore import WEBHOOK_SECRET, Keystore, service_name
from tvdesk.config.secret_stores import SECRETS_FILE, unlock_encrypted_file

SECRET = "file-kept-webhook-secret-0123456789"
PASSWORD = "correct horse battery staple"
TOKEN = "ngrok-token-0123456789abcdef"
# The library's Argon2 cost takes seconds per entry on a shared box; the file's format,
# encryption and password check are the same at any cost. tvdesk processes get the same
# lower cost through this sitecustomize, so they read what the test wrote.
QUICK_KDF = (
    "from keyrings.cryptfile.cryptfile import CryptFileKeyring\n"
    "CryptFileKeyring.time_cost = 1\n"
    "CryptFileKeyring.memory_cost = 2**10\n"
)


def quick_kdf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The lower cost here, and the environment that gives it to a tvdesk process."""
    monkeypatch.setattr(CryptFileKeyring, "time_cost", 1)
    monkeypatch.setattr(CryptFileKeyring, "memory_cost", 2**10)
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(QUICK_KDF)
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": path}


def secrets_file(data_dir: Path, **more: str) -> Path:
    """The file with the webhook secret, an ngrok token and ``more`` entries in it."""
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = data_dir / SECRETS_FILE
    backend = unlock_encrypted_file(path, PASSWORD)
    keystore = Keystore(service_name(data_dir), env={}, backend=backend, store="file")
    for name, value in {WEBHOOK_SECRET: SECRET, "ngrok_authtoken": TOKEN, **more}.items():
        keystore.set(name, value)
    return path


def password_file(tmp_path: Path) -> Path:
    """The password in a file only its owner reads, as docs/server.md says to keep it."""
    path = tmp_path / "secrets_password"
    path.write_text(PASSWORD + "\n")
    path.chmod(0o600)
    return path
