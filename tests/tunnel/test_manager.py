"""The tunnel manager against a fake ngrok agent: states, failures in words, secrets, restarts.

Real parts throughout: pyngrok 9 drives the fake agent executable (tests/kit/fake_ngrok.py)
exactly as it would drive ngrok, and every public URL is a loopback edge that forwards to a
real aiohttp listener. Nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import logging
import os
import socket
import stat
import tarfile
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from pyngrok import installer

from tests.kit.fake_ngrok import FakeNgrok, executable_text, install_fake_ngrok, pid_alive
from tests.kit.memkeyring import MemoryKeyring
from tvdesk.config.keystore import Keystore
from tvdesk.config.paths import Paths, resolve_paths
from tvdesk.config.schema import TunnelSettings
from tvdesk.core.events import Event, TunnelChanged
from tvdesk.support.clock import SystemClock
from tvdesk.tunnel.events import TunnelAgentDownload, TunnelUrlChanged
from tvdesk.tunnel.explain import NO_AUTHTOKEN
from tvdesk.tunnel.manager import AUTHTOKEN, TunnelManager
from tvdesk.tunnel.timings import TunnelTimings

# Shaped like an ngrok authtoken.
TOKEN = "2aBcDeFgHiJkLmNoPqRsTuVwXyZ_3aBcDeFgHiJkLmNoPqRsTu"
FAST = TunnelTimings(
    startup_s=2.0,
    api_s=3.0,
    download_s=3.0,
    check_s=3.0,
    poll_s=0.02,
    stop_s=2.0,
    backoff_initial_s=0.05,
    backoff_max_s=0.4,
)
WAIT_S = 10.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sha256(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()


class Recorder:
    """The manager's event stream, and a way to wait for a condition on it."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._changed = asyncio.Event()

    def __call__(self, event: Event) -> None:
        self.events.append(event)
        self._changed.set()

    def of(self, kind: type[Any]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    def states(self) -> list[str]:
        return [e.state for e in self.of(TunnelChanged)]

    async def until(self, predicate: Callable[[], Any], what: str, timeout: float = WAIT_S) -> Any:
        """Wait until predicate() holds: re-checked on every event, and every 50 ms for
        conditions outside the stream (the fake agent's records, processes)."""
        try:
            async with asyncio.timeout(timeout):
                while not (result := predicate()):
                    self._changed.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._changed.wait(), 0.05)
        except TimeoutError:
            raise AssertionError(f"timed out waiting for {what}; events: {self.events}") from None
        return result


@dataclass
class Rig:
    manager: TunnelManager
    events: Recorder
    keyring: MemoryKeyring
    paths: Paths
    port: int
    fake: FakeNgrok | None
    settings: TunnelSettings = field(default_factory=TunnelSettings)

    async def start(self) -> None:
        await self.manager.start(self.port)

    async def until_state(self, *states: str, timeout: float = WAIT_S) -> TunnelChanged:
        await self.events.until(lambda: self.manager.state in states, f"state in {states}", timeout)
        return self.events.of(TunnelChanged)[-1]


@pytest.fixture
async def upstream() -> AsyncIterator[int]:
    """What the tunnel forwards to: a loopback listener with /health and an echo."""

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def echo(request: web.Request) -> web.Response:
        return web.json_response({"x_forwarded_for": request.headers.get("X-Forwarded-For")})

    app = web.Application()
    app.router.add_get("/health", health)
    app.router.add_post("/echo", echo)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    assert site._server is not None
    yield int(site._server.sockets[0].getsockname()[1])
    await runner.cleanup()


