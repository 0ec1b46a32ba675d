"""`tvdesk --headless --mode live` as a real process against the fake Binance as a process."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.brokers.test_paper_process import export, paper_alert, wait_decided, write_settings
from tests.kit.engine_proc import EngineProcess, Engines, get, post, run_cli
from tests.kit.fake_binance import API_KEY, API_SECRET

ROOT = Path(__file__).resolve().parents[2]
SECRET = secrets.token_urlsafe(32)
KEYS = {"TVDESK_BINANCE_API_KEY": API_KEY, "TVDESK_BINANCE_API_SECRET": API_SECRET}
SETTINGS = """
[risk]
max_orders_per_minute = 0

[[symbols]]
tv = "BTCUSDT"
exchange = "binance"
symbol = "BTC/USDT"
"""


class FakeProcess:
    """``python -m tests.kit.fake_binance`` on an ephemeral port, its order log in a file."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.kit.fake_binance", "--port", "0", "--log", str(log)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.startswith("fake binance on "), line
        self.url = line.removeprefix("fake binance on ").strip()

    def fault(self, **fault: Any) -> None:
        code, _ = post(f"{self.url}/fake/fault", json.dumps(fault).encode())
        assert code == 200

    def entries(self, event: str = "order") -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        lines = self.log.read_text(encoding="utf-8").splitlines()
        return [e for e in map(json.loads, lines) if e["event"] == event]

    def received(self) -> list[dict[str, Any]]:
        return get(f"{self.url}/fake/received")[1]  # type: ignore[return-value]

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(10)


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


def live(engines: Engines, fake: FakeProcess, env: dict[str, str] | None = KEYS) -> EngineProcess:
    args = ("--mode", "live", "--exchange", "binance", "--exchange-url", fake.url)
    return engines.start("data", *args, env=dict(env or {}))


def test_twenty_signed_alerts_become_exactly_twenty_orders(
    engines: Engines, fake: FakeProcess, tmp_path: Path
):
    write_settings(tmp_path / "data", SETTINGS)
    engine = live(engines, fake)
    assert "LIVE mode on binance" in engine.stderr()
    assert engine.get("/health")[1]["mode"] == "live"

    def send(i: int) -> str:
        code, reply = engine.post_signed(paper_alert(f"live-{i:02d}", qty="0.001"))
        assert code == 200, reply
        return reply["alert_id"]

    with ThreadPoolExecutor(max_workers=5) as pool:
        alert_ids = list(pool.map(send, range(20)))
    records = wait_decided(engine, alert_ids)

    for alert_id in alert_ids:
        record = records[alert_id]
        assert record["outcome"] == "filled", record["reason"]
        (order,) = record["orders"]
        assert (order["mode"], order["status"], order["exchange"]) == ("live", "filled", "binance")
        assert order["client_order_id"] == f"tvd{alert_id}"
    sent = [r["clientOrderId"] for r in fake.received()]
    assert sorted(sent) == sorted(f"tvd{a}" for a in alert_ids)
    assert engine.terminate() == 0
    everything = (
        engine.stdout()
        + engine.stderr()
        + (engine.data_dir / "logs").joinpath("tvdesk.log").read_text(encoding="utf-8")
    )
    assert API_KEY not in everything and API_SECRET not in everything


def test_send_test_fill_is_refused_when_the_engine_is_live(
    engines: Engines, fake: FakeProcess, tmp_path: Path
):
    write_settings(tmp_path / "data", SETTINGS)
    engine = live(engines, fake)

    refused = run_cli(
        "send-test",
        "--fill",
        "--price",
        "50000",
        "--data-dir",
        str(engine.data_dir),
        env={"TVDESK_WEBHOOK_SECRET": SECRET},
    )

    assert refused.returncode != 0 and refused.stdout == ""
    assert refused.stderr == "tvdesk: --fill sends a real alert and the engine is LIVE: refused\n"
    assert export(engine) == {}  # nothing reached the engine
    assert fake.received() == []  # nor the exchange


