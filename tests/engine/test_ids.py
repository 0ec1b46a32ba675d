"""Alert ids, and so client order ids, are unpredictable: 80 bits from the OS for each."""

from __future__ import annotations

from pathlib import Path

import pytest

import tvdesk.engine.engine as engine_module
from tests.kit.memkeyring import MemoryKeyring
from tvdesk.config.keystore import Keystore
from tvdesk.config.paths import resolve_paths
from tvdesk.config.schema import Settings
from tvdesk.core.ids import client_order_id, new_ulid
from tvdesk.engine.engine import Engine
from tvdesk.support.bus import EventBus
from tvdesk.support.clock import SystemClock


def test_each_alert_id_takes_its_randomness_from_the_os(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    drawn: list[int] = []

    def urandom(n: int) -> bytes:
        drawn.append(n)
        return bytes([len(drawn)]) * n

    keystore = Keystore("tvdesk/ids-test", env={}, backend=MemoryKeyring())
    engine = Engine(Settings(), keystore, SystemClock(), EventBus(), paths=resolve_paths(tmp_path))
    monkeypatch.setattr(engine_module.os, "urandom", urandom)
    first, second = engine.new_alert_id(), engine.new_alert_id()

    # A seeded generator would draw from the OS once, then be predictable from its output.
    assert drawn == [10, 10]
    # The last 16 characters of a ULID are its 80 random bits, in base 32.
    assert first[-16:] == new_ulid(0, b"\x01" * 10)[-16:]
    assert second[-16:] == new_ulid(0, b"\x02" * 10)[-16:]
    assert client_order_id(first) != client_order_id(second)