@pytest.fixture
async def rigs(tmp_path: Path, upstream: int) -> AsyncIterator[Callable[..., Rig]]:
    made: list[Rig] = []

    def make(
        *launches: dict[str, Any],
        name: str = "a",
        token: str | None = TOKEN,
        domain: str = "",
        timings: TunnelTimings = FAST,
        ngrok_path: str | None = None,
        env: dict[str, str] | None = None,
        data: str | None = None,
    ) -> Rig:
        fake = None
        if ngrok_path is None:
            fake = install_fake_ngrok(tmp_path / name / "bin", *launches)
            ngrok_path = str(fake.path)
        settings = TunnelSettings(domain=domain, ngrok_path=ngrok_path)
        keyring = MemoryKeyring()
        keystore = Keystore(
            "tvdesk/tunnel-test",
            env={"TVDESK_NGROK_AUTHTOKEN": token} if token else {},
            backend=keyring,
        )
        paths = resolve_paths(tmp_path / (data or name) / "data")
        paths.ensure()
        events = Recorder()
        manager = TunnelManager(
            lambda: settings, keystore, paths, SystemClock(), events, env=env or {}, timings=timings
        )
        rig = Rig(manager, events, keyring, paths, upstream, fake, settings)
        made.append(rig)
        return rig

    yield make
    for rig in made:
        await rig.manager.stop()
    for rig in made:
        if rig.fake is not None:
            assert rig.fake.live_agents() == [], "an agent outlived its manager"


async def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as r:
        return r.status, await r.text()


# ---------------------------------------------------------------- up


async def test_up_with_a_public_url_confirmed_once_through_it(rigs):
    rig = rigs({"mode": "ok"})
    started = time.monotonic()
    await rig.start()
    up = await rig.until_state("up")
    elapsed = time.monotonic() - started

    assert elapsed < 5
    assert up.public_url and up.public_url.startswith("http://127.0.0.1:")
    assert rig.manager.status() == {
        "state": "up",
        "public_url": up.public_url,
        "error": None,
        "detail": None,
    }
    assert rig.events.states() == ["starting", "up"]
    # The public URL really reaches the listener, through the edge.
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{up.public_url}/echo", headers={"X-Test-Client-Addr": "203.0.113.9"}) as r,
    ):
        assert (await r.json())["x_forwarded_for"] == "203.0.113.9"

    await rig.manager.stop()
    checks = [r for r in rig.fake.edge_requests() if r["path"] == "/health"]
    assert len(checks) == 1, "reachability is confirmed once, never polled"
    assert checks[0]["skip_browser_warning"] == "1"
    assert rig.events.states()[-1] == "off"


async def test_stop_ends_the_agent_and_its_guard(rigs):
    rig = rigs({"mode": "ok"})
    await rig.start()
    await rig.until_state("up")
    (agent_pid,) = rig.manager.agent_pids
    guard_pid = rig.manager.guard_pid
    assert guard_pid is not None and pid_alive(guard_pid)

    await rig.manager.stop()

    assert not pid_alive(agent_pid)
    assert not pid_alive(guard_pid)
    assert rig.manager.status()["state"] == "off"


async def test_the_event_loop_never_stalls_while_pyngrok_blocks(rigs):
    # A silent agent keeps pyngrok blocked in readline() until our own timeout kills it.
    rig = rigs({"mode": "silent"}, timings=TunnelTimings(**{**FAST.__dict__, "startup_s": 1.0}))
    gaps: list[float] = []

    async def heartbeat() -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    beat = asyncio.create_task(heartbeat())
    await rig.start()
    await rig.until_state("down")
    beat.cancel()

    assert max(gaps) < 0.25


# ---------------------------------------------------------------- the authtoken


async def test_without_an_authtoken_the_tunnel_is_off_and_no_agent_runs(rigs):
    rig = rigs({"mode": "ok"}, token=None)
    await rig.start()
    off = await rig.until_state("off")

    assert off.error == NO_AUTHTOKEN
    assert rig.manager.status()["error"] == NO_AUTHTOKEN
    assert rig.fake.invocations() == []
    assert rig.manager.guard_pid is None


async def test_the_authtoken_goes_in_a_0600_file_never_on_a_command_line(rigs, monkeypatch):
    # pyngrok would take NGROK_AUTHTOKEN from the environment and pass it as --authtoken.
    monkeypatch.setenv("NGROK_AUTHTOKEN", "env-token-that-must-not-be-used")
    rig = rigs({"mode": "ok"})
    await rig.start()
    await rig.until_state("up")

    config = rig.paths.config_dir / "ngrok" / "ngrok.yml"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert stat.S_IMODE(config.parent.stat().st_mode) == 0o700
    (agent,) = rig.fake.agents()
    assert agent["config"] == str(config)
    assert agent["config_mode"] == "0o600"
    assert agent["authtoken_from"] == "config"
    assert agent["authtoken_sha256"] == sha256(TOKEN)
    for invocation in rig.fake.invocations():
        assert "--authtoken" not in invocation["argv"]
        assert not any(TOKEN in arg for arg in invocation["argv"])
        assert invocation["command"] != "add-authtoken"
    await rig.manager.stop()
    assert not config.exists()  # no copy of the token outlives the tunnel


