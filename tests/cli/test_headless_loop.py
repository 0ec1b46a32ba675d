"""Headless mode runs on uvloop (not on Windows): the door answers more alerts per CPU
second; without uvloop installed it still runs, on asyncio's own loop."""

from __future__ import annotations

import asyncio
import sys

import pytest

from tvdesk.cli.headless import _loop_factory


def loop_package(loop: asyncio.AbstractEventLoop) -> str:
    return type(loop).__module__.split(".")[0]


def test_headless_mode_runs_on_uvloop_except_on_windows() -> None:
    loop = _loop_factory()()
    try:
        assert loop_package(loop) == ("asyncio" if sys.platform == "win32" else "uvloop")
        assert loop.run_until_complete(asyncio.sleep(0, "ran")) == "ran"
    finally:
        loop.close()


def test_without_uvloop_headless_mode_runs_on_asyncio(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop raises ImportError
    loop = _loop_factory()()
    try:
        assert loop_package(loop) == "asyncio"
        assert loop.run_until_complete(asyncio.sleep(0, "ran")) == "ran"
    finally:
        loop.close()
