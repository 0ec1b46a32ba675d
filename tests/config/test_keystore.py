import hashlib
import re
from pathlib import Path

import pytest
from keyring.backends import fail, null

from tests.kit.engine_proc import run_cli
from tests.kit.memkeyring import MemoryKeyring
from tvdesk.config.keystore import (
    WEBHOOK_SECRET,
    WEBHOOK_SECRET_PREVIOUS,
    Keystore,
    KeystoreError,
    service_name,
)

SERVICE = "tvdesk/test"
URLSAFE_256_BITS = re.compile(r"[A-Za-z0-9_-]{43,}")


def make(backend: object | None = None, env: dict[str, str] | None = None) -> Keystore:
    return Keystore(SERVICE, env={} if env is None else env, backend=backend or MemoryKeyring())


def assert_keyring_help(message: str, env_var: str) -> None:
    assert "No usable OS keyring" in message
    assert "GNOME Keyring" in message
    assert env_var in message


# --- service name ---


def test_service_name_without_data_dir() -> None:
    assert service_name(None) == "tvdesk"


def test_service_name_hashes_the_resolved_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    expected = hashlib.sha256(str((tmp_path / "p").resolve()).encode()).hexdigest()[:8]
    assert service_name(Path("p")) == f"tvdesk/{expected}"
    assert service_name(tmp_path / "p") == service_name(Path("p"))
    assert service_name(tmp_path / "other") != service_name(Path("p"))
    assert re.fullmatch(r"tvdesk/[0-9a-f]{8}", service_name(tmp_path / "other"))


# --- reading ---


def test_environment_overrides_the_keyring() -> None:
    backend = MemoryKeyring()
    backend.set_password(SERVICE, "binance_api_key", "from-keyring")
    env = {"TVDESK_BINANCE_API_KEY": "from-env"}
    assert make(backend, env).get("binance_api_key") == "from-env"
    assert make(backend, env).source("binance_api_key") == "env"
    assert make(backend).get("binance_api_key") == "from-keyring"
    assert make(backend).source("binance_api_key") == "keyring"
    assert make(backend).get("binance_api_secret") is None
    assert make(backend).source("binance_api_secret") is None


def test_an_empty_environment_variable_does_not_count() -> None:
    backend = MemoryKeyring()
    backend.set_password(SERVICE, "webhook_secret", "stored")
    assert make(backend, {"TVDESK_WEBHOOK_SECRET": ""}).get("webhook_secret") == "stored"


def test_secrets_are_kept_per_service() -> None:
    backend = MemoryKeyring()
    Keystore("tvdesk/aaaaaaaa", env={}, backend=backend).set("ngrok_authtoken", "one")
    assert Keystore("tvdesk", env={}, backend=backend).get("ngrok_authtoken") is None


def test_reads_are_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    backend = MemoryKeyring()
    backend.set_password(SERVICE, "webhook_secret", "s3")
    calls = []
    real_get = backend.get_password

    def counting_get(service: str, name: str) -> str | None:
        calls.append(name)
        return real_get(service, name)

    monkeypatch.setattr(backend, "get_password", counting_get)
    ks = make(backend)
    for _ in range(100):
        assert ks.get("webhook_secret") == "s3"
        assert ks.get("ngrok_authtoken") is None
        ks.webhook_secrets(now=0.0)
    assert sorted(set(calls)) == ["ngrok_authtoken", "webhook_secret", "webhook_secret_previous"]
    assert len(calls) == 3


# --- writing ---


def test_set_stores_in_the_keyring() -> None:
    backend = MemoryKeyring()
    make(backend).set("binance_api_secret", "abc123")
    assert backend.entries[(SERVICE, "binance_api_secret")] == "abc123"
    assert make(backend).get("binance_api_secret") == "abc123"


def test_set_is_refused_when_the_environment_overrides() -> None:
    backend = MemoryKeyring()
    ks = make(backend, {"TVDESK_NGROK_AUTHTOKEN": "env-token-xyz"})
    with pytest.raises(KeystoreError) as info:
        ks.set("ngrok_authtoken", "typed-token-abc")
    message = str(info.value)
    assert "TVDESK_NGROK_AUTHTOKEN" in message
    assert "change it there" in message
    assert "env-token-xyz" not in message and "typed-token-abc" not in message
    assert backend.entries == {}


def test_an_empty_value_is_refused() -> None:
    with pytest.raises(KeystoreError, match="empty"):
        make().set("binance_api_key", "")


def test_delete_is_fine_when_missing_and_forgets_the_value() -> None:
    backend = MemoryKeyring()
    ks = make(backend)
    ks.delete("binance_api_key")
    ks.set("binance_api_key", "k")
    ks.delete("binance_api_key")
    assert ks.get("binance_api_key") is None
    assert backend.entries == {}


def test_available_with_a_working_keyring() -> None:
    assert make().available() == (True, "")


# --- the webhook secret ---


