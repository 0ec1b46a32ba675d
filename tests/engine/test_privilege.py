"""No privilege from a request (DESIGN.md, "Safety rules").

The kill switch's own flatten passes the switch and every limit; that privilege is the
journal's ``origin``, which only the engine writes. Nothing a request carries (a header,
a field, its address) gives it: the audit's exploit, an authenticated alert sent to the
tunnel's listener with ``X-Forwarded-For: internal:x``, once bought 10,000 USDT of BTC
with the kill switch on and ``max_notional`` 1,000.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.kit.door import Door, alert
from tvdesk.config.schema import ListenerSettings, Settings
from tvdesk.core.events import AlertDecided, Event

KILL_REASON = "the kill switch is on: no new orders until you resume"


def desk_settings(**risk: Any) -> Settings:
    base = Settings(listener=ListenerSettings(port=0))
    # Enough paper money that only the limits can refuse the exploit's 10,000 USDT buy.
    paper = replace(base.paper, balances={"USDT": 100_000.0})
    return replace(base, paper=paper, risk=replace(base.risk, **risk))


class Decisions:
    """The outcomes the engine's worker published, and a wait for one of them."""

    def __init__(self, door: Door) -> None:
        self.decided: dict[str, AlertDecided] = {}
        self._changed = asyncio.Event()
        door.bus.subscribe(self._on_event)

    def _on_event(self, event: Event) -> None:
        if isinstance(event, AlertDecided):
            self.decided[event.alert_id] = event
            self._changed.set()

    async def of(self, alert_id: str, timeout: float = 10.0) -> AlertDecided:
        async with asyncio.timeout(timeout):
            while alert_id not in self.decided:
                self._changed.clear()
                await self._changed.wait()
        return self.decided[alert_id]


