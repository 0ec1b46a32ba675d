"""The tunnel inside the engine: /health, the real client behind ngrok, and the agent's life.

In-process engines for the door's rules (X-Forwarded-For, TradingView-only mode), and the
real ``tvdesk --headless`` for what a trader runs: up within seconds, recovery after the
agent is killed, send-test through the public URL, and no agent outliving tvdesk however
it ends. The fake agent's edge plays the internet: ``X-Test-Client-Addr`` says who calls.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.kit.door import SECRET, alert
from tests.kit.engine_proc import EngineProcess, get, run_cli
from tests.kit.fake_ngrok import FakeNgrok, install_fake_ngrok, pid_alive, wait_until
from tests.kit.memkeyring import MemoryKeyring
from tvdesk.config.keystore import WEBHOOK_SECRET, Keystore
from tvdesk.config.paths import resolve_paths
from tvdesk.config.schema import (
    AuthSettings,
    ListenerSettings,
    Settings,
    TunnelSettings,
    default_settings_text,
)
from tvdesk.core.events import AlertAccepted, AlertRejected, Event, TunnelChanged
from tvdesk.engine.engine import Engine
from tvdesk.support.bus import EventBus
from tvdesk.support.clock import SystemClock
from tvdesk.tunnel.explain import NO_AUTHTOKEN
from tvdesk.tunnel.manager import AUTHTOKEN
from tvdesk.tunnel.timings import TunnelTimings

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
TRADINGVIEW = "52.89.214.238"
MALLORY = "203.0.113.7"
OTHER = "198.51.100.20"
OFF = {"state": "off", "public_url": None, "error": None, "detail": None}


async def until(predicate: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
    """Poll a real condition (engine state, a process) until it holds."""
    deadline = time.monotonic() + timeout
    while not (result := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.02)
    return result


class Desk:
    """A real engine with the tunnel on, fed by the fake agent."""

    def __init__(self, root: Path, fake: FakeNgrok, auth: AuthSettings | None = None) -> None:
        self.fake = fake
        self.bus = EventBus()
        self.events: list[Event] = []
        self.bus.subscribe(self.events.append)
        keystore = Keystore("tvdesk/tunnel-engine-test", env={}, backend=MemoryKeyring())
        keystore.set(WEBHOOK_SECRET, SECRET)
        keystore.set(AUTHTOKEN, TOKEN)
        settings = Settings(
            listener=ListenerSettings(port=0),
            auth=auth or AuthSettings(lockout_failures=3),
            tunnel=TunnelSettings(ngrok_path=str(fake.path)),
        )
        self.engine = Engine(
            settings, keystore, SystemClock(), self.bus, paths=resolve_paths(root / "data")
        )
        assert self.engine.tunnel is not None
        self.engine.tunnel.timings = FAST
        self.public_url = ""

    async def start(self) -> None:
        await self.engine.start()
        status = self.engine.tunnel_status
        await until(lambda: status()["state"] == "up", "the tunnel to come up")
        self.public_url = status()["public_url"]

    async def post(
        self,
        body: dict[str, Any],
        *,
        client: str | None = None,
        headers: dict[str, str] | None = None,
        direct: bool = False,
    ) -> tuple[int, dict[str, Any]]:
        """POST /webhook through the public URL as ``client``, or straight to the main port."""
        base = self.engine.local_url if direct else self.public_url
        sent = dict(headers or {})
        if client is not None:
            sent["X-Test-Client-Addr"] = client
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{base}/webhook", json=body, headers=sent) as r,
        ):
            return r.status, await r.json()

    def of(self, kind: type[Any]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


@pytest.fixture
async def desks(tmp_path: Path) -> AsyncIterator[Callable[..., Desk]]:
    made: list[Desk] = []

    def make(auth: AuthSettings | None = None, *launches: dict[str, Any]) -> Desk:
        name = f"desk{len(made)}"
        fake = install_fake_ngrok(tmp_path / name / "bin", *(launches or ({"mode": "ok"},)))
        desk = Desk(tmp_path / name, fake, auth)
        made.append(desk)
        return desk

    yield make
    for desk in made:
        await desk.engine.stop()
        assert desk.fake.live_agents() == []


# ---------------------------------------------------------------- in-process: status


async def test_health_and_engine_json_show_the_tunnel_up_with_its_public_url(desks):
    desk = desks()
    await desk.start()

    for base in (desk.engine.local_url, desk.public_url):
        async with aiohttp.ClientSession() as session, session.get(f"{base}/health") as r:
            tunnel = (await r.json())["tunnel"]
        assert (tunnel["state"], tunnel["public_url"], tunnel["error"]) == (
            "up",
            desk.public_url,
            None,
        )
    info = json.loads(desk.engine.paths.engine_file.read_text())
    assert info["public_url"] == desk.public_url
    assert [e.state for e in desk.of(TunnelChanged)] == ["starting", "up"]

    await desk.engine.stop()
    assert desk.fake.live_agents() == []
    assert desk.engine.tunnel_status()["state"] == "off"


async def test_the_tunnel_forwards_to_its_own_port_not_the_main_one(desks):
    desk = desks()
    await desk.start()

    (agent,) = desk.fake.agents()
    code, _ = await desk.post(alert(secret=SECRET), client=OTHER)
    assert code == 200
    (accepted,) = desk.of(AlertAccepted)
    assert accepted.client == OTHER  # believed only because it came in on the tunnel port
    assert agent["pid"] in desk.engine.tunnel.agent_pids


# ---------------------------------------------------------------- in-process: who is calling


async def test_lockout_counts_each_real_client_behind_the_tunnel(desks):
    desk = desks(AuthSettings(lockout_failures=3))
    await desk.start()

    for _ in range(3):
        code, _ = await desk.post(alert(secret="wrong"), client=MALLORY)
        assert code == 401
    code, body = await desk.post(alert(secret="wrong"), client=MALLORY)
    assert (code, body["error"]) == (429, "rate_limited")
    assert MALLORY in body["message"]

    # Someone else behind the same tunnel is not locked out with Mallory...
    code, body = await desk.post(alert(secret="wrong"), client=OTHER)
    assert (code, body["error"]) == (401, "unauthorized")
    # ...and a header Mallory writes herself does not make her someone else: ngrok appends
    # the address it saw, and only the last one counts.
    code, body = await desk.post(
        alert(secret="wrong"), client=MALLORY, headers={"X-Forwarded-For": OTHER}
    )
    assert (code, body["error"]) == (429, "rate_limited")
    # A correctly authenticated alert from her address still goes through.
    code, _ = await desk.post(alert(secret=SECRET), client=MALLORY)
    assert code == 200


async def test_a_direct_request_cannot_spoof_its_address(desks):
    desk = desks(AuthSettings(lockout_failures=3))
    await desk.start()

    for n in range(3):
        spoof = {"X-Forwarded-For": f"192.0.2.{n}"}
        code, _ = await desk.post(alert(secret="wrong"), headers=spoof, direct=True)
        assert code == 401
    code, body = await desk.post(
        alert(secret="wrong"), headers={"X-Forwarded-For": "192.0.2.200"}, direct=True
    )
    assert (code, body["error"]) == (429, "rate_limited")
    assert "127.0.0.1" in body["message"] and "192.0.2" not in body["message"]
    assert {e.client for e in desk.of(AlertRejected)} == {"127.0.0.1"}
    # The tunnel's clients are untouched by what happened on the main port.
    code, _ = await desk.post(alert(secret="wrong"), client=MALLORY)
    assert code == 401


async def test_tradingview_only_mode_refuses_everyone_else_through_the_tunnel(desks):
    desk = desks(AuthSettings(tradingview_ips_only=True))
    await desk.start()

    code, body = await desk.post(alert(secret=SECRET), client=TRADINGVIEW)
    assert (code, body["status"]) == (200, "accepted")

    code, body = await desk.post(alert(secret=SECRET), client=MALLORY)
    assert code == 403
    assert (body["status"], body["error"]) == ("rejected", "forbidden")
    assert body["message"].startswith(
        f"{MALLORY} is not one of TradingView's webhook addresses, and [auth] "
        "tradingview_ips_only is on"
    )
    assert "update [auth] tradingview_ips" in body["message"]
    # Claiming to be TradingView in a header does not help: ngrok appends the real address.
    code, _ = await desk.post(
        alert(secret=SECRET), client=MALLORY, headers={"X-Forwarded-For": TRADINGVIEW}
    )
    assert code == 403
    # The trader's own machine (main port: test button, scripts) is not the tunnel.
    code, _ = await desk.post(alert(secret=SECRET), direct=True)
    assert code == 200
    # /health stays reachable through the tunnel: it is how tvdesk checks the tunnel.
    async with aiohttp.ClientSession() as session:
        headers = {"X-Test-Client-Addr": MALLORY}
        async with session.get(f"{desk.public_url}/health", headers=headers) as r:
            assert r.status == 200
    assert [e.client for e in desk.of(AlertAccepted)] == [TRADINGVIEW, "127.0.0.1"]
    forbidden = [e for e in desk.of(AlertRejected) if e.error == "forbidden"]
    assert [e.client for e in forbidden] == [MALLORY, MALLORY]


async def test_the_tradingview_list_comes_from_settings(desks):
    desk = desks(AuthSettings(tradingview_ips_only=True, tradingview_ips=[OTHER]))
    await desk.start()

    code, _ = await desk.post(alert(secret=SECRET), client=OTHER)
    assert code == 200
    code, _ = await desk.post(alert(secret=SECRET), client=TRADINGVIEW)
    assert code == 403


# ---------------------------------------------------------------- in-process: off


async def test_without_the_tunnel_no_agent_is_ever_started(tmp_path):
    fake = install_fake_ngrok(tmp_path / "bin", {"mode": "ok"})
    keystore = Keystore("tvdesk/tunnel-engine-test", env={}, backend=MemoryKeyring())
    keystore.set(AUTHTOKEN, TOKEN)
    settings = Settings(
        listener=ListenerSettings(port=0), tunnel=TunnelSettings(ngrok_path=str(fake.path))
    )
    engine = Engine(
        settings,
        keystore,
        SystemClock(),
        EventBus(),
        paths=resolve_paths(tmp_path / "data"),
        tunnel_enabled=False,
    )
    await engine.start()
    try:
        status = await engine.status()
    finally:
        await engine.stop()

    assert engine.tunnel is None
    assert status["tunnel"] == OFF
    assert fake.invocations() == []


async def test_a_leftover_agent_config_is_deleted_at_start_even_without_the_tunnel(tmp_path):
    # What a crash leaves: the agent config with the authtoken, and a half-written copy.
    paths = resolve_paths(tmp_path / "data")
    folder = paths.config_dir / "ngrok"
    folder.mkdir(parents=True)
    config = folder / "ngrok.yml"
    config.write_text(f'version: "3"\nagent:\n  authtoken: "{TOKEN}"\n', encoding="utf-8")
    half = folder / ".ngrok.yml.x1y2z3.tmp"
    half.write_text(f'version: "3"\nagent:\n  authtoken: "{TOKEN}"\n', encoding="utf-8")
    binary = folder / "ngrok"  # the downloaded agent shares the folder under --data-dir
    binary.write_text("#!/bin/sh\n", encoding="utf-8")
    engine = Engine(
        Settings(listener=ListenerSettings(port=0)),
        Keystore("tvdesk/tunnel-engine-test", env={}, backend=MemoryKeyring()),
        SystemClock(),
        EventBus(),
        paths=paths,
        tunnel_enabled=False,
    )
    await engine.start()
    try:
        assert not config.exists()
        assert not half.exists()
        assert binary.exists()
    finally:
        await engine.stop()


# ---------------------------------------------------------------- tvdesk --headless


class HeadlessWithTunnel(EngineProcess):
    """``tvdesk --headless`` with the tunnel on (EngineProcess always adds --no-tunnel)."""

    def start(self, wait: bool = True) -> HeadlessWithTunnel:
        cmd = [
            sys.executable,
            "-m",
            "tvdesk",
            "--headless",
            "--port",
            "0",
            "--data-dir",
            str(self.data_dir),
            *self.extra,
        ]
        with open(self.stderr_path, "a", encoding="utf-8") as stderr:
            self.proc = subprocess.Popen(
                cmd,
                stdout=subprocess.PIPE,
                stderr=stderr,
                stdin=subprocess.DEVNULL,
                text=True,
                env=self.env,
            )
        self._pump_thread = threading.Thread(target=self._pump, daemon=True)
        self._pump_thread.start()
        if wait:
            self.wait_ready()
        return self

    def tunnel(self) -> dict[str, Any]:
        code, body = get(self.url + "/health")
        assert code == 200
        return body["tunnel"]

    def wait_tunnel(self, state: str, timeout: float = 15.0) -> dict[str, Any]:
        return wait_until(
            lambda: (t := self.tunnel())["state"] == state and t,
            timeout,
            f"tunnel state {state}",
            interval=0.05,
        )

    def log_text(self) -> str:
        log = self.data_dir / "logs" / "tvdesk.log"
        return log.read_text(encoding="utf-8") if log.exists() else ""


@pytest.fixture
def headless(tmp_path: Path) -> Iterator[Callable[..., HeadlessWithTunnel]]:
    started: list[HeadlessWithTunnel] = []
    fakes: list[FakeNgrok] = []

    def start(
        fake: FakeNgrok | None = None,
        *extra: str,
        token: str | None = TOKEN,
        via_settings: bool = False,
    ) -> HeadlessWithTunnel:
        fake = fake or install_fake_ngrok(tmp_path / "bin", {"mode": "ok"})
        fakes.append(fake)
        data_dir = tmp_path / "data"
        env = {"TVDESK_NGROK_AUTHTOKEN": token} if token else {}
        if via_settings:  # [tunnel] ngrok_path in settings.toml, as a trader would set it
            data_dir.mkdir(parents=True, exist_ok=True)
            text = default_settings_text().replace(
                'ngrok_path = ""', f"ngrok_path = {json.dumps(str(fake.path))}"
            )
            (data_dir / "settings.toml").write_text(text, encoding="utf-8")
        else:
            env["TVDESK_NGROK_PATH"] = str(fake.path)
        engine = HeadlessWithTunnel(data_dir, SECRET, *extra, env=env)
        started.append(engine)
        return engine.start()

    yield start
    for engine in started:
        engine.cleanup()
    for fake in fakes:
        for pid in fake.live_agents():
            os.kill(pid, signal.SIGKILL)


def test_headless_is_up_within_seconds_and_recovers_after_the_agent_is_killed(headless, tmp_path):
    fake = FakeNgrok(tmp_path / "bin" / "ngrok", tmp_path / "bin")
    launched = time.monotonic()
    engine = headless(via_settings=True)
    up = engine.wait_tunnel("up")
    time_to_up = time.monotonic() - launched

    assert time_to_up < 5, f"tunnel up after {time_to_up:.1f} s"
    assert up["public_url"].startswith("http://127.0.0.1:")
    assert engine.engine_info()["public_url"] == up["public_url"]
    code, health = get(up["public_url"] + "/health")
    assert (code, health["status"]) == (200, "ok")

    (pid,) = fake.live_agents()
    killed = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    engine.wait_tunnel("down", timeout=10)
    engine.wait_tunnel("up", timeout=30)
    recovery = time.monotonic() - killed

    assert recovery < 30, f"recovered after {recovery:.1f} s"
    (new_pid,) = fake.live_agents()
    assert new_pid != pid
    print(f"\ntime to up {time_to_up:.2f} s; recovery after kill {recovery:.2f} s")


def test_send_test_goes_through_the_public_url_and_reports_the_round_trip(headless, tmp_path):
    engine = headless()
    up = engine.wait_tunnel("up")

    result = run_cli(
        "send-test", "--data-dir", str(engine.data_dir), env={"TVDESK_WEBHOOK_SECRET": SECRET}
    )

    assert result.returncode == 0, result.stderr
    status_line, round_trip, reply, outcome = result.stdout.splitlines()
    assert status_line.startswith(f"200 from {up['public_url']}/webhook in ")
    assert outcome == "outcome: dry_run — would buy 0.001 BTC/USDT on binance (test)"
    assert round_trip.startswith("round trip through the ngrok tunnel: ")
    assert round_trip.endswith(" ms (TradingView can reach you)")
    assert json.loads(reply)["status"] == "accepted"
    fake = FakeNgrok(tmp_path / "bin" / "ngrok", tmp_path / "bin")
    assert [r["method"] for r in fake.edge_requests() if r["path"] == "/webhook"] == ["POST"]
    # The engine had its secrets in TVDESK_* variables; the agent it started got none.
    assert all(agent["env_tvdesk"] == [] for agent in fake.agents())


def test_sigterm_ends_the_agent_with_tvdesk(headless, tmp_path):
    engine = headless()
    engine.wait_tunnel("up")
    fake = FakeNgrok(tmp_path / "bin" / "ngrok", tmp_path / "bin")
    (pid,) = fake.live_agents()

    assert engine.terminate() == 0
    assert not pid_alive(pid), "the agent outlived tvdesk"


def test_a_killed_tvdesk_takes_its_agent_with_it(headless, tmp_path):
    fake = install_fake_ngrok(tmp_path / "bin", {"mode": "ok"})
    # The fake would leave on its own a minute after its parent died: far too late, so
    # only tvdesk's guard can end it in time.
    fake.configure({"mode": "ok"}, orphan_grace_s=60)
    engine = headless(fake)
    engine.wait_tunnel("up")
    (pid,) = fake.live_agents()

    engine.kill()  # SIGKILL: no clean-up code runs in tvdesk

    wait_until(lambda: not pid_alive(pid), 10, "the guard to end the orphaned agent")


def test_the_authtoken_file_a_killed_tvdesk_left_is_gone_at_the_next_start(headless, tmp_path):
    fake = install_fake_ngrok(tmp_path / "bin", {"mode": "ok"})
    engine = headless(fake)
    engine.wait_tunnel("up")
    config = engine.data_dir / "ngrok" / "ngrok.yml"
    (agent,) = fake.agents()
    assert agent["config"] == str(config)

    engine.kill()  # SIGKILL: tvdesk's own clean-up never runs
    assert TOKEN in config.read_text(encoding="utf-8")

    again = headless(fake, "--no-tunnel")
    assert again.tunnel() == OFF
    assert not config.exists()
    assert again.terminate() == 0
    assert len(fake.agents()) == 1  # cleared without starting an agent


def test_a_bad_authtoken_is_reported_in_health_and_never_printed(headless, tmp_path):
    fake = install_fake_ngrok(tmp_path / "bin", {"mode": "bad_authtoken"})
    engine = headless(fake)
    tunnel = engine.wait_tunnel("error")

    assert tunnel["error"].startswith("ngrok refused the authtoken (ERR_NGROK_105)")
    assert engine.terminate() == 0
    for text in (engine.stdout(), engine.stderr(), engine.log_text()):
        assert TOKEN not in text
    assert "[hidden]" in engine.log_text()


def test_without_an_authtoken_headless_runs_locally_with_the_tunnel_off(headless, tmp_path):
    fake = install_fake_ngrok(tmp_path / "bin", {"mode": "ok"})
    engine = headless(fake, token=None)
    tunnel = engine.wait_tunnel("off")

    assert tunnel["error"] == NO_AUTHTOKEN
    code, _ = engine.post_signed(
        {"symbol": "BTCUSDT", "side": "buy", "qty": "0.01", "test": True, "client_ref": "local"}
    )
    assert code == 200
    assert fake.invocations() == []


def test_no_tunnel_starts_no_agent_and_never_imports_pyngrok(headless, tmp_path):
    fake = install_fake_ngrok(tmp_path / "bin", {"mode": "ok"})
    engine = headless(fake, "--no-tunnel")

    assert engine.tunnel() == OFF
    assert engine.terminate() == 0
    assert fake.invocations() == []
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, tvdesk.cli.main, tvdesk.engine.engine; print('pyngrok' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.strip() == "False"