def test_first_run_generates_and_persists_a_strong_secret() -> None:
    backend = MemoryKeyring()
    secret = make(backend).ensure_webhook_secret()
    assert URLSAFE_256_BITS.fullmatch(secret)
    assert backend.entries[(SERVICE, "webhook_secret")] == secret
    restarted = make(backend)
    assert restarted.ensure_webhook_secret() == secret
    assert restarted.webhook_secrets(now=0.0).accepted(0.0) == (secret,)
    assert make().ensure_webhook_secret() != secret


def test_rotation_keeps_the_old_secret_until_the_grace_ends() -> None:
    backend = MemoryKeyring()
    ks = make(backend)
    old = ks.ensure_webhook_secret()
    new = ks.rotate_webhook_secret(now=1000.0, grace_s=600)
    assert new != old
    assert URLSAFE_256_BITS.fullmatch(new)

    assert ks.webhook_secrets(1000.0).accepted(1000.0) == (new, old)
    assert ks.webhook_secrets(1599.0).accepted(1599.0) == (new, old)
    restarted = make(backend)  # the grace window survives a restart
    assert restarted.webhook_secrets(1599.0).accepted(1599.0) == (new, old)

    assert ks.webhook_secrets(1600.0).accepted(1600.0) == (new,)
    assert restarted.webhook_secrets(5000.0).accepted(5000.0) == (new,)
    assert ks.get("webhook_secret") == new


def test_rotation_without_grace_drops_the_old_secret_at_once() -> None:
    ks = make()
    old = ks.ensure_webhook_secret()
    ks.rotate_webhook_secret(now=0.0, grace_s=600)
    new = ks.rotate_webhook_secret(now=10.0, grace_s=0)
    assert old not in ks.webhook_secrets(10.0).accepted(10.0)
    assert ks.webhook_secrets(10.0).accepted(10.0) == (new,)


def test_rotation_is_refused_when_the_environment_sets_the_secret() -> None:
    backend = MemoryKeyring()
    ks = make(backend, {"TVDESK_WEBHOOK_SECRET": "env-secret-123"})
    with pytest.raises(KeystoreError) as info:
        ks.rotate_webhook_secret(now=0.0, grace_s=600)
    assert "TVDESK_WEBHOOK_SECRET" in str(info.value)
    assert "env-secret-123" not in str(info.value)
    assert backend.entries == {}


def test_a_damaged_previous_entry_only_loses_the_grace_window() -> None:
    backend = MemoryKeyring()
    backend.set_password(SERVICE, "webhook_secret", "current")
    backend.set_password(SERVICE, "webhook_secret_previous", "{not json")
    assert make(backend).webhook_secrets(0.0).accepted(0.0) == ("current",)


def test_webhook_secrets_before_any_secret_exists_says_what_to_do() -> None:
    with pytest.raises(KeystoreError, match="TVDESK_WEBHOOK_SECRET"):
        make().webhook_secrets(0.0)


def assert_too_short(error: KeystoreError, secret: str, *fix: str) -> None:
    message = str(error)
    assert "shorter than 16 characters" in message
    assert secret not in message
    for words in fix:
        assert words in message


def test_a_short_webhook_secret_cannot_be_set() -> None:
    backend = MemoryKeyring()
    with pytest.raises(KeystoreError) as info:
        make(backend).set(WEBHOOK_SECRET, "1234")
    assert_too_short(info.value, "1234", "rotate")
    assert backend.entries == {}
    make(backend).set(WEBHOOK_SECRET, "x" * 16)  # 16 is enough


def test_a_short_webhook_secret_in_the_environment_is_refused_at_start() -> None:
    ks = make(env={"TVDESK_WEBHOOK_SECRET": "1234"})
    with pytest.raises(KeystoreError) as info:
        ks.ensure_webhook_secret()
    assert_too_short(info.value, "1234", "set TVDESK_WEBHOOK_SECRET to a longer one")


def test_a_short_webhook_secret_in_the_keyring_is_refused_at_start() -> None:
    backend = MemoryKeyring()
    backend.set_password(SERVICE, WEBHOOK_SECRET, "1234")
    with pytest.raises(KeystoreError) as info:
        make(backend).ensure_webhook_secret()
    assert_too_short(info.value, "1234", f"keyring del {SERVICE} webhook_secret")


