"""Clients are grouped by network at the door (DESIGN.md, "Safety rules"): /24 for IPv4,
/64 for IPv6, for the failed-auth lockout and the unauthenticated-flood summary.

Different client addresses reach a real engine the only way they can on one machine:
through the tunnel's own listener, which believes the address ngrok puts last in
``X-Forwarded-For``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.kit.door import Door, alert, open_door


@pytest.fixture
async def door(tmp_path: Path) -> AsyncIterator[Door]:
    async with open_door(tmp_path / "data") as opened:
        yield opened


async def knock(door: Door, client: str) -> tuple[int, dict]:
    reply = await door.send(
        alert(), secret="whsec_guess", headers={"X-Forwarded-For": client}, tunnel=True
    )
    return reply.status, reply.json


async def test_hopping_addresses_within_a_24_does_not_escape_the_lockout(door: Door):
    limit = door.settings.auth.lockout_failures
    for n in range(1, limit + 2):  # 21 failures, each from a new address in 203.0.113.0/24
        status, _ = await knock(door, f"203.0.113.{n}")
    assert status == 429

    status, body = await knock(door, "203.0.113.99")  # never failed itself
    assert (status, body["error"]) == (429, "rate_limited")
    assert "203.0.113.99" in body["message"] and "203.0.113.0/24" in body["message"]
    assert (await knock(door, "203.0.114.1"))[0] == 401  # the next /24 is someone else

    good = await door.send(alert(), headers={"X-Forwarded-For": "203.0.113.99"}, tunnel=True)
    assert good.status == 200  # an authenticated alert still goes through


async def test_ipv6_clients_are_grouped_by_64(door: Door):
    limit = door.settings.auth.lockout_failures
    for n in range(1, limit + 1):
        await knock(door, f"2001:db8:0:7::{n:x}")
    assert (await knock(door, "2001:db8:0:7:ffff::1"))[0] == 429
    assert (await knock(door, "2001:db8:0:8::1"))[0] == 401


async def test_a_flood_from_many_addresses_of_one_network_is_summarised(door: Door):
    for n in range(200):
        status, _ = await knock(door, f"198.51.100.{n + 1}")
        assert status in (401, 429)
    await door.settle()

    records = door.records()
    assert len(records) <= 10, len(records)
    assert sum(r.get("count", 1) for r in records) == 200
    summaries = [r for r in records if "count" in r]
    assert summaries and all("198.51.100.0/24" in r["message"] for r in summaries)
