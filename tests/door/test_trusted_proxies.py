"""``[listener] trusted_proxies``: behind the trader's own reverse proxy (Caddy, nginx) the
client is the address that proxy puts in ``X-Forwarded-For``; from anyone else that header
changes nothing (DESIGN.md, "Settings file").

A real engine's main port, over loopback: the test client connects from 127.0.0.1, so it
plays the reverse proxy when 127.0.0.1 is inside ``trusted_proxies``, and a stranger
forging the header when it is not.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest

from tests.kit.door import Door, alert, open_door
from tvdesk.config.load import SettingsError, load_settings
from tvdesk.config.schema import ListenerSettings, Settings

OpenDoor = Callable[[list[str]], AbstractAsyncContextManager[Door]]


@pytest.fixture
def door_with(tmp_path: Path) -> OpenDoor:
    """A door whose main port trusts these proxies (no tunnel: only the main port)."""

    def opener(proxies: list[str]) -> AbstractAsyncContextManager[Door]:
        listener = ListenerSettings(port=0, trusted_proxies=proxies)
        return open_door(tmp_path / "data", settings=Settings(listener=listener), tunnel=False)

    return opener


async def knock(door: Door, forwarded: str | None) -> tuple[int, dict]:
    """One failed authentication on the main port, with this X-Forwarded-For (or none)."""
    headers = {} if forwarded is None else {"X-Forwarded-For": forwarded}
    reply = await door.send(alert(), secret="whsec_guess", headers=headers)
    return reply.status, reply.json


async def fail_until_locked(door: Door, forwarded: Callable[[int], str | None]) -> None:
    for n in range(door.settings.auth.lockout_failures + 1):
        status, _ = await knock(door, forwarded(n))
    assert status == 429


async def test_behind_a_trusted_proxy_the_lockout_is_per_forwarded_client(door_with: OpenDoor):
    async with door_with(["127.0.0.1/32"]) as door:
        await fail_until_locked(door, lambda n: f"203.0.113.{n + 1}")

        status, body = await knock(door, "203.0.113.200")
        assert (status, body["error"]) == (429, "rate_limited")
        assert "203.0.113.200's network 203.0.113.0/24" in body["message"]

        # Another client behind the same proxy is someone else: not locked out.
        status, body = await knock(door, "198.51.100.7")
        assert (status, body["error"]) == (401, "unauthorized")
        good = await door.send(alert(), headers={"X-Forwarded-For": "198.51.100.7"})
        assert good.status == 200


async def test_the_right_most_address_that_is_not_a_trusted_proxy_is_the_client(
    door_with: OpenDoor,
):
    # Two proxies of the trader's (127.0.0.1, then one in 10.0.0.0/8); the client wrote
    # 192.0.2.1 itself, and the proxies appended 203.0.113.5 and 10.1.2.3.
    async with door_with(["127.0.0.1/32", "10.0.0.0/8"]) as door:
        await fail_until_locked(door, lambda n: f"192.0.2.{n + 1}, 203.0.113.5, 10.1.2.3")

        _, body = await knock(door, "192.0.2.250, 203.0.113.5, 10.1.2.3")
        assert "from 203.0.113.5's network 203.0.113.0/24" in body["message"]
        # The forged part never named a client: someone claiming to be 192.0.2.x is not
        # locked out, because the client it really came from (198.51.100.9) is not.
        status, _ = await knock(door, "192.0.2.250, 198.51.100.9, 10.1.2.3")
        assert status == 401


async def test_a_forged_header_from_an_untrusted_peer_changes_nothing(door_with: OpenDoor):
    # 127.0.0.1 is not in the trusted networks: the header is the caller's own claim.
    async with door_with(["10.0.0.0/8"]) as door:
        await fail_until_locked(door, lambda n: f"203.0.{n}.1")  # a new /24 every time

        status, body = await knock(door, "198.51.100.7")
        assert (status, body["error"]) == (429, "rate_limited")
        assert "from 127.0.0.1's network 127.0.0.0/24" in body["message"]
        assert "198.51.100.7" not in body["message"]


async def test_without_trusted_proxies_the_header_is_ignored_on_the_main_port(
    door_with: OpenDoor,
):
    async with door_with([]) as door:
        await fail_until_locked(door, lambda n: f"203.0.{n}.1")

        _, body = await knock(door, None)
        assert "from 127.0.0.1's network" in body["message"]


async def test_a_hop_that_is_no_address_is_not_taken_as_the_client(door_with: OpenDoor):
    async with door_with(["127.0.0.0/8"]) as door:
        await fail_until_locked(door, lambda n: f"203.0.113.{n + 1}, internal:x")

        _, body = await knock(door, "203.0.113.1, internal:x")
        assert body["message"].startswith("too many failed attempts from 127.0.0.1's network")


@pytest.mark.parametrize(
    ("entry", "fix"),
    [
        ("my-proxy", 'like "172.18.0.0/16" or "10.0.0.5", not "my-proxy"'),
        ("10.0.0.0/33", 'not "10.0.0.0/33"'),
        ("172.18.0.1/16", 'write "172.18.0.0/16" for the network, or "172.18.0.1"'),
    ],
)
def test_a_bad_cidr_is_named_in_the_settings_error(tmp_path: Path, entry: str, fix: str):
    settings_file = tmp_path / "settings.toml"
    settings_file.write_text(
        f'[listener]\nport = 8787\ntrusted_proxies = ["127.0.0.1/32", "{entry}"]\n',
        encoding="utf-8",
    )

    with pytest.raises(SettingsError) as raised:
        load_settings(settings_file)

    message = str(raised.value)
    assert "line 3: listener.trusted_proxies[2] " in message
    assert fix in message


def test_good_cidrs_and_single_addresses_load(tmp_path: Path):
    settings_file = tmp_path / "settings.toml"
    proxies = ["172.18.0.0/16", "10.0.0.5", "fd00::/8", "::1"]
    settings_file.write_text(
        "[listener]\ntrusted_proxies = [" + ", ".join(f'"{p}"' for p in proxies) + "]\n",
        encoding="utf-8",
    )

    assert load_settings(settings_file).listener.trusted_proxies == proxies
