"""The ngrok agent's guard, also as a frozen app runs it (``tvdesk --tunnel-guard``)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.kit.engine_proc import _clean_env
from tvdesk.tunnel import agent


def test_a_frozen_app_runs_the_guard_as_itself(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", "/opt/tvdesk/tvdesk")
    assert agent.guard_command() == ["/opt/tvdesk/tvdesk", "--tunnel-guard"]


def test_the_guard_command_ends_the_agent_when_tvdesk_goes_away():
    # A stand-in for the ngrok agent, and the guard as `tvdesk --tunnel-guard` runs it.
    agent_proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    guard = subprocess.Popen(
        [sys.executable, "-m", "tvdesk", "--tunnel-guard"],
        stdin=subprocess.PIPE,
        env=_clean_env(),
    )
    try:
        assert guard.stdin is not None
        guard.stdin.write(f"{agent_proc.pid}\n".encode())
        guard.stdin.flush()
        guard.stdin.close()  # what tvdesk's death does to the pipe, kill -9 included

        assert guard.wait(15) == 0
        assert agent_proc.wait(15) is not None  # ended by the guard, not by this test
    finally:
        for proc in (agent_proc, guard):
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
