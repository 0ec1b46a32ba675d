"""A one-shot command (``tvdesk kill``) unlocks only the secrets it reads: each entry of
the encrypted file costs a deliberately slow key derivation (about a second), and the kill
switch must not wait for the exchange keys and tokens it never uses. A wrong password is
still refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from keyrings.cryptfile.cryptfile import CryptFileKeyring

from tests.kit.secrets_file import PASSWORD, SECRET, quick_kdf, secrets_file
from tvdesk.config.keystore import WEBHOOK_SECRET, service_name
from tvdesk.config.secret_stores import WrongPassword, unlock_encrypted_file


def test_only_the_named_secrets_are_decrypted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    quick_kdf(tmp_path, monkeypatch)
    path = secrets_file(tmp_path / "data", exchange_api_secret="exchange-secret-xyz")
    decrypted: list[str] = []
    real = CryptFileKeyring.get_password

    def counting(self, service, username):
        if service != "keyring-setting":  # the library's own password check
            decrypted.append(username)
        return real(self, service, username)

    monkeypatch.setattr(CryptFileKeyring, "get_password", counting)
    backend = unlock_encrypted_file(path, PASSWORD, only=[WEBHOOK_SECRET])
    service = service_name(tmp_path / "data")
    assert backend.get_password(service, WEBHOOK_SECRET) == SECRET
    assert decrypted == [WEBHOOK_SECRET], "the exchange secret and token stay encrypted"

    decrypted.clear()
    everything = unlock_encrypted_file(path, PASSWORD)
    assert sorted(decrypted) == sorted([WEBHOOK_SECRET, "ngrok_authtoken", "exchange_api_secret"])
    assert everything.get_password(service, "exchange_api_secret") == "exchange-secret-xyz"


def test_a_wrong_password_is_refused_when_only_one_secret_is_asked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    quick_kdf(tmp_path, monkeypatch)
    path = secrets_file(tmp_path / "data")
    with pytest.raises(WrongPassword):
        unlock_encrypted_file(path, "not the password", only=[WEBHOOK_SECRET])
    with pytest.raises(WrongPassword):
        unlock_encrypted_file(path, "not the password", only=["nothing_stored_under_this"])
