"""`tvdesk --headless` with the encrypted secrets file the window offers where there is no OS
keyring: unlocked with TVDESK_SECRETS_PASSWORD_FILE / TVDESK_SECRETS_PASSWORD, refused in
plain words (exit 2, no traceback, no password echoed) when it cannot be."""

from __future__ import annotations

import subprocess
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail

from tests.kit import secrets_file as kit
from tests.kit.engine_proc import EngineProcess, dry_run_alert, run_cli
from tests.kit.secrets_file import PASSWORD, SECRET, TOKEN, secrets_file
from tvdesk.cli.unlock import open_keystore
from tvdesk.config.keystore import WEBHOOK_SECRET, KeystoreError, service_name
from tvdesk.config.secret_stores import SECRETS_FILE, encrypted_label, unlock_encrypted_file
from tvdesk.support import exits


@pytest.fixture(autouse=True)
def no_os_keyring() -> None:
    keyring.set_keyring(fail.Keyring())  # the conftest puts its own keyring back after


@pytest.fixture
def quick_kdf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    return kit.quick_kdf(tmp_path, monkeypatch)


def headless(data_dir: Path) -> list[str]:
    return ["--headless", "--no-tunnel", "--port", "0", "--data-dir", str(data_dir)]


def assert_refused(result: subprocess.CompletedProcess[str], *said: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == exits.USAGE, output
    assert "Traceback" not in output and "tvdesk ready on" not in output
    assert PASSWORD not in output and SECRET not in output and TOKEN not in output
    for words in said:
        assert words in result.stderr, result.stderr


def test_headless_unlocks_the_file_with_the_password_file_and_trades(tmp_path, quick_kdf):
    data = tmp_path / "data"
    secrets_file(data)
    env = {
        **quick_kdf,
        "TVDESK_WEBHOOK_SECRET": "",  # the webhook secret comes from the file alone
        "TVDESK_SECRETS_PASSWORD_FILE": str(kit.password_file(tmp_path)),
    }
    engine = EngineProcess(data, SECRET, env=env)
    try:
        engine.start()
        status, reply = engine.post_signed(dry_run_alert("from-the-file"))  # its secret signs
        assert (status, reply["status"]) == (200, "accepted"), reply
        assert engine.terminate() == 0
    finally:
        engine.cleanup()
    told = [line for line in engine.stderr().splitlines() if "secrets:" in line]
    assert len(told) == 1 and "kept in the encrypted file" in told[0], engine.stderr()
    everything = engine.stderr() + engine.stdout() + (data / "logs" / "tvdesk.log").read_text()
    for secret in (PASSWORD, SECRET, TOKEN):
        assert secret not in everything


def test_without_a_password_headless_says_how_to_give_one(tmp_path, quick_kdf):
    data = tmp_path / "data"
    path = secrets_file(data)
    result = run_cli(*headless(data), env={**quick_kdf, "TVDESK_WEBHOOK_SECRET": ""})
    assert_refused(result, str(path), "TVDESK_SECRETS_PASSWORD_FILE", "docs/server.md")
    assert not (data / "engine.json").exists()


def test_a_wrong_password_is_refused_without_echoing_it(tmp_path, quick_kdf):
    data = tmp_path / "data"
    path = secrets_file(data)
    wrong = "not the password at all"
    env = {**quick_kdf, "TVDESK_WEBHOOK_SECRET": "", "TVDESK_SECRETS_PASSWORD": wrong}
    result = run_cli(*headless(data), env=env)
    assert_refused(result, "TVDESK_SECRETS_PASSWORD does not unlock", str(path))
    assert wrong not in result.stdout + result.stderr
    # The file is untouched: the right password still opens it, secrets inside.
    backend = unlock_encrypted_file(path, PASSWORD)
    assert backend.get_password(service_name(data), WEBHOOK_SECRET) == SECRET


def test_a_password_given_twice_or_in_an_empty_file_is_named(tmp_path, quick_kdf):
    data = tmp_path / "data"
    secrets_file(data)
    password_file = tmp_path / "secrets_password"
    password_file.write_text(PASSWORD)
    env = {
        **quick_kdf,
        "TVDESK_SECRETS_PASSWORD": PASSWORD,
        "TVDESK_SECRETS_PASSWORD_FILE": str(password_file),
    }
    result = run_cli(*headless(data), env=env)
    assert_refused(result, "by TVDESK_SECRETS_PASSWORD and by TVDESK_SECRETS_PASSWORD_FILE")

    password_file.write_text("\n")
    env = {**quick_kdf, "TVDESK_SECRETS_PASSWORD_FILE": str(password_file)}
    result = run_cli(*headless(data), env=env)
    assert_refused(result, f"TVDESK_SECRETS_PASSWORD_FILE names {password_file}, which is empty")


def test_the_password_is_taken_out_of_the_environment_children_inherit(tmp_path, quick_kdf):
    """The ngrok agent and any other child of the engine never see it; a first start with
    a password makes the file, and the webhook secret made then is kept in it."""
    env = {"TVDESK_SECRETS_PASSWORD": PASSWORD, "PATH": "/usr/bin"}
    keystore = open_keystore("tvdesk/test", tmp_path, env)
    assert env == {"PATH": "/usr/bin"}
    assert keystore.store == encrypted_label(tmp_path / SECRETS_FILE)
    made = keystore.ensure_webhook_secret()
    again = open_keystore("tvdesk/test", tmp_path, {"TVDESK_SECRETS_PASSWORD": PASSWORD})
    assert again.get(WEBHOOK_SECRET) == made
    with pytest.raises(KeystoreError, match="which cannot be read"):
        missing = {"TVDESK_SECRETS_PASSWORD_FILE": str(tmp_path / "nowhere")}
        open_keystore("tvdesk/test", tmp_path, missing)
