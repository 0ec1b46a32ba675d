"""The paper worker in a real ``tvdesk --headless`` process: fills, the CLI, kill -9."""

from __future__ import annotations

import http.client
import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.kit.engine_proc import EngineProcess, Engines, run_cli

SECRET = secrets.token_urlsafe(32)
FINAL = {"filled", "open", "rejected", "failed", "dry_run"}
BURST = 600
KILL_AFTER = 200


@pytest.fixture
def engines(tmp_path: Path) -> Iterator[Engines]:
    started = Engines(tmp_path, SECRET)
    yield started
    started.cleanup()


def paper_alert(ref: str, **fields: Any) -> dict[str, Any]:
    return {
        "symbol": "BINANCE:BTCUSDT",
        "side": "buy",
        "qty": "0.0001",
        "price": "50000",
        "timestamp": int(time.time()),
        "client_ref": ref,
        **fields,
    }


def export(engine: EngineProcess) -> dict[str, dict[str, Any]]:
    result = run_cli("export", "--data-dir", str(engine.data_dir))
    assert result.returncode == 0, result.stderr
    return {r["alert_id"]: r for r in map(json.loads, result.stdout.splitlines())}


def wait_decided(engine: EngineProcess, alert_ids: list[str], timeout: float = 60.0) -> dict:
    """Poll the export until every alert has a final outcome (or fail with what is left)."""
    deadline = time.monotonic() + timeout
    while True:
        records = export(engine)
        left = [a for a in alert_ids if records.get(a, {}).get("outcome") not in FINAL]
        if not left:
            return records
        assert time.monotonic() < deadline, f"{len(left)} alerts never decided, e.g. {left[:3]}"
        time.sleep(0.05)


def control(engine: EngineProcess, *args: str) -> dict[str, Any]:
    result = run_cli(
        *args, "--json", "--data-dir", str(engine.data_dir), env={"TVDESK_WEBHOOK_SECRET": SECRET}
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def write_settings(data_dir: Path, text: str) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "settings.toml").write_text(text)


def test_a_signed_alert_is_filled_on_paper_and_exported_with_its_trail(engines: Engines):
    engine = engines.start()
    code, reply = engine.post_signed(paper_alert("one", qty="0.01"))
    assert code == 200, reply
    record = wait_decided(engine, [reply["alert_id"]])[reply["alert_id"]]
    assert record["outcome"] == "filled"
    (order,) = record["orders"]
    assert order["mode"] == "paper" and order["status"] == "filled"
    assert Decimal(order["avg_price"]) == Decimal("50025")
    steps = [entry["step"] for entry in record["trail"]]
    assert steps[:2] == ["auth", "parse"] and "risk" in steps and "submit" in steps
    assert set(record["latency_ms"]) >= {"auth", "parse", "map", "risk", "submit", "record"}
    # Headless mode prints each event as one structured (JSON) log line.
    decided = event_lines(engine, "AlertDecided", reply["alert_id"])
    assert decided[0]["outcome"] == "filled" and decided[0]["reason"] == record["reason"]
    filled = event_lines(engine, "OrderFilled", reply["alert_id"])
    assert (filled[0]["symbol"], filled[0]["qty"]) == ("BTC/USDT", "0.01")


def event_lines(engine: EngineProcess, name: str, alert_id: str) -> list[dict[str, Any]]:
    """The engine's log lines for one event of one alert (waits for the log writer)."""
    deadline = time.monotonic() + 10
    while True:
        lines = [json.loads(line) for line in engine.stderr().splitlines() if line.startswith("{")]
        found = [e for e in lines if e.get("event") == name and e.get("alert_id") == alert_id]
        if found or time.monotonic() > deadline:
            assert found, f"no {name} line for {alert_id} in the log"
            return found
        time.sleep(0.05)


def test_refusals_dry_runs_and_a_resting_limit_as_a_process(engines: Engines):
    engine = engines.start()

    def decide(ref: str, **fields: Any) -> dict[str, Any]:
        code, reply = engine.post_signed(paper_alert(ref, **fields))
        assert code == 200, reply
        return wait_decided(engine, [reply["alert_id"]])[reply["alert_id"]]

    too_big = decide("too-big", qty="0.025")
    assert (too_big["outcome"], too_big["orders"]) == ("rejected", [])
    assert too_big["reason"] == "order notional 1,250.00 USDT exceeds max_notional 1,000.00"
    unheld = decide("unheld", side="sell", qty="0.01")
    assert (unheld["outcome"], unheld["orders"]) == ("rejected", [])
    assert unheld["reason"] == "nothing to sell: the account holds no BTC"
    dry = decide("dry", test=True)
    assert (dry["outcome"], dry["orders"]) == ("dry_run", [])
    assert dry["reason"] == "would buy 0.0001 BTC/USDT on binance (test)"

    resting = decide("resting", order_type="limit", price="49000")
    assert resting["outcome"] == "open"
    assert resting["orders"][0]["status"] == "open"
    decide("crossing", price="48900")  # a later price below the limit fills it
    filled = export(engine)[resting["alert_id"]]
    assert filled["outcome"] == "filled"
    assert (filled["orders"][0]["status"], filled["orders"][0]["avg_price"]) == ("filled", "49000")