async def test_the_agent_config_folder_is_made_private_even_when_it_existed(rigs):
    # pyngrok's download makes the folder 0755 under the usual umask; so could anyone.
    rig = rigs({"mode": "ok"})
    folder = rig.paths.config_dir / "ngrok"
    folder.mkdir()
    folder.chmod(0o755)
    await rig.start()
    await rig.until_state("up")

    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "ngrok.yml").stat().st_mode) == 0o600


async def test_the_agent_keeps_no_request_for_inspection(rigs):
    # ngrok keeps each request body at its local API (127.0.0.1:4040), which anyone on the
    # machine can read without a password: a webhook secret in a body would be there.
    rig = rigs({"mode": "ok"})
    await rig.start()
    up = await rig.until_state("up")
    body = {"secret": "a-webhook-secret-in-the-body", "symbol": "BTCUSDT"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{up.public_url}/echo", json=body) as r,
    ):
        assert r.status == 200

    (agent,) = rig.fake.agents()
    assert agent["config_settings"] == {
        "version": "3",
        "agent": {"update_check": False, "inspect_db_size": -1},
    }
    (start,) = rig.fake.endpoint_starts()
    assert start["pid"] == agent["pid"]
    assert start["body"].get("inspect") is False
    assert rig.fake.captured_requests() == []


async def test_the_environment_overrides_the_keyring(rigs):
    rig = rigs({"mode": "ok"}, token="env-token-wins-0123456789")
    rig.keyring.set_password("tvdesk/tunnel-test", AUTHTOKEN, "keyring-token-loses")
    await rig.start()
    await rig.until_state("up")

    assert rig.fake.agents()[0]["authtoken_sha256"] == sha256("env-token-wins-0123456789")


async def test_a_bad_authtoken_is_an_error_in_words_and_never_shown(rigs, capfd, caplog):
    caplog.set_level(logging.DEBUG)
    rig = rigs({"mode": "bad_authtoken"})
    await rig.start()
    error = await rig.until_state("error")

    assert error.error == (
        "ngrok refused the authtoken (ERR_NGROK_105): copy it again from the ngrok dashboard "
        "(Your Authtoken) and paste it in Secrets"
    )
    # Waiting for the trader: no retry loop hammering ngrok with a bad token.
    assert len(rig.fake.agents()) == 1
    assert not rig.manager.running
    # The agent echoed the token (on stdout and stderr, like the real one): none of it leaks.
    out, err = capfd.readouterr()
    shown = [out, err, caplog.text, repr(rig.events.events), repr(rig.manager.status())]
    assert not any(TOKEN in text for text in shown)
    assert "[hidden]" in caplog.text


async def test_restart_after_the_trader_fixed_the_authtoken(rigs):
    rig = rigs({"mode": "bad_authtoken"}, {"mode": "ok"})
    await rig.start()
    await rig.until_state("error")

    await rig.manager.restart()
    up = await rig.until_state("up")

    assert up.public_url
    assert len(rig.fake.agents()) == 2


# ---------------------------------------------------------------- failures in words


async def test_no_network_is_down_with_a_clear_message_and_retried(rigs):
    timings = TunnelTimings(**{**FAST.__dict__, "startup_s": 0.8})
    rig = rigs({"mode": "no_network"}, timings=timings)
    await rig.start()
    down = await rig.until_state("down")

    assert "cannot reach ngrok's servers: is this PC online?" in down.error
    assert "connect.ngrok-agent.com" in down.error
    assert "keeps retrying" in down.error
    await rig.events.until(lambda: len(rig.fake.agents()) >= 2, "a second attempt")


async def test_an_agent_that_prints_nothing_is_killed_after_our_timeout(rigs):
    timings = TunnelTimings(**{**FAST.__dict__, "startup_s": 0.8})
    rig = rigs({"mode": "silent"}, {"mode": "ok"}, timings=timings)
    await rig.start()
    down = await rig.until_state("down")

    assert down.error == (
        "the ngrok agent did not start within 0.8 s and printed nothing; "
        "tvdesk keeps retrying on its own"
    )
    silent_pid = rig.fake.agents()[0]["pid"]
    await rig.until_state("up")
    assert not pid_alive(silent_pid)


