"""The one-shot commands read the encrypted secrets file as ``--headless`` does: on a server
whose secrets are only in that file, ``tvdesk kill`` trips the kill switch with
TVDESK_SECRETS_PASSWORD_FILE; without the password each command is refused in plain words
(exit 2, no traceback, nothing secret printed), and a webhook secret given in the
environment still signs without it (the kill switch never waits on a password)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail

from tests.brokers.test_paper_process import paper_alert, wait_decided
from tests.kit import secrets_file as kit
from tests.kit.engine_proc import EngineProcess, run_cli
from tests.kit.fake_notify import FakeNotify
from tests.kit.secrets_file import PASSWORD, SECRET, TOKEN, secrets_file
from tests.notify.test_notifier import write_settings
from tvdesk.config.keystore import DISCORD_WEBHOOK_URL
from tvdesk.support import exits


@pytest.fixture(autouse=True)
def no_os_keyring() -> None:
    keyring.set_keyring(fail.Keyring())  # the conftest puts its own keyring back after


@pytest.fixture
def quick_kdf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    return kit.quick_kdf(tmp_path, monkeypatch)


def never_said(result: subprocess.CompletedProcess[str], *secrets: str) -> None:
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    for secret in (PASSWORD, SECRET, TOKEN, *secrets):
        assert secret not in output


def tvdesk(data: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = run_cli(*args, "--data-dir", str(data), env=env)
    never_said(result)
    return result


def test_kill_unlocks_the_file_and_trips_the_kill_switch_of_a_server_engine(
    tmp_path: Path, quick_kdf: dict[str, str]
) -> None:
    data = tmp_path / "data"
    secrets_file(data)
    unlocked = {**quick_kdf, "TVDESK_SECRETS_PASSWORD_FILE": str(kit.password_file(tmp_path))}
    # The engine's webhook secret comes from the file alone, as on the server.
    engine = EngineProcess(data, SECRET, env={**unlocked, "TVDESK_WEBHOOK_SECRET": ""})
    try:
        engine.start()
        locked = tvdesk(data, "kill", env=quick_kdf)
        assert locked.returncode == exits.USAGE, locked.stderr
        for words in (str(data / "secrets.cfg"), "TVDESK_SECRETS_PASSWORD_FILE", "docs/server"):
            assert words in locked.stderr
        status = json.loads(tvdesk(data, "status", "--json", env=unlocked).stdout)
        assert status["kill_switch"] is False  # the refused kill did nothing

        killed = tvdesk(data, "kill", env=unlocked)
        assert killed.returncode == exits.OK, killed.stderr
        assert killed.stdout.startswith("kill switch ON")
        person = tvdesk(data, "status", env=unlocked)
        assert "kill switch ON: no new orders" in person.stdout.splitlines()[0]
        code, reply = engine.post_signed(paper_alert("after-kill"))
        assert code == 200, reply
        refused = wait_decided(engine, [reply["alert_id"]])[reply["alert_id"]]
        assert refused["outcome"] == "rejected" and "kill switch" in refused["reason"]

        sent = tvdesk(data, "send-test", env=unlocked)  # signed with the file's secret
        assert sent.returncode == exits.OK, sent.stderr
        assert sent.stdout.startswith("200 from ")
        # A webhook secret in the environment signs without the password.
        resumed = tvdesk(data, "resume", env={**quick_kdf, "TVDESK_WEBHOOK_SECRET": SECRET})
        assert resumed.returncode == exits.OK, resumed.stderr
        assert resumed.stdout.startswith("kill switch off")
        assert engine.terminate() == 0
    finally:
        engine.cleanup()


def engine_file(data: Path) -> None:
    """What a running engine leaves: the commands read their ports from it first."""
    info = {"pid": 1, "port": 9, "control_port": 9, "host": "127.0.0.1", "mode": "paper"}
    (data / "engine.json").write_text(json.dumps(info), encoding="utf-8")


COMMANDS = [["status"], ["kill"], ["kill", "--flatten"], ["resume"], ["send-test"]]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_without_the_password_each_command_says_how_to_give_it(
    command: list[str], tmp_path: Path, quick_kdf: dict[str, str]
) -> None:
    data = tmp_path / "data"
    path = secrets_file(data)
    engine_file(data)
    result = tvdesk(data, *command, env=quick_kdf)
    assert result.returncode == exits.USAGE, result.stderr
    assert result.stderr.startswith(f"tvdesk: your secrets are in the encrypted file {path}")
    assert "set TVDESK_SECRETS_PASSWORD_FILE to its path" in result.stderr
    wrong = "not the password at all"
    result = tvdesk(data, *command, env={**quick_kdf, "TVDESK_SECRETS_PASSWORD": wrong})
    assert result.returncode == exits.USAGE, result.stderr
    said = f"the password from TVDESK_SECRETS_PASSWORD does not unlock the secrets file {path}"
    assert said in result.stderr
    assert wrong not in result.stdout + result.stderr


def test_notify_test_reads_a_channel_token_from_the_file(
    tmp_path: Path, quick_kdf: dict[str, str]
) -> None:
    data = tmp_path / "data"
    write_settings(data, "discord = false", "discord = true")
    fake = FakeNotify()
    with fake.in_thread():
        secrets_file(data, **{DISCORD_WEBHOOK_URL: fake.discord_url})
        locked = run_cli("notify-test", "--data-dir", str(data), env=quick_kdf)
        assert locked.returncode == exits.USAGE, locked.stderr
        assert "set TVDESK_SECRETS_PASSWORD_FILE" in locked.stderr
        unlocked = {**quick_kdf, "TVDESK_SECRETS_PASSWORD_FILE": str(kit.password_file(tmp_path))}
        done = run_cli("notify-test", "--data-dir", str(data), env=unlocked)
        assert fake.wait_delivered_sync("discord", 1)[0].startswith("tvdesk: test notification")
    assert done.returncode == exits.OK, done.stderr
    assert "Discord: sent" in done.stdout.splitlines()
    for result in (locked, done):
        never_said(result, fake.discord_url)
