"""No OS keyring: secrets in an encrypted file (password) or for this session only, and
container secrets through TVDESK_*_FILE."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail
from keyrings.cryptfile.cryptfile import CryptFileKeyring

from tests.kit.engine_proc import EngineProcess
from tvdesk.config.keystore import WEBHOOK_SECRET, Keystore, KeystoreError
from tvdesk.config.secret_stores import (
    SESSION_ONLY,
    SessionKeyring,
    WrongPassword,
    encrypted_label,
    unlock_encrypted_file,
)

SERVICE = "tvdesk/test"
PASSWORD = "correct horse battery"
TOKEN = "ngrok-token-0123456789abcdef"


@pytest.fixture(autouse=True)
def no_os_keyring() -> None:
    keyring.set_keyring(fail.Keyring())  # the conftest puts its own keyring back after


@pytest.fixture(autouse=True)
def quick_key_derivation(monkeypatch: pytest.MonkeyPatch) -> None:
    """The library's Argon2 cost takes seconds per entry on a shared box; the file's format,
    encryption and password check are the same at any cost."""
    monkeypatch.setattr(CryptFileKeyring, "time_cost", 1)
    monkeypatch.setattr(CryptFileKeyring, "memory_cost", 2**10)


def encrypted_keystore(path: Path, password: str = PASSWORD) -> Keystore:
    backend = unlock_encrypted_file(path, password)
    return Keystore(SERVICE, env={}, backend=backend, store=encrypted_label(path))


def test_without_an_os_keyring_nothing_can_be_stored_and_the_log_says_so():
    keystore = Keystore(SERVICE, env={})
    assert keystore.available()[0] is False
    assert "no OS keyring" in keystore.describe()
    with pytest.raises(KeystoreError, match="TVDESK_WEBHOOK_SECRET_FILE"):
        keystore.ensure_webhook_secret()


def test_the_encrypted_file_keeps_secrets_across_restarts_and_never_in_clear(tmp_path):
    path = tmp_path / "secrets.cfg"
    first = encrypted_keystore(path)
    secret = first.ensure_webhook_secret()
    first.set("ngrok_authtoken", TOKEN)
    assert "secrets: kept in the encrypted file" in first.describe()

    content = path.read_text()
    for clear in (secret, TOKEN, PASSWORD):
        assert clear not in content
    assert oct(path.stat().st_mode & 0o777) == "0o600"

    again = encrypted_keystore(path)  # the next start, same password
    assert again.get(WEBHOOK_SECRET) == secret
    assert again.get("ngrok_authtoken") == TOKEN
    again.delete("ngrok_authtoken")
    assert encrypted_keystore(path).get("ngrok_authtoken") is None


def test_a_wrong_password_says_so_and_reveals_nothing(tmp_path):
    path = tmp_path / "secrets.cfg"
    encrypted_keystore(path).set("ngrok_authtoken", TOKEN)
    with pytest.raises(WrongPassword, match="Wrong password") as caught:
        unlock_encrypted_file(path, "not the password")
    assert str(path) in str(caught.value)
    assert "not the password" not in str(caught.value) and TOKEN not in str(caught.value)
    assert encrypted_keystore(path).get("ngrok_authtoken") == TOKEN  # the file is intact


def test_session_only_secrets_work_now_and_are_gone_at_exit():
    keystore = Keystore(SERVICE, env={}, backend=SessionKeyring(), store=SESSION_ONLY)
    assert keystore.available()[0] is True
    secret = keystore.ensure_webhook_secret()
    assert keystore.webhook_secrets(0).current == secret
    assert "this session only" in keystore.describe()
    next_run = Keystore(SERVICE, env={}, backend=SessionKeyring(), store=SESSION_ONLY)
    assert next_run.get(WEBHOOK_SECRET) is None


def test_a_file_variable_gives_the_file_content_less_one_newline(tmp_path):
    secret_file = tmp_path / "webhook"
    secret_file.write_text("s" * 32 + "\n")
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n\n")
    env = {
        "TVDESK_WEBHOOK_SECRET_FILE": str(secret_file),
        "TVDESK_NGROK_AUTHTOKEN_FILE": str(token_file),
    }
    keystore = Keystore(SERVICE, env=env)
    assert keystore.ensure_webhook_secret() == "s" * 32
    assert keystore.get("ngrok_authtoken") == TOKEN + "\n"  # only one newline is the file's
    assert keystore.source(WEBHOOK_SECRET) == "env"
    with pytest.raises(KeystoreError, match="TVDESK_WEBHOOK_SECRET_FILE; change it there"):
        keystore.set(WEBHOOK_SECRET, "t" * 32)


def test_a_value_in_both_variables_is_an_error_naming_both(tmp_path):
    secret_file = tmp_path / "webhook"
    secret_file.write_text("s" * 32)
    env = {"TVDESK_WEBHOOK_SECRET": "e" * 32, "TVDESK_WEBHOOK_SECRET_FILE": str(secret_file)}
    with pytest.raises(KeystoreError) as caught:
        Keystore(SERVICE, env=env).ensure_webhook_secret()
    message = str(caught.value)
    assert "TVDESK_WEBHOOK_SECRET and by TVDESK_WEBHOOK_SECRET_FILE" in message
    assert "e" * 32 not in message and "s" * 32 not in message


def test_a_missing_or_empty_secret_file_is_named(tmp_path):
    missing = tmp_path / "nowhere"
    env = {"TVDESK_WEBHOOK_SECRET_FILE": str(missing)}
    with pytest.raises(KeystoreError, match=f"TVDESK_WEBHOOK_SECRET_FILE names {missing}"):
        Keystore(SERVICE, env=env).get(WEBHOOK_SECRET)
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(KeystoreError, match="which is empty"):
        Keystore(SERVICE, env={"TVDESK_WEBHOOK_SECRET_FILE": str(empty)}).get(WEBHOOK_SECRET)


def test_the_file_backend_is_never_taken_for_the_os_keyring(tmp_path):
    """Installed, keyrings.cryptfile registers itself for keyring's detection and would ask
    for a password on the terminal at the first read."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHON_KEYRING_BACKEND", "DBUS_SESSION_BUS_ADDRESS")
    }
    env["XDG_CONFIG_HOME"] = str(tmp_path)  # no keyringrc.cfg choosing a backend
    code = (
        "import tvdesk.config.keystore as k, keyring.backend as b\n"
        "print(type(k.Keystore('tvdesk/x')._keyring()).__module__)\n"
        "print(sorted({type(r).__module__ for r in b.get_all_keyring()}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        stdin=subprocess.DEVNULL,
    )
    assert "keyrings.cryptfile" not in done.stdout, done.stdout
    # Nor is tvdesk's own session store: with no OS keyring, detection finds none (so the
    # window asks where to keep secrets) instead of keeping them in memory without a word.
    assert "tvdesk.config.secret_stores" not in done.stdout, done.stdout
    assert done.stdout.splitlines()[0] == "keyring.backends.fail", done.stdout


def test_headless_reads_the_webhook_secret_from_a_file_and_says_where_secrets_are(tmp_path):
    secret = "f" * 40
    secret_file = tmp_path / "webhook_secret"
    secret_file.write_text(secret + "\n")
    engine = EngineProcess(
        tmp_path / "data",
        secret,
        env={"TVDESK_WEBHOOK_SECRET": "", "TVDESK_WEBHOOK_SECRET_FILE": str(secret_file)},
    )
    try:
        engine.start()
        alert = {"symbol": "BTCUSDT", "side": "buy", "qty": "0.01", "test": True}
        status, reply = engine.post_signed(alert)
        assert status == 200, reply
        assert engine.terminate() == 0
    finally:
        engine.cleanup()
    lines = [line for line in engine.stderr().splitlines() if "secrets:" in line]
    assert len(lines) == 1 and "no OS keyring" in lines[0]
    assert secret not in engine.stderr() + engine.stdout()