async def test_a_domain_in_use_is_down_and_names_the_domain(rigs):
    domain = f"127.0.0.1:{free_port()}"
    rig = rigs({"mode": "domain_in_use"}, domain=domain)
    await rig.start()
    down = await rig.until_state("down")

    assert down.error.startswith(
        f"the ngrok domain {domain} is already in use by another ngrok agent (ERR_NGROK_334)"
    )
    await rig.events.until(lambda: len(rig.fake.agents()) >= 2, "a retry")


async def test_two_agents_on_one_domain_the_second_waits_for_the_first(rigs):
    domain = f"https://127.0.0.1:{free_port()}/"  # pasted with scheme and slash: still fine
    first = rigs({"mode": "ok"}, name="first", domain=domain)
    second = rigs({"mode": "ok"}, name="second", domain=domain)
    await first.start()
    up = await first.until_state("up")
    await second.start()
    down = await second.until_state("down")
    assert "already in use" in down.error

    await first.manager.stop()
    again = await second.until_state("up")
    assert again.public_url == up.public_url


async def test_a_session_lost_while_the_agent_lives_is_down_until_it_reconnects(rigs):
    rig = rigs({"mode": "drops"})
    await rig.start()
    up = await rig.until_state("up")

    rig.fake.drop_session()
    down = await rig.until_state("down")
    assert down.error.startswith("the ngrok agent lost its connection to ngrok (")
    assert "TradingView cannot reach tvdesk until it reconnects" in down.error
    assert rig.manager.status()["state"] == "down"

    rig.fake.restore_session()
    back = await rig.until_state("up")
    assert back.public_url == up.public_url and back.error is None
    assert len(rig.fake.agents()) == 1  # the same agent: nothing restarted


async def test_an_unreachable_public_url_is_down_and_checked_again_without_a_new_agent(rigs):
    rig = rigs({"mode": "edge_down"})
    await rig.start()
    down = await rig.until_state("down")

    assert "could not reach itself through http://127.0.0.1:" in down.error
    assert "(HTTP 502), so TradingView cannot either" in down.error
    await rig.events.until(
        lambda: len([r for r in rig.fake.edge_requests() if r["path"] == "/health"]) >= 3,
        "checks backing off",
    )
    assert len(rig.fake.agents()) == 1


async def test_checks_of_the_public_url_stop_after_a_few_to_spare_the_quota(rigs):
    rig = rigs({"mode": "edge_down"}, timings=TunnelTimings(**{**FAST.__dict__, "max_checks": 3}))
    await rig.start()

    up = await rig.until_state("up")

    assert up.public_url  # shown: TradingView may still reach it
    assert "Checked 3 times; not checking again, to spare your ngrok request quota" in up.error
    checks = [r for r in rig.fake.edge_requests() if r["path"] == "/health"]
    assert len(checks) == 3
    assert rig.manager.status()["state"] == "up"


async def test_a_missing_ngrok_path_is_an_error_and_nothing_is_downloaded(rigs, tmp_path):
    missing = tmp_path / "nowhere" / "ngrok"
    rig = rigs(ngrok_path=str(missing))
    await rig.start()
    error = await rig.until_state("error")

    assert error.error.startswith(f"there is no ngrok agent at {missing}")
    assert "[tunnel] ngrok_path or TVDESK_NGROK_PATH" in error.error
    assert rig.events.of(TunnelAgentDownload) == []
    assert not missing.exists()


async def test_a_non_executable_ngrok_path_is_an_error(rigs, tmp_path):
    plain = tmp_path / "plain-ngrok"
    plain.write_text("not a program")
    rig = rigs(ngrok_path=str(plain))
    await rig.start()
    error = await rig.until_state("error")

    assert "is not executable" in error.error


async def test_tvdesk_ngrok_path_overrides_the_setting(rigs, tmp_path):
    fake = install_fake_ngrok(tmp_path / "other" / "bin", {"mode": "ok"})
    rig = rigs(ngrok_path=str(tmp_path / "nowhere"), env={"TVDESK_NGROK_PATH": str(fake.path)})
    await rig.start()
    await rig.until_state("up")

    assert len(fake.agents()) == 1