def test_kill_9_between_the_exchange_taking_the_order_and_its_reply(
    engines: Engines, fake: FakeProcess, tmp_path: Path
):
    write_settings(tmp_path / "data", SETTINGS)
    engine = live(engines, fake)
    # The fake creates the order and then never answers: the engine waits for the reply.
    fake.fault(method="POST", path="/api/v3/order", kind="hang")
    code, reply = engine.post_signed(paper_alert("in-flight", qty="0.001"))
    assert code == 200
    alert_id = reply["alert_id"]
    cid = f"tvd{alert_id}"
    deadline = time.monotonic() + 30
    while not any(e["clientOrderId"] == cid for e in fake.entries("created")):
        assert time.monotonic() < deadline, engine.stderr()
        time.sleep(0.02)
    engine.kill()
    assert export(engine)[alert_id]["orders"][0]["status"] == "submitting"

    restarted = live(engines, fake)
    record = wait_decided(restarted, [alert_id])[alert_id]

    assert record["outcome"] == "filled", record["reason"]
    (order,) = record["orders"]
    assert order["status"] == "filled" and order["exchange_order_id"] == "1000"
    assert [e["clientOrderId"] for e in fake.entries("order")] == [cid]  # seen exactly once


def test_sigterm_with_an_order_in_flight_exits_0_within_10_s_and_the_restart_settles_it(
    engines: Engines, fake: FakeProcess, tmp_path: Path
):
    write_settings(tmp_path / "data", SETTINGS)
    engine = live(engines, fake)
    fake.fault(method="POST", path="/api/v3/order", kind="hang")  # created, never answered
    code, reply = engine.post_signed(paper_alert("in-flight-at-stop", qty="0.001"))
    assert code == 200
    alert_id = reply["alert_id"]
    cid = f"tvd{alert_id}"
    deadline = time.monotonic() + 30
    while not any(e["clientOrderId"] == cid for e in fake.entries("created")):
        assert time.monotonic() < deadline, engine.stderr()
        time.sleep(0.02)

    started = time.monotonic()
    assert engine.terminate(timeout=10) == 0
    assert time.monotonic() - started < 10
    stderr = engine.stderr()
    assert "Traceback" not in stderr
    assert f"alert {alert_id} still in flight" in stderr
    assert export(engine)[alert_id]["orders"][0]["status"] == "submitting"

    restarted = live(engines, fake)
    record = wait_decided(restarted, [alert_id])[alert_id]
    assert record["outcome"] == "filled", record["reason"]
    assert [e["clientOrderId"] for e in fake.entries("order")] == [cid]  # seen exactly once


def test_live_mode_without_credentials_stays_in_paper_and_says_why(
    engines: Engines, fake: FakeProcess
):
    engine = live(engines, fake, env=None)

    stderr = engine.stderr()
    assert "LIVE trading refused" in stderr and "TVDESK_BINANCE_API_KEY" in stderr
    assert "staying in PAPER mode" in stderr
    assert engine.get("/health")[1]["mode"] == "paper"
    assert engine.engine_info()["mode"] == "paper"


def test_live_mode_with_a_wrong_secret_stays_in_paper_with_the_exchanges_words(
    engines: Engines, fake: FakeProcess
):
    wrong = "wrongSecret5Tz8Qd2Lk7Vn4Bx9Mh1Wc6Pr3Yf0Ga"
    engine = live(engines, fake, env={**KEYS, "TVDESK_BINANCE_API_SECRET": wrong})

    stderr = engine.stderr()
    assert "the binance balance check failed" in stderr
    assert "Signature for this request is not valid." in stderr
    assert engine.get("/health")[1]["mode"] == "paper"
    assert engine.terminate() == 0
    assert wrong not in engine.stderr() + engine.stdout() and API_KEY not in engine.stderr()
