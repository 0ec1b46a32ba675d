"""After a rotation the previous webhook secret works for `auth.rotation_grace_s`, then
it is refused and deleted from the keyring: when secrets are next read, and at a start."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.kit.door import Door, alert, open_door
from tvdesk.config.keystore import WEBHOOK_SECRET_PREVIOUS

AUTH_FORMS = ("body", "x-signature", "tvdesk")


@pytest.fixture
async def door(tmp_path: Path) -> AsyncIterator[Door]:
    async with open_door(tmp_path / "data") as opened:
        yield opened


def stored_names(door: Door) -> set[str]:
    return {name for _service, name in door.keyring.entries}


def still_stored(door: Door, secret: str) -> bool:
    """Whether any keyring entry holds the secret (a bool: a failure never prints it)."""
    return any(secret in value for value in door.keyring.entries.values())


@pytest.mark.parametrize("auth", AUTH_FORMS)
async def test_the_old_secret_leaves_the_keyring_when_its_grace_ends(door: Door, auth):
    grace = door.settings.auth.rotation_grace_s
    old = door.secret
    new = door.rotate_secret()
    assert WEBHOOK_SECRET_PREVIOUS in stored_names(door)  # kept for the grace window

    door.clock.advance(grace - 1)
    assert (await door.send(alert(), auth=auth, secret=old)).status == 200
    assert WEBHOOK_SECRET_PREVIOUS in stored_names(door)

    door.clock.advance(1)
    late = await door.send(alert(), auth=auth, secret=old)

    assert late.status == 401
    assert late.json["error"] == "unauthorized"
    assert WEBHOOK_SECRET_PREVIOUS not in stored_names(door)
    assert not still_stored(door, old)
    assert (await door.send(alert(), auth=auth, secret=new)).status == 200


async def test_a_grace_that_ended_while_stopped_is_cleared_at_the_next_start(door: Door):
    old = door.secret
    door.rotate_secret()
    door.clock.advance(door.settings.auth.rotation_grace_s + 3600)

    await door.restart()

    # Nothing was sent yet: the start itself deleted it.
    assert WEBHOOK_SECRET_PREVIOUS not in stored_names(door)
    assert not still_stored(door, old)
    assert (await door.send(alert(), secret=old)).status == 401