# ---------------------------------------------------------------- watchdog


async def test_a_dead_agent_is_noticed_and_restarted(rigs):
    rig = rigs({"mode": "die_after", "seconds": 0.3}, {"mode": "ok"})
    await rig.start()
    await rig.until_state("up")
    first_pid = rig.fake.agents()[0]["pid"]

    down = await rig.until_state("down")
    died = time.monotonic()
    assert down.error == "the ngrok agent stopped unexpectedly (exit code 3): restarting it"
    assert down.public_url is None

    up = await rig.until_state("up")
    assert time.monotonic() - died < 3
    assert up.public_url
    assert not pid_alive(first_pid)
    assert rig.events.states() == ["starting", "up", "down", "up"]


async def test_an_agent_killed_from_outside_is_restarted(rigs):
    rig = rigs({"mode": "ok"})
    await rig.start()
    await rig.until_state("up")
    (pid,) = rig.manager.agent_pids

    os.kill(pid, 9)
    await rig.until_state("down")
    await rig.until_state("up")

    assert len(rig.fake.agents()) == 2
    assert pid not in rig.manager.agent_pids


async def test_backoff_grows_between_failed_attempts(rigs):
    timings = TunnelTimings(**{**FAST.__dict__, "backoff_initial_s": 0.1, "backoff_max_s": 0.8})
    rig = rigs({"mode": "domain_in_use"}, domain=f"127.0.0.1:{free_port()}", timings=timings)
    await rig.start()
    await rig.events.until(lambda: len(rig.fake.agents()) >= 5, "five attempts", timeout=15)

    starts = [agent["t"] for agent in rig.fake.agents()]
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    # Waits of 0.1, 0.2, 0.4, 0.8 s (plus each attempt's own time): growing, capped.
    assert gaps[3] > gaps[0] + 0.5
    assert [timings.backoff(n) for n in range(6)] == [0.1, 0.2, 0.4, 0.8, 0.8, 0.8]


# ---------------------------------------------------------------- the URL TradingView knows


async def test_the_same_domain_gives_the_same_url_across_runs(rigs):
    domain = f"127.0.0.1:{free_port()}"
    first = rigs({"mode": "ok"}, name="first", data="shared", domain=domain)
    await first.start()
    url = (await first.until_state("up")).public_url
    await first.manager.stop()

    second = rigs({"mode": "ok"}, name="second", data="shared", domain=domain)
    await second.start()
    assert (await second.until_state("up")).public_url == url
    assert second.events.of(TunnelUrlChanged) == []


async def test_a_changed_url_is_announced_loudly(rigs, caplog):
    caplog.set_level(logging.WARNING)
    old = f"127.0.0.1:{free_port()}"
    new = f"127.0.0.1:{free_port()}"
    first = rigs({"mode": "ok"}, name="first", data="shared", domain=old)
    await first.start()
    await first.until_state("up")
    await first.manager.stop()

    second = rigs({"mode": "ok"}, name="second", data="shared", domain=new)
    await second.start()
    await second.until_state("up")

    (changed,) = second.events.of(TunnelUrlChanged)
    assert (changed.previous_url, changed.public_url) == (f"http://{old}", f"http://{new}")
    assert changed.message == (
        f"the public webhook URL changed from http://{old} to http://{new}: edit every "
        f"TradingView alert to send to http://{new}/webhook"
    )
    assert changed.message in caplog.text


async def test_without_a_domain_the_warning_says_how_to_keep_the_url(rigs, tmp_path):
    rig = rigs({"mode": "ok"})
    (rig.paths.data_dir / "tunnel.json").write_text('{"public_url": "http://old.example"}')
    await rig.start()
    await rig.until_state("up")

    (changed,) = rig.events.of(TunnelUrlChanged)
    assert changed.message.endswith(
        "; enter your free ngrok static domain under Static domain on the Connect tab "
        "(or [tunnel] domain in settings.toml) so it stays the same"
    )


# ---------------------------------------------------------------- downloading the agent


