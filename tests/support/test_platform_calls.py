"""The platform module's other concerns, and the tvdesk code that goes through them: stop
and reload signals, helper processes out of reach of Ctrl+C, the event loop, file modes,
the display, the keyring. Windows and macOS run against fakes of their OS calls
(tests/kit/fake_os.py), selected explicitly; Linux against the real OS."""

from __future__ import annotations

import asyncio
import io
import os
import stat
import subprocess
import sys
import textwrap
import types
from pathlib import Path
from typing import Any

import pytest

from tests.kit.fake_os import FakeLoop, FakeSignal
from tvdesk.cli.window import _no_display
from tvdesk.config.paths import resolve_paths
from tvdesk.engine import selftest
from tvdesk.support import platform
from tvdesk.support.logs import _PrivateRotatingFile
from tvdesk.tunnel import agent
from tvdesk.tunnel.agent_config import write_config

ROOT = Path(__file__).resolve().parents[2]
CREATE_NEW_PROCESS_GROUP, CREATE_NO_WINDOW = 0x200, 0x08000000


@pytest.fixture
def running_on(monkeypatch: pytest.MonkeyPatch) -> Any:
    """``running_on("win32", **fakes)``: tvdesk's code sees that OS's implementation."""

    def use(name: str, **os_calls: Any) -> platform.Platform:
        chosen = platform.select(name, **os_calls)
        monkeypatch.setattr(platform, "_current", chosen)
        return chosen

    return use