def test_the_headless_engine_refuses_a_short_secret_in_one_line(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    args = ("--headless", "--no-tunnel", "--port", "0", "--data-dir", str(data_dir))

    result = run_cli(*args, env={"TVDESK_WEBHOOK_SECRET": "1234"}, timeout=15)

    assert result.returncode != 0
    assert "tvdesk ready on" not in result.stdout
    assert result.stderr.startswith("tvdesk: The webhook secret is shorter than 16 characters")
    assert "TVDESK_WEBHOOK_SECRET" in result.stderr
    assert "Traceback" not in result.stderr and "1234" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# --- no usable keyring ---

UNUSABLE = [pytest.param(null.Keyring, id="null"), pytest.param(fail.Keyring, id="fail")]


@pytest.mark.parametrize("backend_class", UNUSABLE)
def test_an_unusable_keyring_is_reported_with_the_fix(backend_class: type) -> None:
    ks = make(backend_class())
    ok, message = ks.available()
    assert not ok
    assert_keyring_help(message, "TVDESK_")
    # Every variable named whole (it once read "...(e.g. TVDESK_WEBHOOK_SECRET)_FILE").
    assert "set TVDESK_<NAME> (or TVDESK_<NAME>_FILE," in message
    assert ")_FILE" not in message

    with pytest.raises(KeystoreError) as info:
        ks.set("binance_api_key", "key-that-must-not-leak")
    assert_keyring_help(str(info.value), "TVDESK_BINANCE_API_KEY")
    assert "key-that-must-not-leak" not in str(info.value)

    with pytest.raises(KeystoreError) as info:
        ks.ensure_webhook_secret()
    assert_keyring_help(str(info.value), "TVDESK_WEBHOOK_SECRET")
    assert ks.get("binance_api_key") is None


@pytest.mark.parametrize("backend_class", UNUSABLE)
def test_environment_variables_work_without_a_keyring(backend_class: type) -> None:
    env = {"TVDESK_WEBHOOK_SECRET": "env-webhook-0123456", "TVDESK_BINANCE_API_KEY": "env-key"}
    ks = make(backend_class(), env)
    assert ks.ensure_webhook_secret() == "env-webhook-0123456"
    assert ks.webhook_secrets(0.0).accepted(0.0) == ("env-webhook-0123456",)
    assert ks.get("binance_api_key") == "env-key"
    assert ks.source("webhook_secret") == "env"
    assert ks.get("ngrok_authtoken") is None
    ks.delete("ngrok_authtoken")


class LeakyKeyring:
    """A backend whose errors quote the password, as a careless backend might."""

    priority = 5

    def get_password(self, service: str, name: str) -> str | None:
        return None

    def set_password(self, service: str, name: str, password: str) -> None:
        raise RuntimeError(f"could not store {password}")


def test_backend_errors_never_carry_the_secret_into_ours() -> None:
    ks = make(LeakyKeyring())
    with pytest.raises(KeystoreError) as info:
        ks.set("binance_api_secret", "very-secret-value")
    error = info.value
    assert "very-secret-value" not in str(error)
    assert "RuntimeError" in str(error)
    assert error.__cause__ is None and error.__context__ is None
    with pytest.raises(KeystoreError) as info:
        ks.ensure_webhook_secret()
    assert "could not store" not in str(info.value)
    assert info.value.__context__ is None


def stored_names(backend: MemoryKeyring) -> set[str]:
    """The entries' names only: an assertion that fails never prints a secret."""
    return {name for _service, name in backend.entries}


def still_stored(backend: MemoryKeyring, secret: str) -> bool:
    return any(secret in value for value in backend.entries.values())


def test_the_previous_secret_is_deleted_from_the_keyring_when_its_grace_ends() -> None:
    backend = MemoryKeyring()
    ks = make(backend)
    old = ks.ensure_webhook_secret()
    new = ks.rotate_webhook_secret(now=1000.0, grace_s=600)

    assert ks.webhook_secrets(1599.0).accepted(1599.0) == (new, old)
    assert WEBHOOK_SECRET_PREVIOUS in stored_names(backend)

    assert ks.webhook_secrets(1600.0).accepted(1600.0) == (new,)
    assert WEBHOOK_SECRET_PREVIOUS not in stored_names(backend)
    assert not still_stored(backend, old)
    assert ks.webhook_secrets(1000.0).accepted(1000.0) == (new,)  # a clock set back: still gone


def test_a_start_after_the_grace_ended_deletes_the_previous_secret() -> None:
    backend = MemoryKeyring()
    ks = make(backend)
    old = ks.ensure_webhook_secret()
    new = ks.rotate_webhook_secret(now=1000.0, grace_s=600)

    restarted = make(backend)  # a new process: nothing cached
    assert restarted.webhook_secrets(5000.0).accepted(5000.0) == (new,)
    assert WEBHOOK_SECRET_PREVIOUS not in stored_names(backend)
    assert not still_stored(backend, old)


@pytest.mark.parametrize(
    "stored", ["{not json", '{"secret": "x"}', '{"secret": "x", "expires_at": "nan"}']
)
def test_a_damaged_previous_entry_is_deleted_too(stored: str) -> None:
    backend = MemoryKeyring()
    backend.set_password(SERVICE, "webhook_secret", "current-secret-0123")
    backend.set_password(SERVICE, WEBHOOK_SECRET_PREVIOUS, stored)
    assert make(backend).webhook_secrets(0.0).accepted(0.0) == ("current-secret-0123",)
    assert WEBHOOK_SECRET_PREVIOUS not in stored_names(backend)


def test_a_keyring_that_refuses_the_delete_still_refuses_the_old_secret(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def locked(service: str, username: str) -> None:
        raise RuntimeError("locked")

    backend = MemoryKeyring()
    backend.delete_password = locked  # type: ignore[method-assign]
    ks = make(backend)
    old = ks.ensure_webhook_secret()
    new = ks.rotate_webhook_secret(now=1000.0, grace_s=600)

    with caplog.at_level("WARNING"):
        assert ks.webhook_secrets(1600.0).accepted(1600.0) == (new,)
    assert "unlock the keyring" in caplog.text
    assert not any(secret in caplog.text for secret in (old, new))
