"""The control port (DESIGN.md, "Control port") through a real engine over HTTP.

An attacker on the machine who can watch loopback traffic but cannot read the keyring
captures what ``tvdesk kill`` / ``status`` send (a recording server stands in the
middle), then sends it again, or changed. Each signed request is taken once, as signed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from yarl import URL

from tests.kit.clock import FakeClock
from tests.kit.door import SECRET, Door, open_door
from tvdesk.door.control import ControlError, call


@dataclass
class Captured:
    method: str
    target: str  # the request target as sent: path, then ?query when there is one
    headers: dict[str, str]
    body: bytes


class Recorder:
    """A loopback server that keeps every request it gets and answers 200 {}."""

    def __init__(self) -> None:
        self.seen: list[Captured] = []
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._keep)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _keep(self, request: web.Request) -> web.Response:
        kept = {k: v for k, v in request.headers.items() if k.lower().startswith("x-tvdesk")}
        body = await request.read()
        self.seen.append(Captured(request.method, request.raw_path, kept, body))
        return web.json_response({})


@pytest.fixture
async def door(tmp_path: Path) -> AsyncIterator[Door]:
    # The CLI signs with the wall clock, so the engine's clock starts there too.
    async with open_door(tmp_path / "data", clock=FakeClock()) as opened:
        yield opened


@pytest.fixture
async def recorder() -> AsyncIterator[Recorder]:
    started = Recorder()
    await started.start()
    yield started
    await started.stop()


async def cli(port: int, method: str, target: str, body: dict[str, Any] | None = None) -> Any:
    """What `tvdesk status` / `kill` / `resume` do: one signed request (blocking urllib)."""
    return await asyncio.to_thread(call, port, SECRET, method, target, body)


async def capture(recorder: Recorder, method: str, target: str, body: Any = None) -> Captured:
    await cli(recorder.port, method, target, body)
    return recorder.seen[-1]


async def send(door: Door, request: Captured, target: str | None = None) -> tuple[int, Any]:
    """Send a captured request to the engine's control port (its target changed if given)."""
    url = URL(
        f"http://127.0.0.1:{door.engine.control_port}{target or request.target}", encoded=True
    )
    async with (
        aiohttp.ClientSession() as session,
        session.request(
            request.method,
            url,
            data=request.body or None,
            headers={"Content-Type": "application/json", **request.headers},
        ) as response,
    ):
        return response.status, json.loads(await response.text() or "{}")


async def test_a_captured_kill_cannot_be_replayed_to_undo_a_resume(door: Door, recorder: Recorder):
    port = door.engine.control_port
    kill = await capture(recorder, "POST", "/kill", {"flatten": False})

    status, answer = await send(door, kill)  # the attacker forwards it once: it is genuine
    assert (status, answer["kill_switch"]) == (200, True)
    assert (await cli(port, "POST", "/resume", {}))["kill_switch"] is False

    status, answer = await send(door, kill)
    assert status == 401, answer
    assert answer["error"] == "unauthorized"
    assert "already used" in answer["message"]
    assert (await cli(port, "GET", "/status"))["kill_switch"] is False

    door.clock.advance(200)  # still within the signature's five minutes
    assert (await send(door, kill))[0] == 401
    assert (await cli(port, "GET", "/status"))["kill_switch"] is False


async def test_a_captured_request_is_refused_by_the_next_engine_too(door: Door, recorder: Recorder):
    kill = await capture(recorder, "POST", "/kill", {"flatten": False})

    door.clock.advance(2)  # a restart takes a moment; the nonces it had are gone
    await door.restart()
    status, answer = await send(door, kill)

    assert status == 401, answer
    assert "signed before the engine started" in answer["message"]
    assert (await door.engine.status())["kill_switch"] is False


async def test_a_changed_query_string_is_refused(door: Door, recorder: Recorder):
    status_request = await capture(recorder, "GET", "/status")

    # Intercepted and sent on with a query string it was not signed with.
    status, answer = await send(door, status_request, "/status?flatten=1")
    assert status == 401, answer
    assert "does not match" in answer["message"]
    # The same request as signed still goes through: it was refused for the query alone.
    assert (await send(door, status_request))[0] == 200


async def test_a_query_string_that_was_signed_is_accepted_as_sent(door: Door):
    answer = await cli(door.engine.control_port, "GET", "/status?verbose=1")

    assert answer["kill_switch"] is False


async def test_an_unsigned_or_nonce_less_request_says_what_is_missing(
    door: Door, recorder: Recorder
):
    status_request = await capture(recorder, "GET", "/status")
    without_nonce = Captured(
        "GET",
        "/status",
        {k: v for k, v in status_request.headers.items() if k.lower() != "x-tvdesk-nonce"},
        b"",
    )

    unsigned = Captured("GET", "/status", {}, b"")

    status, answer = await send(door, without_nonce)
    assert status == 401
    assert "one-time X-TVDesk-Nonce header" in answer["message"]
    status, answer = await send(door, unsigned)
    assert status == 401
    assert "must be signed" in answer["message"]
    with pytest.raises(ControlError, match="does not match"):
        await asyncio.to_thread(call, door.engine.control_port, "not-the-secret", "GET", "/status")
