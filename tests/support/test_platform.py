"""The platform module: every OS's implementation run here. Windows and macOS against
fakes of the OS calls they make (tests/kit/fake_os.py), Linux against the real OS."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from tests.kit.fake_os import FakeKernel32, FakeMsvcrt, FakePsutil, FakeSignal
from tvdesk.gui.awake import KeepAwake
from tvdesk.support import platform
from tvdesk.support.lockfile import DataDirLock, DataDirLocked
from tvdesk.tunnel import guard

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def no_os_kill(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """os.kill on Windows is no probe (signal 0 is CTRL_C_EVENT) and any other signal ends
    the process: a Windows code path that calls it fails the test."""
    called: list[tuple[int, int]] = []

    def refuse(pid: int, sig: int) -> None:
        called.append((pid, sig))
        raise AssertionError(f"os.kill({pid}, {sig}) called on the Windows path")

    monkeypatch.setattr(os, "kill", refuse)
    return called


def test_each_os_gets_its_own_implementation():
    assert platform.select("win32").name == "windows"
    assert platform.select("darwin").name == "macos"
    assert platform.select("linux").name == "linux"
    assert platform.select("freebsd14").name == "posix"
    assert platform.current().name == "linux"  # this machine


# -- Windows (fakes of psutil, msvcrt, kernel32) ----------------------------------------


def test_windows_liveness_asks_psutil_and_never_calls_os_kill(no_os_kill):
    fake = FakePsutil()
    fake.add(4242)
    fake.add(4343, denied=True)  # another user's process: it exists
    windows = platform.select("win32", psutil=fake)
    assert windows.alive(4242)
    assert windows.alive(4343)
    assert not windows.alive(9999)
    assert no_os_kill == []
    assert ("Process", 4242) in fake.calls


def test_windows_guard_ends_the_agent_and_its_children_without_os_kill(monkeypatch, no_os_kill):
    fake = FakePsutil()
    agent = fake.add(100)
    helper = fake.add(101, parent=100)
    forgotten = fake.add(200)  # tvdesk ended this agent itself and told the guard
    signals = FakeSignal.windows()
    monkeypatch.setattr(sys, "stdin", io.StringIO("100\n200\n-200\n"))
    assert guard.main(platform.select("win32", psutil=fake, signal=signals)) == 0
    # Ctrl+C and Ctrl+Break in tvdesk's console are for tvdesk, not its guard.
    assert signals.handlers == {"SIGINT": signals.SIG_IGN, "SIGBREAK": signals.SIG_IGN}
    assert (agent.status_now, helper.status_now) == ("gone", "gone")
    assert forgotten.status_now == "running"
    assert ("terminate", 101) in fake.calls and ("terminate", 100) in fake.calls
    assert no_os_kill == []


def test_windows_kills_what_does_not_end_when_asked(no_os_kill):
    fake = FakePsutil()
    stubborn = fake.add(300, ends_on="kill")
    assert platform.select("win32", psutil=fake).end_processes([300, 301], grace=0) == []
    assert stubborn.status_now == "gone"
    assert [c for c in fake.calls if c[0] != "Process"] == [("terminate", 300), ("kill", 300)]
    assert no_os_kill == []


def test_windows_process_age_is_psutil_creation_time():
    fake = FakePsutil()
    fake.add(os.getpid(), started=time.time() - 42)
    assert platform.select("win32", psutil=fake).process_age() == pytest.approx(42, abs=5)
    assert ("create_time", os.getpid()) in fake.calls


def test_windows_second_tvdesk_reads_the_holder_while_the_lock_file_is_locked(tmp_path):
    msvcrt = FakeMsvcrt()  # one OS, two tvdesk processes
    lock_file = tmp_path / "tvdesk.lock"
    first = DataDirLock(lock_file, platform.select("win32", msvcrt=msvcrt))
    first.acquire("window, tvdesk 0.1.0")
    assert msvcrt.locked(lock_file)
    assert msvcrt.calls == [(msvcrt.LK_NBLCK, 0, 1)]  # byte 0, without waiting

    second = DataDirLock(lock_file, platform.select("win32", msvcrt=msvcrt))
    with pytest.raises(DataDirLocked, match=rf"\(pid {os.getpid()}, window, tvdesk 0\.1\.0\)"):
        second.acquire("headless")
    # Windows refuses a read of the locked file: the name is in an unlocked one.
    assert lock_file.read_bytes() == b""
    assert not msvcrt.locked(first.holder_path)

    first.release()
    assert not msvcrt.locked(lock_file)
    second.acquire("headless")  # free again: the next tvdesk starts
    assert second.holder_path.read_text(encoding="utf-8") == f"pid {os.getpid()}, headless"
    second.release()


def test_windows_keeps_the_pc_awake_with_set_thread_execution_state():
    kernel32 = FakeKernel32()
    awake = KeepAwake(platform.select("win32", kernel32=kernel32))
    assert awake.start() is None and awake.active
    assert kernel32.states == [0x80000001]  # ES_CONTINUOUS | ES_SYSTEM_REQUIRED
    awake.stop()
    assert not awake.active
    assert kernel32.states == [0x80000001, 0x80000000]  # back to ES_CONTINUOUS alone


def test_windows_says_when_it_refuses_to_stay_awake():
    awake = KeepAwake(platform.select("win32", kernel32=FakeKernel32(refuse=True)))
    assert awake.start() == "Windows refused SetThreadExecutionState"
    assert not awake.active


# -- macOS (fake psutil; a fake caffeinate on PATH) ---------------------------------------


def _fake_program(folder: Path, name: str) -> Path:
    program = folder / name
    program.write_text("#!/bin/sh\nexec sleep 600\n", encoding="utf-8")
    program.chmod(0o755)
    return program


def test_macos_keeps_the_pc_awake_with_caffeinate_until_released(tmp_path, monkeypatch):
    caffeinate = _fake_program(tmp_path, "caffeinate")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    macos = platform.select("darwin")
    hold = macos.keep_awake()
    try:
        assert hold.command == [str(caffeinate), "-i", "-w", str(os.getpid())]
        assert macos.alive(hold.pid)
    finally:
        hold.release()
    assert not macos.alive(hold.pid)


def test_macos_without_caffeinate_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    awake = KeepAwake(platform.select("darwin"))
    assert awake.start() == "no sleep inhibitor here (caffeinate)"
    assert not awake.active


def test_macos_process_age_and_liveness_come_from_psutil():
    fake = FakePsutil()
    fake.add(os.getpid(), started=time.time() - 7)
    fake.add(555, status_now="zombie")  # ended, its parent has not reaped it yet
    macos = platform.select("darwin", psutil=fake)
    assert macos.process_age() == pytest.approx(7, abs=5)
    assert not macos.alive(555)


def test_macos_lock_is_exclusive_and_names_the_holder(tmp_path):
    lock_file = tmp_path / "tvdesk.lock"
    first = DataDirLock(lock_file, platform.select("darwin"))
    first.acquire("window")
    with pytest.raises(DataDirLocked, match="window"):
        DataDirLock(lock_file, platform.select("darwin")).acquire("headless")
    first.release()


# -- Linux (the real OS) ------------------------------------------------------------------


def test_linux_a_real_child_is_alive_then_dead_once_it_exits():
    linux = platform.select("linux")
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=-1)
    assert linux.alive(child.pid)
    assert child.stdin is not None
    child.stdin.close()
    os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # exited, not yet reaped
    assert not linux.alive(child.pid)  # a zombie has ended
    child.wait()
    assert not linux.alive(child.pid)


def test_linux_ends_a_process_tree_killing_what_ignores_terminate():
    code = textwrap.dedent(
        """
        import signal, subprocess, sys
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        kid = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        print(kid.pid, flush=True)
        sys.stdin.read()
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", code], stdin=-1, stdout=-1, text=True)
    assert parent.stdout is not None
    kid = int(parent.stdout.readline())
    linux = platform.select("linux")
    try:
        assert linux.end_processes([parent.pid], grace=0.2) == []
        assert parent.wait(10) == -9  # ignored SIGTERM, so it was killed
        assert not linux.alive(kid)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(10)


def test_linux_process_age_is_the_figure_psutil_gives():
    age = platform.select("linux").process_age()
    # psutil counts from a boot time rounded to the second; /proc does not.
    assert age == pytest.approx(time.time() - psutil.Process().create_time(), abs=1.5)


def test_linux_a_second_tvdesk_process_on_the_data_dir_is_told_who_holds_it(tmp_path):
    lock = DataDirLock(tmp_path / "tvdesk.lock")
    lock.acquire("window, tvdesk 0.1.0")
    code = (
        "import sys; from pathlib import Path; "
        "from tvdesk.support.lockfile import DataDirLock, DataDirLocked\n"
        "try:\n    DataDirLock(Path(sys.argv[1])).acquire('headless')\n"
        "except DataDirLocked as exc:\n    print(exc)"
    )
    second = [sys.executable, "-c", code, str(tmp_path / "tvdesk.lock")]
    refused = subprocess.run(second, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert f"already running on {tmp_path} (pid {os.getpid()}, window, tvdesk 0.1.0)" in (
        refused.stdout
    ), refused.stderr
    lock.release()
    after = subprocess.run(second, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert after.returncode == 0 and after.stdout == "", after.stderr
