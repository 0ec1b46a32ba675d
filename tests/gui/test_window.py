"""The window as a whole: start-up, the data-dir lock, closing, tray fallback, status bar."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSystemTrayIcon

from tests.gui.helpers import (
    close_window,
    decided_row,
    find_box,
    open_window,
    post_alert,
    until,
)
from tests.kit.paper import SECRET, paper_settings
from tvdesk.config.keystore import WEBHOOK_SECRET, Keystore, service_name
from tvdesk.config.paths import resolve_paths
from tvdesk.gui.app import bring_up, build_window
from tvdesk.gui.prefs import CLOSE_QUIT
from tvdesk.support.lockfile import DataDirLock


async def test_a_second_engine_on_the_same_data_dir_is_a_dialog(window, tmp_path):
    data = window.handle.paths.data_dir
    second = build_window(
        paper_settings(), Keystore(service_name(data)), resolve_paths(data), tunnel=False
    )
    second.show()
    starting = asyncio.ensure_future(second.start_engine())
    box = await until(lambda: find_box("startupError"), what="the lock dialog")
    assert "already running" in box.text() and str(data) in box.text()
    box.button(box.StandardButton.Ok).click()
    assert await starting is False
    assert "Not started" in second.progress_text.text()
    await close_window(second)
    assert window.handle.running  # the first one is untouched


async def test_status_bar_shows_listener_mode_queue_and_last_alert(window, session):
    bar = window.status
    await until(lambda: bar.tunnel.text() == "Tunnel: off", what="the first status poll")
    assert bar.listener.text() == f"Listener: 127.0.0.1:{window.handle._engine.port}"
    assert bar.mode.text() == "PAPER"
    assert bar.exchange.text() == "Exchange: binance · paper, not connected"
    assert bar.last_alert.text() == "No alerts yet"
    await decided_row(window, (await post_alert(session, window))["alert_id"])
    await until(lambda: bar.last_alert.text().startswith("Last alert: "))
    await until(lambda: bar.queue.text() == "Queue: 0")


async def test_without_a_tray_closing_keeps_running_minimised(window, session, qtbot):
    assert not QSystemTrayIcon.isSystemTrayAvailable()  # offscreen: no tray at all
    assert window.tray.icon is None
    window.close()
    box = await until(lambda: find_box("closeBox"), what="the close question")
    assert "minimised" in box.text()
    qtbot.mouseClick(
        box.findChild(type(box.buttons()[0]), "keepRunning"), Qt.MouseButton.LeftButton
    )
    await until(lambda: window.isMinimized(), what="the window to minimise")
    assert window.handle.running
    await decided_row(window, (await post_alert(session, window))["alert_id"])  # still trading

    # Notifications go to the status bar where there is no tray.
    await window.handle.call(lambda e: e.set_kill_switch(True, "test"))
    await until(lambda: "Kill switch ON" in window.statusBar().currentMessage())


async def test_quit_drains_stops_and_releases_the_data_dir(tmp_path, memory_keyring, qtbot):
    data = tmp_path / "data"
    window = await open_window(data, paper_settings())
    window.prefs.close_action = CLOSE_QUIT
    window.close()
    await until(lambda: window.stopped.done(), what="the engine to stop")
    assert not window.handle.running
    lock = DataDirLock(resolve_paths(data).lock_file)
    lock.acquire("test")  # free again: a headless engine could start now
    lock.release()
    await close_window(window)


async def test_a_live_start_is_refused_without_credentials(tmp_path, memory_keyring):
    data = tmp_path / "data"
    base = paper_settings()
    live = replace(base, mode="live")
    keystore = Keystore(service_name(data))
    keystore.set(WEBHOOK_SECRET, SECRET)
    window = build_window(live, keystore, resolve_paths(data), tunnel=False)
    window.show()
    assert window.status.mode.text() == "PAPER"  # LIVE needs consent at every start
    assert await bring_up(window)
    try:
        # No API key: tvdesk says so and trades paper, never silently live.
        assert window.handle.settings().mode == "paper"
        assert "LIVE was refused" in window.banner.text() and "API key" in window.banner.text()
        assert window.status.mode.text() == "PAPER"
    finally:
        await close_window(window)


async def test_the_engine_may_run_on_a_thread_of_its_own(tmp_path, memory_keyring, qtbot):
    window = await open_window(tmp_path / "data", paper_settings(), threaded=True)
    try:
        assert window.handle._thread is not None
        qtbot.mouseClick(window.connect_panel.test_button, Qt.MouseButton.LeftButton)
        await until(lambda: "dry_run" in window.connect_panel.test_result.text())
        await until(lambda: window.log_panel.model.rowCount() == 1)
    finally:
        await close_window(window)
    assert window.handle._thread is None