@pytest.fixture
def no_uvloop_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A uvloop that fails when used: uvloop does not run on Windows."""

    def refuse() -> None:
        raise AssertionError("uvloop used on the Windows path")

    monkeypatch.setitem(sys.modules, "uvloop", types.SimpleNamespace(new_event_loop=refuse))


# -- Windows ----------------------------------------------------------------------------


def test_windows_ctrl_c_ctrl_break_and_sigterm_stop_tvdesk_through_python_handlers():
    signals = FakeSignal.windows()
    loop = FakeLoop(signals=False)  # the proactor loop: add_signal_handler raises
    stopped: list[str] = []
    platform.select("win32", signal=signals).on_stop(lambda: stopped.append("stop"), loop)  # type: ignore[arg-type]
    assert set(signals.handlers) == {"SIGINT", "SIGBREAK", "SIGTERM"}
    for name in ("SIGINT", "SIGBREAK", "SIGTERM"):
        signals.deliver(name)
        assert stopped == []  # handed to the loop, not run inside the signal handler
        loop.run_soon()
        assert stopped == ["stop"]
        stopped.clear()


def test_windows_window_quits_on_ctrl_c_called_from_the_signal_handler():
    signals = FakeSignal.windows()
    quit_asked: list[str] = []
    platform.select("win32", signal=signals).on_stop(lambda: quit_asked.append("quit"))
    signals.deliver("SIGINT")
    assert quit_asked == ["quit"]


def test_windows_has_no_reload_signal_and_asks_for_none():
    signals = FakeSignal.windows()  # no SIGHUP: touching it would raise AttributeError
    loop = FakeLoop(signals=False)
    windows = platform.select("win32", signal=signals)
    assert windows.on_reload(lambda: None, loop) is False  # type: ignore[arg-type]
    assert signals.handlers == {} and loop.signal_handlers == {}


def test_windows_starts_the_tunnel_guard_in_its_own_group_without_a_window(running_on, monkeypatch):
    running_on("win32")
    started: list[dict[str, Any]] = []

    def popen(args: list[str], **kwargs: Any) -> Any:  # Windows' CreateProcess, recorded
        started.append(kwargs)
        return types.SimpleNamespace(stdin=io.BytesIO(), pid=4321)

    monkeypatch.setattr(agent.subprocess, "Popen", popen)
    agent.AgentGuard().watch(1234)
    assert len(started) == 1
    assert started[0]["creationflags"] == CREATE_NEW_PROCESS_GROUP | CREATE_NO_WINDOW
    assert "start_new_session" not in started[0]  # POSIX only


def test_windows_does_not_ask_pyngrok_for_a_posix_session(running_on, tmp_path):
    running_on("win32")
    config = agent.make_config(tmp_path / "ngrok", tmp_path / "ngrok.yml", print, 10, 5)
    assert config.start_new_session is False  # pyngrok would log "requires POSIX"


def test_windows_headless_loop_is_asyncio_never_uvloop(no_uvloop_allowed):
    loop = platform.select("win32").event_loop_factory()()
    try:
        assert type(loop).__module__.startswith("asyncio.")
        assert loop.run_until_complete(asyncio.sleep(0, "ran")) == "ran"
    finally:
        loop.close()


def test_windows_leaves_file_modes_to_its_acls(running_on, tmp_path):
    running_on("win32")
    paths = resolve_paths(tmp_path / "data")
    paths.ensure()
    os.chmod(paths.data_dir, 0o755)
    settings = paths.data_dir / "settings.toml"
    settings.write_text("schema_version = 1\n", encoding="utf-8")
    os.chmod(settings, 0o644)
    agent_dir = tmp_path / "ngrok"
    agent_dir.mkdir(mode=0o755)
    os.chmod(agent_dir, 0o755)

    assert paths.tighten() == []
    write_config(agent_dir / "ngrok.yml", "token-not-real")
    assert stat.S_IMODE(paths.data_dir.stat().st_mode) == 0o755  # no chmod on Windows
    assert stat.S_IMODE(settings.stat().st_mode) == 0o644
    assert stat.S_IMODE(agent_dir.stat().st_mode) == 0o755


def test_windows_opens_log_files_binary(running_on, monkeypatch, tmp_path):
    running_on("win32")
    opened: list[int] = []
    real_open = os.open

    def record(path: Any, flags: int, mode: int = 0o777) -> int:
        opened.append(flags)
        return real_open(path, flags & ~0x8000, mode)  # Linux reads 0x8000 otherwise

    monkeypatch.setattr(os, "open", record)
    handler = _PrivateRotatingFile(tmp_path / "tvdesk.log", encoding="utf-8", delay=True)
    handler.stream = handler._open()
    handler.close()
    # Else the C runtime writes each "\n" as "\r\n" under Python's own newline handling.
    assert opened and opened[0] & 0x8000


def test_windows_and_macos_always_have_a_desktop_for_the_window(running_on, monkeypatch):
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    for os_name in ("win32", "darwin"):
        chosen = running_on(os_name)
        assert _no_display() is None
        assert chosen.qt_display_plugin() is None  # no X11 plugin to prove
    running_on("linux")
    assert "no display to open the window on" in (_no_display() or "")


@pytest.mark.parametrize(("os_name", "backend"), [("win32", "Windows"), ("darwin", "macOS")])
def test_self_test_proves_each_os_native_keyring_backend(running_on, os_name, backend):
    running_on(os_name)
    assert selftest.NATIVE_KEYRING[platform.current().name] == backend
    # keyring registers every OS's backend: the name checked is one it really has.
    assert selftest._check_keyring().startswith("keyring: ")


# -- macOS ------------------------------------------------------------------------------


def test_macos_stop_and_reload_signals_go_to_the_loop_itself():
    signals = FakeSignal.macos()
    loop = FakeLoop()
    macos = platform.select("darwin", signal=signals)
    macos.on_stop(lambda: "stop", loop)  # type: ignore[arg-type]
    assert macos.on_reload(lambda: "reload", loop) is True  # type: ignore[arg-type]
    assert {sig: cb() for sig, cb in loop.signal_handlers.items()} == {
        signals.SIGINT: "stop",
        signals.SIGTERM: "stop",
        signals.SIGHUP: "reload",
    }
    assert signals.handlers == {}  # the loop's own handlers, no Python ones


def test_macos_falls_back_to_python_handlers_where_the_loop_has_none():
    signals = FakeSignal.macos()
    loop = FakeLoop(signals=False)
    stopped: list[str] = []
    platform.select("darwin", signal=signals).on_stop(lambda: stopped.append("stop"), loop)  # type: ignore[arg-type]
    signals.deliver("SIGTERM")
    loop.run_soon()
    assert stopped == ["stop"]


def test_macos_helpers_get_a_session_of_their_own_and_uvloop():
    macos = platform.select("darwin")
    assert macos.detached() == {"start_new_session": True}
    loop = macos.event_loop_factory()()
    try:
        assert type(loop).__module__.split(".")[0] == "uvloop"
    finally:
        loop.close()
    assert macos.has_mode_bits() and macos.binary_flag() == 0


# -- Linux (the real OS) ------------------------------------------------------------------


def test_linux_display_is_what_x11_or_wayland_say():
    linux = platform.select("linux")
    assert not linux.has_display({})
    assert linux.has_display({"WAYLAND_DISPLAY": "wayland-0"})
    assert linux.has_display({"DISPLAY": ":0"})
    assert linux.qt_display_plugin() == "libqxcb.so"


def test_linux_sighup_reloads_and_sigterm_stops_a_real_loop():
    code = textwrap.dedent(
        """
        import asyncio
        from tvdesk.support.platform import select

        async def main():
            stop = asyncio.Event()
            linux = select("linux")
            linux.on_stop(stop.set, asyncio.get_running_loop())
            linux.on_reload(lambda: print("reloaded", flush=True), asyncio.get_running_loop())
            print("ready", flush=True)
            await stop.wait()
            print("stopped", flush=True)

        asyncio.run(main())
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=-1, text=True)
    assert proc.stdout is not None
    try:
        assert proc.stdout.readline() == "ready\n"
        proc.send_signal(1)  # SIGHUP
        assert proc.stdout.readline() == "reloaded\n"
        proc.terminate()  # SIGTERM
        assert proc.stdout.readline() == "stopped\n"
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