@pytest.fixture
def download_from(monkeypatch, tmp_path) -> Callable[[str], None]:
    """Point pyngrok's agent download at a loopback URL (it saves the archive in tempdir)."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    def point(url: str) -> None:
        key = f"{installer.get_system()}_{installer.get_arch()}"
        monkeypatch.setitem(installer.PLATFORMS, key, url)

    return point


def _agent_archive() -> bytes:
    data = executable_text().encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("ngrok")
        info.size = len(data)
        info.mode = 0o755
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


async def test_first_use_downloads_the_agent_and_says_how_long_it_took(rigs, download_from):
    archive = _agent_archive()
    name = f"ngrok-{uuid.uuid4().hex}.tgz"

    async def serve(request: web.Request) -> web.Response:
        return web.Response(body=archive, content_type="application/gzip")

    app = web.Application()
    app.router.add_get(f"/{name}", serve)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    assert site._server is not None
    port = site._server.sockets[0].getsockname()[1]
    download_from(f"http://127.0.0.1:{port}/{name}")
    try:
        rig = rigs(ngrok_path="")
        await rig.start()
        await rig.until_state("up")
    finally:
        await runner.cleanup()

    started, finished = rig.events.of(TunnelAgentDownload)
    assert started.phase == "started"
    assert started.message.startswith("downloading the ngrok agent (first use")
    assert finished.phase == "finished"
    assert finished.message == f"downloaded the ngrok agent in {finished.seconds:.1f} s"
    binary = rig.paths.data_dir / "ngrok" / "ngrok"
    assert binary.is_file()
    downloaded = FakeNgrok(binary, binary.parent)
    assert downloaded.agents()[0]["argv"][0] == str(binary)
    await rig.manager.stop()
    assert downloaded.live_agents() == []


async def test_a_broken_downloaded_agent_is_fetched_again(rigs, download_from):
    archive = _agent_archive()
    name = f"ngrok-{uuid.uuid4().hex}.tgz"

    async def serve(request: web.Request) -> web.Response:
        return web.Response(body=archive, content_type="application/gzip")

    app = web.Application()
    app.router.add_get(f"/{name}", serve)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    assert site._server is not None
    download_from(f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/{name}")
    try:
        rig = rigs(ngrok_path="")
        broken = rig.paths.data_dir / "ngrok" / "ngrok"
        broken.parent.mkdir(parents=True, exist_ok=True)
        broken.write_bytes(b"\x7fELF cut short")  # a download that never finished
        await rig.start()
        down = await rig.until_state("down")
        assert down.error.startswith("the downloaded ngrok agent would not run (")
        await rig.until_state("up")
    finally:
        await runner.cleanup()
    assert [e.phase for e in rig.events.of(TunnelAgentDownload)] == ["started", "finished"]
    await rig.manager.stop()


async def test_without_internet_the_download_fails_clearly_and_is_retried(rigs, download_from):
    download_from(f"http://127.0.0.1:{free_port()}/ngrok-v3-stable-linux-amd64.tgz")  # no one
    rig = rigs(ngrok_path="")
    await rig.start()
    down = await rig.until_state("down")

    assert down.error.startswith("could not download the ngrok agent (")
    assert down.error.endswith(
        "is this PC online? tvdesk keeps retrying on its own, or set [tunnel] ngrok_path "
        "(or TVDESK_NGROK_PATH) to an ngrok agent you already have"
    )
    failed = [e for e in rig.events.of(TunnelAgentDownload) if e.phase == "failed"]
    assert failed and failed[0].message == down.error
    await rig.events.until(
        lambda: len([e for e in rig.events.of(TunnelAgentDownload) if e.phase == "started"]) >= 2,
        "a second download attempt",
    )


async def test_a_download_that_stalls_times_out_instead_of_hanging(rigs, download_from):
    accepted: list[asyncio.StreamWriter] = []

    async def stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)  # never answers

    server = await asyncio.start_server(stall, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    download_from(f"http://127.0.0.1:{port}/ngrok-stall.tgz")
    timings = TunnelTimings(**{**FAST.__dict__, "download_s": 0.5, "backoff_initial_s": 5.0})
    try:
        rig = rigs(ngrok_path="", timings=timings)
        started = time.monotonic()
        await rig.start()
        down = await rig.until_state("down")
        assert time.monotonic() - started < 3
    finally:
        server.close()
        for writer in accepted:
            writer.close()
        await server.wait_closed()

    assert down.error.startswith("the ngrok agent download did not finish within 0.5 s: ")
