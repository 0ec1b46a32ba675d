"""LIVE needs consent at every start: headless trades live only with ``--mode live`` on its
command line; ``mode = "live"`` in settings.toml alone starts in paper and says why."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.brokers.test_live_process import KEYS, SECRET, SETTINGS, FakeProcess
from tests.brokers.test_paper_process import paper_alert, wait_decided, write_settings
from tests.kit.engine_proc import Engines, run_cli
from tvdesk.config.load import load_settings

SAYS_WHY = (
    'settings.toml says mode = "live", but live trading needs --mode live on the command '
    "line at every start: starting in PAPER"
)


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeProcess]:
    process = FakeProcess(tmp_path / "fake-orders.jsonl")
    yield process
    process.stop()


@pytest.fixture
def engines(tmp_path: Path) -> Iterator[Engines]:
    started = Engines(tmp_path, SECRET)
    yield started
    started.cleanup()


def test_live_in_settings_alone_starts_in_paper_and_says_why(
    engines: Engines, fake: FakeProcess, tmp_path: Path
):
    data = tmp_path / "data"
    write_settings(data, 'mode = "live"\n' + SETTINGS)
    # Keys and a reachable exchange: everything live needs, except the consent.
    engine = engines.start("data", "--exchange-url", fake.url, env=KEYS)

    assert engine.get("/health")[1]["mode"] == "paper"
    assert engine.engine_info()["mode"] == "paper"
    assert f"tvdesk: {SAYS_WHY}" in engine.stderr().splitlines()
    code, reply = engine.post_signed(paper_alert("consent", timestamp=int(time.time())))
    assert code == 200, reply
    record = wait_decided(engine, [reply["alert_id"]])[reply["alert_id"]]
    assert record["outcome"] == "filled"
    assert [order["mode"] for order in record["orders"]] == ["paper"]
    assert fake.entries("order") == []  # nothing reached the exchange
    # A command that saves settings.toml keeps the trader's choice in it.
    killed = run_cli("kill", "--data-dir", str(data), env={"TVDESK_WEBHOOK_SECRET": SECRET})
    assert killed.returncode == 0, killed.stderr
    on_file = load_settings(data / "settings.toml")
    assert (on_file.mode, on_file.risk.kill_switch) == ("live", True)
    assert engine.terminate() == 0
    log = (data / "logs" / "tvdesk.log").read_text(encoding="utf-8").splitlines()
    assert SAYS_WHY in [json.loads(line)["msg"] for line in log]


def test_mode_live_on_the_command_line_trades_live(
    engines: Engines, fake: FakeProcess, tmp_path: Path
):
    write_settings(tmp_path / "data", 'mode = "live"\n' + SETTINGS)
    args = ("--mode", "live", "--exchange-url", fake.url)
    engine = engines.start("data", *args, env=KEYS)

    assert engine.get("/health")[1]["mode"] == "live"
    assert SAYS_WHY not in engine.stderr()
    code, reply = engine.post_signed(paper_alert("live-flag", qty="0.001"))
    assert code == 200, reply
    record = wait_decided(engine, [reply["alert_id"]])[reply["alert_id"]]
    assert record["outcome"] == "filled", record["reason"]
    assert [order["mode"] for order in record["orders"]] == ["live"]
    assert len(fake.entries("order")) == 1
