"""The front-ends start the notifier with the engine and drain it when they stop: a real
``tvdesk --headless`` subprocess, and the window's own start-up (``tvdesk.gui.app.run``)."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from tests.kit.engine_proc import Engines
from tests.kit.fake_notify import FakeNotify
from tests.kit.paper import SECRET
from tests.notify.test_notifier import write_settings
from tvdesk.gui.aio import spawn
from tvdesk.gui.app import GuiOptions, run
from tvdesk.gui.main_window import MainWindow


def test_headless_tvdesk_sends_a_fill_and_stops_cleanly(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_settings(data, "discord = false", "discord = true")
    fake = FakeNotify()
    engines = Engines(tmp_path, SECRET)
    try:
        with fake.in_thread():
            engine = engines.start("data", env={"TVDESK_DISCORD_WEBHOOK_URL": fake.discord_url})
            alert = {"symbol": "BINANCE:BTCUSDT", "side": "buy", "qty": "0.01", "price": "50000"}
            status, reply = engine.post_signed({**alert, "timestamp": int(time.time())})
            assert status == 200, reply
            [line] = fake.wait_delivered_sync("discord", 1)
            assert line.startswith("tvdesk PAPER: filled buy 0.01 BTC/USDT @ 50,0")
            engine.send_signal(signal.SIGTERM)
            assert engine.wait_exit(15) == 0
    finally:
        engines.cleanup()
    log = (data / "logs" / "tvdesk.log").read_text(encoding="utf-8")
    assert fake.discord_url not in engine.stderr() + engine.stdout() + log


@pytest.fixture
def keep_signal_handlers():
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def test_the_window_sends_what_happened_and_drains_on_quit(
    qapp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keep_signal_handlers
) -> None:
    data = tmp_path / "data"
    write_settings(data, "discord = false", "discord = true")
    fake = FakeNotify()

    async def on_shown(window: MainWindow) -> None:
        start = window.start_engine

        async def start_kill_quit() -> bool:
            started = await start()
            await window.handle.call(lambda engine: engine.set_kill_switch(True, "from the window"))
            spawn(window.quit())  # at once: the line goes out while tvdesk stops
            return started

        window.start_engine = start_kill_quit  # type: ignore[method-assign]

    with fake.in_thread():
        monkeypatch.setenv("TVDESK_DISCORD_WEBHOOK_URL", fake.discord_url)
        assert run(GuiOptions(data_dir=data, port=0, tunnel=False), on_shown) == 0
        assert fake.delivered["discord"] == [
            "tvdesk PAPER: kill switch ON (no new orders): from the window"
        ]
