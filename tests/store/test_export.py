"""`tvdesk send-test` and `tvdesk export` as a trader runs them, against a real engine."""

from __future__ import annotations

import csv
import io
import json
import re
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.kit.engine_proc import EngineProcess, Engines, run_cli

SECRET = "whsec-" + secrets.token_hex(16)
WITH_SECRET = {"TVDESK_WEBHOOK_SECRET": SECRET}

# DESIGN.md, "Export record".
RECORD_FIELDS = {
    "alert_id",
    "received_at",
    "client_ref",
    "status",
    "error",
    "symbol",
    "side",
    "qty",
    "test",
    "outcome",
    "reason",
    "latency_ms",
    "orders",
}
ORDER_FIELDS = (
    "client_order_id",
    "exchange",
    "symbol",
    "side",
    "qty",
    "contracts",
    "mode",
    "status",
    "filled",
    "avg_price",
    "exchange_order_id",
)
OUTCOMES = {"pending", "filled", "open", "rejected", "failed", "dry_run", "canceled"}


@pytest.fixture
def engines(tmp_path: Path) -> Iterator[Engines]:
    started = Engines(tmp_path, SECRET)
    yield started
    started.cleanup()


def export(data_dir: Path, *args: str) -> str:
    result = run_cli("export", "--data-dir", str(data_dir), *args)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return result.stdout


