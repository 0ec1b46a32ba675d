"""Shared fixtures: nothing here touches the developer's real keyring or network."""

from __future__ import annotations

import os

import keyring
import pytest

from tests.kit.memkeyring import MemoryKeyring

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def _isolated_secrets(monkeypatch: pytest.MonkeyPatch) -> MemoryKeyring:
    """Every test gets an empty in-memory keyring and no TVDESK_* variables."""
    for name in list(os.environ):
        if name.startswith("TVDESK_"):
            monkeypatch.delenv(name)
    backend = MemoryKeyring()
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def memory_keyring(_isolated_secrets: MemoryKeyring) -> MemoryKeyring:
    return _isolated_secrets
