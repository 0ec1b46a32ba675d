"""The real window on a real paper engine, offscreen, on a qasync loop.

pytest-asyncio hands every test here a ``qasync.QEventLoop``, so Qt timers, signals and
the engine's aiohttp listener all run while a test awaits, as they do for a trader.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import aiohttp
import pytest
import pytestqt.plugin
from PySide6.QtWidgets import QApplication

from tests.gui.helpers import close_window, open_window
from tests.kit.paper import paper_settings
from tvdesk.config.schema import Settings
from tvdesk.gui.aio import QtLoop
from tvdesk.gui.collector import MainThreadCollector
from tvdesk.gui.main_window import MainWindow

# pytest-qt processes Qt events between test phases, when no asyncio loop runs. qasync
# runs asyncio callbacks as Qt timer events, so that would step coroutines outside their
# loop (a situation the app never meets: its Qt loop *is* the asyncio loop). Here the
# qasync loop processes every Qt event while a test or fixture runs.
pytestqt.plugin._process_events = lambda: None


def _qasync_loop() -> asyncio.AbstractEventLoop:
    app = QApplication.instance() or QApplication([])
    app.setQuitOnLastWindowClosed(False)  # as tvdesk.gui.app sets it: closing may mean "tray"
    return QtLoop(app)


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    return {"qasync": _qasync_loop}


@pytest.fixture(scope="session", autouse=True)
def _collect_on_the_gui_thread() -> Iterator[None]:
    """As the app does: Qt objects are only ever garbage-collected on the GUI thread."""
    collector = MainThreadCollector(QApplication.instance() or QApplication([]))
    yield
    collector.close()


@pytest.fixture
def settings() -> Settings:
    """Paper, port 0; a test may override this fixture to start with other settings."""
    return paper_settings()


@pytest.fixture
async def window(
    tmp_path: Path, settings: Settings, memory_keyring: Any
) -> AsyncIterator[MainWindow]:
    win = await open_window(tmp_path / "data", settings)
    yield win
    await close_window(win)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client