@pytest.fixture
async def desks(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    opened: list[Door] = []

    async def open_desk(settings: Settings, *, tunnel: bool = True) -> tuple[Door, Decisions]:
        door = Door(tmp_path / f"data{len(opened)}", settings=settings, tunnel=tunnel)
        decisions = Decisions(door)
        await door.start()
        opened.append(door)
        return door, decisions

    yield open_desk
    for door in opened:
        await door.stop()


def exploit(**fields: Any) -> dict[str, Any]:
    """The audit's alert: 0.2 BTC at 50,000, a 10,000 USDT buy on the market's own symbol."""
    body = {"symbol": "BTC/USDT", "exchange": "binance", "qty": "0.2", "price": "50000"}
    return alert(**{**body, **fields})


# ---------------------------------------------------------------- the exploit


@pytest.mark.parametrize("auth", ["body", "tvdesk"])
async def test_a_forwarded_internal_client_is_refused_by_the_kill_switch(desks, auth):
    door, decisions = await desks(desk_settings(kill_switch=True, max_notional=1000.0))

    reply = await door.send(
        exploit(), auth=auth, headers={"X-Forwarded-For": "internal:x"}, tunnel=True
    )

    assert reply.status == 200, reply.text
    decided = await decisions.of(reply.json["alert_id"])
    assert (decided.outcome, decided.reason) == ("rejected", KILL_REASON)
    record = door.record(reply.json["alert_id"])
    assert record["orders"] == []
    assert not any(p["qty"] for p in await door.engine.queries.positions("paper"))


async def test_without_the_kill_switch_the_forwarded_alert_meets_every_limit(desks):
    door, decisions = await desks(desk_settings(max_notional=1000.0))

    for forwarded in ("internal:x", "internal:flatten", "203.0.113.9, internal:flatten"):
        reply = await door.send(exploit(), headers={"X-Forwarded-For": forwarded}, tunnel=True)
        assert reply.status == 200, reply.text
        decided = await decisions.of(reply.json["alert_id"])
        assert decided.outcome == "rejected"
        assert decided.reason == "order notional 10,000.00 USDT exceeds max_notional 1,000.00"


async def test_a_field_cannot_make_an_alert_internal_either(desks):
    door, decisions = await desks(desk_settings(kill_switch=True))

    fields = {"origin": "flatten", "client": "internal:flatten", "source": "internal:flatten"}
    reply = await door.send(exploit(**fields))

    assert reply.status == 200, reply.text
    decided = await decisions.of(reply.json["alert_id"])
    assert (decided.outcome, decided.reason) == ("rejected", KILL_REASON)


# ---------------------------------------------------------------- X-Forwarded-For


@pytest.mark.parametrize(
    ("forwarded", "client"),
    [
        ("internal:x", "127.0.0.1"),  # not an address: the TCP peer (the agent's loopback)
        ("203.0.113.7, internal:x", "127.0.0.1"),  # the last entry is ngrok's: it decides
        ("internal:x, 203.0.113.7", "203.0.113.7"),  # a caller's own entries come first
        ("2001:db8::7", "2001:db8::7"),
        (" 2001:DB8:0::8 ", "2001:db8::8"),  # written the one canonical way
        ("fe80::1%internal:x", "127.0.0.1"),  # a scope is free text: no internet address
        ("", "127.0.0.1"),
        ("203.0.113.300", "127.0.0.1"),
    ],
)
async def test_only_an_address_in_x_forwarded_for_names_the_client(desks, forwarded, client):
    door, _ = await desks(desk_settings())

    reply = await door.send(alert(test=True), headers={"X-Forwarded-For": forwarded}, tunnel=True)

    assert reply.status == 200, reply.text
    assert await journaled(door, reply.json["alert_id"], "client") == client


async def test_words_in_x_forwarded_for_cannot_dodge_the_failed_auth_lockout(desks):
    door, _ = await desks(desk_settings())

    for n in range(20):
        headers = {"X-Forwarded-For": f"attacker-{n}"}
        reply = await door.send(alert(), secret="whsec_guess", headers=headers, tunnel=True)
        assert reply.status == 401, reply.text
    headers = {"X-Forwarded-For": "attacker-20"}
    reply = await door.send(alert(), secret="whsec_guess", headers=headers, tunnel=True)

    assert reply.status == 429, reply.text


# ---------------------------------------------------------------- the tunnel listener


async def test_without_the_tunnel_there_is_no_tunnel_listener(desks, tmp_path):
    door, _ = await desks(desk_settings(), tunnel=False)
    engine = door.engine

    assert engine.tunnel_port is None
    info = (await engine.status())["tunnel_port"], _engine_json(door)["tunnel_port"]
    assert info == (None, None)
    # Only the main listener and the control port are listening.
    listening = {port for port in _listening_ports(door)}
    assert listening == {engine.port, engine.control_port}


async def test_with_the_tunnel_on_its_listener_believes_x_forwarded_for(desks):
    door, _ = await desks(desk_settings())
    engine = door.engine

    assert isinstance(engine.tunnel_port, int)
    assert _engine_json(door)["tunnel_port"] == engine.tunnel_port
    reply = await door.send(
        alert(test=True), headers={"X-Forwarded-For": "203.0.113.8"}, tunnel=True
    )
    assert await journaled(door, reply.json["alert_id"], "client") == "203.0.113.8"


async def journaled(door: Door, alert_id: str, column: str) -> Any:
    """One column of the alert's row in the journal, once every write so far is in."""
    await door.settle()

    def read(conn: Any) -> Any:
        sql = f"SELECT {column} FROM alerts WHERE alert_id = ?"
        return conn.execute(sql, (alert_id,)).fetchone()[0]

    return await door.engine.journal.run(read)


def _engine_json(door: Door) -> dict[str, Any]:
    import json

    return json.loads(door.paths.engine_file.read_text(encoding="utf-8"))


def _listening_ports(door: Door) -> list[int]:
    """The loopback ports the engine's listeners are bound to."""
    ports = []
    for runner in door.engine._listeners._runners:
        for site in runner.sites:
            server = site._server  # type: ignore[attr-defined]
            for sock in server.sockets if server is not None else []:
                ports.append(sock.getsockname()[1])
    return ports


# ---------------------------------------------------------------- the flatten


async def test_a_pending_flatten_keeps_its_privilege_across_a_restart(desks):
    door, decisions = await desks(desk_settings(max_notional=100.0, min_confidence=0.5))
    bought = await door.send(exploit(qty="0.001", confidence="0.9"))
    assert (await decisions.of(bought.json["alert_id"])).outcome == "filled"

    # The kill switch with its flatten, and tvdesk stops before the worker gets to it.
    await door.engine.worker.stop()
    door.engine.set_kill_switch(True, "by hand, with flatten")
    (flatten_id,) = await door.engine.flatten()
    await door.settle()
    assert door.record(flatten_id)["outcome"] == "pending"
    door.settings = replace(door.settings, risk=replace(door.settings.risk, kill_switch=True))
    await door.restart()

    # The flatten passes the switch, min_confidence (it has none) and the symbol map.
    decided = await decisions.of(flatten_id)
    assert decided.outcome == "filled", decided.reason
    assert not any(p["qty"] for p in await door.engine.queries.positions("paper"))
    # Anyone else is still refused, a replay (made by tvdesk too) included.
    again = await door.send(exploit(qty="0.001", confidence="0.9"))
    assert (await decisions.of(again.json["alert_id"])).reason == KILL_REASON
    replayed = await door.engine.replay(bought.json["alert_id"])
    assert (await decisions.of(replayed)).reason == KILL_REASON


async def test_the_flatten_journals_its_origin_and_a_request_never_does(desks):
    door, decisions = await desks(desk_settings())
    bought = await door.send(exploit(qty="0.001"))
    assert (await decisions.of(bought.json["alert_id"])).outcome == "filled"
    forwarded = await door.send(
        exploit(qty="0.001"), headers={"X-Forwarded-For": "internal:flatten"}, tunnel=True
    )
    (flatten_id,) = await door.engine.flatten()
    await decisions.of(flatten_id)

    assert await journaled(door, flatten_id, "origin") == "flatten"
    assert await journaled(door, bought.json["alert_id"], "origin") is None
    assert await journaled(door, forwarded.json["alert_id"], "origin") is None


async def test_flatten_and_replay_never_pass_a_listener(desks):
    door, decisions = await desks(desk_settings())
    bought = await door.send(exploit(qty="0.001"))
    assert (await decisions.of(bought.json["alert_id"])).outcome == "filled"

    # With every listener closed, nothing could come back in through one.
    await door.engine._listeners.close()
    (flatten_id,) = await door.engine.flatten()
    replayed = await door.engine.replay(bought.json["alert_id"])

    assert (await decisions.of(flatten_id)).outcome == "filled"
    assert (await decisions.of(replayed)).outcome == "filled"
    assert await journaled(door, flatten_id, "via_tunnel") == 0
    assert await journaled(door, replayed, "client") == "replay"
