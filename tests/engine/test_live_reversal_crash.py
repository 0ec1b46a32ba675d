"""A live reversal killed between its two orders: the restarted tvdesk sends only the second.

`tvdesk --headless --mode live --exchange okx` as a real process trades the perpetual of the
loopback OKX (tests/kit/fake_okx_reversals.py), itself a process. The closing order reaches
the exchange and fills, its reply never comes back (the fake holds it), and the engine is
killed (-9) then: the opening order was journaled but never sent. The next start looks both
up, finds the closing one, and sends the opening one, once; the closing one is never sent
again, and the alert ends filled with both orders in its record.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.brokers.test_paper_process import export, paper_alert, wait_decided, write_settings
from tests.kit.engine_proc import Engines
from tests.kit.fake_exchange import FakeProcess
from tests.kit.fake_okx import API_KEY, API_PASSWORD, API_SECRET
from tvdesk.brokers.reversal import opening_id
from tvdesk.core.ids import client_order_id

SECRET = "whsec_reversal_crash_Q8vT3nL6pR1z"
KEYS = {
    "TVDESK_OKX_API_KEY": API_KEY,
    "TVDESK_OKX_API_SECRET": API_SECRET,
    "TVDESK_OKX_API_PASSWORD": API_PASSWORD,
}
SETTINGS = """
[exchange]
market_type = "swap"

[risk]
max_orders_per_minute = 0
max_notional = 0

[[symbols]]
tv = "BTCUSDT.P"
exchange = "okx"
symbol = "BTC/USDT:USDT"
"""
ORDERS = "/api/v5/trade/batch-orders"


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeProcess]:
    process = FakeProcess("okx_reversals", tmp_path / "fake-orders.jsonl")
    yield process
    process.stop()


@pytest.fixture
def engines(tmp_path: Path) -> Iterator[Engines]:
    started = Engines(tmp_path, SECRET)
    yield started
    started.cleanup()


def perp_alert(ref: str, side: str, qty: str) -> dict[str, str | int]:
    return paper_alert(ref, symbol="OKX:BTCUSDT.P", side=side, qty=qty)


def wait_created(fake: FakeProcess, cid: str, timeout: float = 20.0) -> None:
    """Until the exchange made the order ``cid`` (its reply may still be on its way)."""
    deadline = time.monotonic() + timeout
    while not any(e["clientOrderId"] == cid for e in fake.entries("created")):
        assert time.monotonic() < deadline, f"{cid} never reached the exchange"
        time.sleep(0.02)


def test_killed_between_the_two_orders_a_restart_sends_only_the_opening_one(
    engines: Engines, fake: FakeProcess, tmp_path: Path
):
    write_settings(tmp_path / "data", SETTINGS)
    args = ("--mode", "live", "--exchange", "okx", "--exchange-url", fake.url)
    engine = engines.start("data", *args, env=KEYS)
    code, reply = engine.post_signed(perp_alert("long", "buy", "0.01"))
    assert code == 200, reply
    assert wait_decided(engine, [reply["alert_id"]])[reply["alert_id"]]["outcome"] == "filled"

    # The next order request is made at the exchange, and its reply never comes back.
    fake.fault(method="POST", path=ORDERS, kind="hang")
    code, reply = engine.post_signed(perp_alert("reverse", "sell", "0.03"))
    assert code == 200, reply
    alert_id = reply["alert_id"]
    closing, opening = client_order_id(alert_id), opening_id(alert_id)
    wait_created(fake, closing)
    engine.kill()  # -9: the opening order is journaled, never sent

    assert [r["clientOrderId"] for r in fake.received()][-1] == closing
    crashed = export(engine)[alert_id]
    assert crashed["outcome"] == "pending"
    assert {o["client_order_id"]: o["status"] for o in crashed["orders"]} == {
        closing: "submitting",
        opening: "submitting",
    }

    restarted = engines.start("data", *args, env=KEYS)
    record = wait_decided(restarted, [alert_id])[alert_id]

    sent = [r for r in fake.received() if r["clientOrderId"] in (closing, opening)]
    # Each order reached the exchange exactly once: the closing one before the crash.
    assert [r["clientOrderId"] for r in sent] == [closing, opening]
    params = sent[1]["params"]
    assert (params["side"], params["sz"]) == ("sell", "2")  # 0.02 BTC: 2 contracts
    assert str(params.get("reduceOnly", "false")).lower() == "false"
    assert str(sent[0]["params"]["reduceOnly"]).lower() == "true"
    assert sent[0]["params"]["sz"] == "1"

    assert record["outcome"] == "filled", record["reason"]
    assert record["reason"].startswith("after a restart: reversal on BTC/USDT:USDT")
    assert {o["client_order_id"]: (o["qty"], o["status"]) for o in record["orders"]} == {
        closing: ("0.01", "filled"),
        opening: ("0.02", "filled"),
    }
    made = [(o["side"], o["qty"]) for o in fake.orders() if o["symbol"] == "BTC-USDT-SWAP"]
    assert made == [("buy", "1"), ("sell", "1"), ("sell", "2")]  # short 2 contracts now
    assert restarted.terminate() == 0