def assert_clean_failure(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode != 0
    assert result.stdout == ""
    assert result.stderr.startswith("tvdesk: ")
    assert "Traceback" not in result.stderr


def send_test(engine: EngineProcess) -> str:
    """Run `tvdesk send-test` against the engine; return the alert_id of its 200 reply."""
    result = run_cli("send-test", "--data-dir", str(engine.data_dir), env=WITH_SECRET)
    assert result.returncode == 0, result.stderr
    status_line, reply_line, outcome_line = result.stdout.splitlines()
    assert re.fullmatch(rf"200 from {engine.url}/webhook in \d+(\.\d+)? ms", status_line)
    reply = json.loads(reply_line)
    assert reply["status"] == "accepted"
    # A dry run by default: it passes every check and places nothing.
    assert outcome_line == "outcome: dry_run — would buy 0.001 BTC/USDT on binance (test)"
    return reply["alert_id"]


def check_jsonl(text: str, alert_id: str) -> dict[str, Any]:
    (record,) = [json.loads(line) for line in text.splitlines()]
    assert record.keys() >= RECORD_FIELDS
    assert record["alert_id"] == alert_id
    assert record["status"] == "accepted"
    assert record["error"] is None
    assert record["test"] is True
    assert record["client_ref"].startswith("send-test-")
    assert (record["side"], record["qty"]) == ("buy", "0.001")
    assert record["outcome"] in OUTCOMES
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", record["received_at"])
    assert isinstance(record["latency_ms"], dict)
    assert isinstance(record["orders"], list)
    return record


def check_csv(text: str, alert_id: str) -> None:
    reader = csv.DictReader(io.StringIO(text))
    columns = reader.fieldnames or []
    assert RECORD_FIELDS - {"orders"} <= set(columns)
    assert [c for c in columns if c.startswith("order.")] == [f"order.{f}" for f in ORDER_FIELDS]
    assert "orders" not in columns
    (row,) = list(reader)
    assert (row["alert_id"], row["status"], row["test"]) == (alert_id, "accepted", "true")
    assert isinstance(json.loads(row["latency_ms"]), dict)


def test_send_test_then_export_while_running_and_after_stop(engines: Engines):
    engine = engines.start()

    alert_id = send_test(engine)

    running = check_jsonl(export(engine.data_dir), alert_id)
    check_csv(export(engine.data_dir, "--format", "csv"), alert_id)
    assert engine.terminate() == 0
    stopped = check_jsonl(export(engine.data_dir, "--format", "jsonl"), alert_id)
    check_csv(export(engine.data_dir, "--format", "csv"), alert_id)
    same = ("alert_id", "received_at", "client_ref", "status", "symbol", "side", "qty", "test")
    assert [stopped[k] for k in same] == [running[k] for k in same]


def test_a_422s_field_errors_are_in_both_formats(engines: Engines):
    engine = engines.start()
    bad = {"symbol": "BTCUSDT", "side": "hold", "qty": "0.001", "client_ref": "bad-side"}
    code, reply = engine.post_signed(bad)
    assert code == 422 and "side" in reply["fields"]

    (record,) = [json.loads(line) for line in export(engine.data_dir).splitlines()]
    assert record["fields"] == reply["fields"]
    (row,) = list(csv.DictReader(io.StringIO(export(engine.data_dir, "--format", "csv"))))
    assert (row["error"], json.loads(row["fields"])) == ("invalid_alert", reply["fields"])


def test_export_without_a_journal_says_so(tmp_path: Path):
    data_dir = tmp_path / "never-ran"

    for fmt in ("jsonl", "csv"):
        result = run_cli("export", "--data-dir", str(data_dir), "--format", fmt)
        assert_clean_failure(result)
        assert "no journal" in result.stderr
        assert str(data_dir) in result.stderr
    assert not (data_dir / "journal.sqlite3").exists()


def test_failed_export_leaves_the_output_file_alone(tmp_path: Path):
    previous = tmp_path / "alerts.csv"
    previous.write_text("last week's export\n", encoding="utf-8")

    result = run_cli(
        "export", "--data-dir", str(tmp_path / "never-ran"), "--format", "csv", "-o", str(previous)
    )

    assert_clean_failure(result)
    assert previous.read_text(encoding="utf-8") == "last week's export\n"


def test_export_to_a_file(engines: Engines, tmp_path: Path):
    engine = engines.start()
    alert_id = send_test(engine)
    target = tmp_path / "alerts.csv"

    assert export(engine.data_dir, "--format", "csv", "--output", str(target)) == ""

    check_csv(target.read_text(encoding="utf-8"), alert_id)


def test_send_test_fill_fills_on_paper_and_prints_the_outcome(engines: Engines):
    engine = engines.start()

    result = run_cli(
        "send-test",
        "--fill",
        "--price",
        "50000",
        "--data-dir",
        str(engine.data_dir),
        env=WITH_SECRET,
    )

    assert result.returncode == 0, result.stderr
    _, reply_line, outcome_line = result.stdout.splitlines()
    alert_id = json.loads(reply_line)["alert_id"]
    assert outcome_line.startswith("outcome: filled — paper buy 0.001 BTC/USDT filled @ 50025")
    (record,) = [json.loads(line) for line in export(engine.data_dir).splitlines()]
    assert (record["alert_id"], record["test"], record["outcome"]) == (alert_id, False, "filled")
    (order,) = record["orders"]
    assert (order["mode"], order["status"], order["filled"]) == ("paper", "filled", "0.001")


def test_send_test_fill_without_a_price_says_how_to_give_one(engines: Engines):
    engine = engines.start()

    result = run_cli("send-test", "--fill", "--data-dir", str(engine.data_dir), env=WITH_SECRET)

    assert_clean_failure(result)
    assert "a paper fill needs a price" in result.stderr and "--price" in result.stderr
    assert export(engine.data_dir) == ""  # nothing was sent


def test_send_test_without_a_running_engine_says_so(tmp_path: Path):
    result = run_cli("send-test", "--data-dir", str(tmp_path / "idle"), env=WITH_SECRET)

    assert_clean_failure(result)
    assert "no tvdesk is running" in result.stderr
    assert "--url" in result.stderr


def test_send_test_after_the_engine_stopped_says_so(engines: Engines):
    engine = engines.start()
    assert engine.terminate() == 0

    result = run_cli("send-test", "--data-dir", str(engine.data_dir), env=WITH_SECRET)

    assert_clean_failure(result)
    assert "--url" in result.stderr