def test_the_exchange_flag_is_where_alerts_without_one_trade(engines: Engines):
    engine = engines.start("data", "--exchange", "kraken")
    code, reply = engine.post_signed(paper_alert("on-kraken", symbol="BTCUSDT"))
    assert code == 200, reply
    record = wait_decided(engine, [reply["alert_id"]])[reply["alert_id"]]
    assert record["outcome"] == "filled", record["reason"]
    assert record["orders"][0]["exchange"] == "kraken"
    assert "kraken" not in (engine.data_dir / "settings.toml").read_text()  # flags stay flags


def test_kill_refuses_the_next_alert_and_resume_lifts_it(engines: Engines):
    engine = engines.start()
    assert control(engine, "kill")["kill_switch"] is True
    code, reply = engine.post_signed(paper_alert("after-kill"))
    assert code == 200  # accepted at the door, refused by the worker
    refused = wait_decided(engine, [reply["alert_id"]])[reply["alert_id"]]
    assert refused["outcome"] == "rejected"
    assert "kill switch" in refused["reason"]
    assert control(engine, "status")["kill_switch"] is True
    assert control(engine, "resume")["kill_switch"] is False
    code, reply = engine.post_signed(paper_alert("after-resume"))
    assert wait_decided(engine, [reply["alert_id"]])[reply["alert_id"]]["outcome"] == "filled"


def test_kill_flatten_closes_the_positions_tvdesk_opened(engines: Engines):
    engine = engines.start()
    code, reply = engine.post_signed(paper_alert("opening", qty="0.01"))
    assert code == 200, reply
    wait_decided(engine, [reply["alert_id"]])
    answer = control(engine, "kill", "--flatten")
    (flatten_id,) = answer["flatten_alerts"]
    record = wait_decided(engine, [flatten_id])[flatten_id]
    assert record["outcome"] == "filled", record["reason"]
    assert record["orders"][0]["side"] == "sell"
    assert Decimal(record["orders"][0]["qty"]) == Decimal("0.01")


def test_kill_9_mid_burst_then_restart_decides_every_alert_once(engines: Engines, tmp_path: Path):
    # Limits that let every alert trade, so "once" is about fills, not refusals.
    write_settings(tmp_path / "data", "[risk]\nmax_orders_per_minute = 0\nmax_notional = 0\n")
    engine = engines.start()
    acknowledged: dict[str, str] = {}
    lock = threading.Lock()
    enough = threading.Event()

    def send(i: int) -> None:
        try:
            code, reply = engine.post_signed(paper_alert(f"burst-{i:04d}"))
        except (OSError, http.client.HTTPException, ValueError):
            return  # the engine died before answering: not acknowledged
        if code == 200:
            with lock:
                acknowledged[f"burst-{i:04d}"] = reply["alert_id"]
                if len(acknowledged) >= KILL_AFTER:
                    enough.set()

    with ThreadPoolExecutor(max_workers=24) as pool:
        futures = [pool.submit(send, i) for i in range(BURST)]
        assert enough.wait(60), engine.stderr()
        engine.kill()
        for future in futures:
            future.result()
    assert KILL_AFTER <= len(acknowledged) < BURST, "the kill did not land mid-burst"
    left = {r["alert_id"] for r in export(engine).values() if r["outcome"] == "pending"}
    # Else the restart would have nothing to resume: the burst outran the worker.
    assert left & set(acknowledged.values()), "no acknowledged alert was still pending"

    restarted = engines.start()
    records = wait_decided(restarted, list(acknowledged.values()))
    for alert_id in acknowledged.values():
        assert records[alert_id]["outcome"] == "filled", records[alert_id]["reason"]
        assert len(records[alert_id]["orders"]) == 1

    conn = sqlite3.connect(f"file:{restarted.data_dir / 'journal.sqlite3'}?mode=ro", uri=True)
    try:
        doubles = conn.execute(
            "SELECT client_order_id FROM fills GROUP BY client_order_id HAVING COUNT(*) > 1"
        ).fetchall()
        fills = conn.execute("SELECT COUNT(*) FROM fills").fetchone()[0]
        orders = conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0]
        btc = conn.execute(
            "SELECT free FROM balances WHERE mode = 'paper' AND currency = 'BTC'"
        ).fetchone()[0]
    finally:
        conn.close()
    assert doubles == []
    assert fills == orders
    # Every fill bought 0.0001 BTC; the balance agrees with the fills, not more, not less.
    assert Decimal(btc) == Decimal("0.0001") * fills
