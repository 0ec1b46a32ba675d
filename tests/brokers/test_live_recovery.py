"""Orders left in doubt: settled at start-up and by the poller; the circuit breaker."""

from __future__ import annotations

import secrets
import sqlite3
import time
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from tests.kit.fake_binance import FakeBinance
from tests.kit.live import FAST, LiveDesk, until
from tvdesk.brokers import ledger
from tvdesk.brokers.exchange import OrderState
from tvdesk.brokers.ledger import LiveOrder
from tvdesk.config.paths import resolve_paths
from tvdesk.core.alert.fields import Alert, alert_to_dict
from tvdesk.core.events import CircuitChanged
from tvdesk.core.ids import client_order_id, new_ulid
from tvdesk.store.errors import JournalError
from tvdesk.store.journal import AlertRecord, Journal

D = Decimal


SENT = time.time() - 5  # long enough ago that the exchange could no longer create it


async def journal_after_a_crash(
    data_dir: Path, alert: Alert, outcome: str, rows: Callable[[str], Callable]
) -> str:
    """The journal as a crash left it: an alert (``outcome``) and its order rows."""
    alert_id = new_ulid(int(time.time() * 1000), secrets.token_bytes(10))
    journal = Journal(resolve_paths(data_dir).journal_file)
    journal.open()
    try:
        record = AlertRecord(
            alert_id=alert_id,
            received_at=SENT,
            client="127.0.0.1",
            status="accepted",
            symbol=alert.symbol,
            side=alert.side,
            qty=str(alert.qty),
            alert=alert_to_dict(alert),
            outcome=outcome,
            trail=[{"step": "auth", "ok": True, "detail": "test"}],
        )
        await journal.admit(record, 0)
        await journal.run(rows(alert_id))
    finally:
        journal.close()
    return alert_id


def btc(alert_id: str, qty: str = "0.001", attempt: int = 0, **kind: str) -> LiveOrder:
    side, order_type = kind.get("side", "buy"), kind.get("order_type", "market")
    price = D(kind.get("price", "50000"))
    cid = client_order_id(alert_id, attempt)
    return LiveOrder(cid, alert_id, "binance", "BTC/USDT", side, order_type, D(qty), price)


async def crash_left_an_order_submitting(data_dir: Path) -> str:
    """An accepted alert still pending, its order row ``submitting``."""
    alert = Alert(symbol="BINANCE:BTCUSDT", side="buy", qty=D("0.001"), price=D("50000"))
    return await journal_after_a_crash(
        data_dir,
        alert,
        "pending",
        lambda alert_id: lambda conn: ledger.insert_submitting(conn, btc(alert_id), SENT),
    )


async def test_an_order_that_never_reached_the_exchange_runs_its_alert_again(tmp_path: Path):
    alert_id = await crash_left_an_order_submitting(tmp_path)
    async with FakeBinance() as fake, LiveDesk(tmp_path, fake) as desk:
        decided = await desk.outcome(alert_id)

        assert decided.outcome == "filled", decided.reason
        assert fake.placed(client_order_id(alert_id)) == 1
        trail = [t["detail"] for t in desk.export()[alert_id]["trail"]]
        assert any("never reached binance: the alert runs again" in t for t in trail)
        assert len(desk.orders(alert_id)) == 1


async def test_an_order_the_exchange_has_is_recorded_and_decides_its_alert(tmp_path: Path):
    alert_id = await crash_left_an_order_submitting(tmp_path)
    cid = client_order_id(alert_id)
    async with FakeBinance() as fake:
        fake.add_order(cid, "0.001")
        async with LiveDesk(tmp_path, fake) as desk:
            record = desk.export()[alert_id]  # settled before the engine was ready

            assert record["outcome"] == "filled", record["reason"]
            assert record["reason"].startswith("found at binance after the order was in doubt")
            assert fake.received == []  # looked up, never sent again
            (order,) = record["orders"]
            assert order["status"] == "filled" and order["exchange_order_id"] == "1000"
            assert (await desk.position())["qty"] == D("0.000999")


async def test_an_exchange_unreachable_at_start_fails_the_alert_until_the_poller_knows(
    tmp_path: Path,
):
    alert_id = await crash_left_an_order_submitting(tmp_path)
    cid = client_order_id(alert_id)
    async with FakeBinance() as fake:
        fake.add_order(cid, "0.001")
        fake.fault("GET", "/api/v3/order", "status", status=503, times=4)
        async with LiveDesk(tmp_path, fake) as desk:
            record = desk.export()[alert_id]
            assert record["outcome"] == "failed"
            assert "could not ask binance" in record["reason"]
            assert record["orders"][0]["status"] == "unknown"

            # The exchange answers again: the poller finds the order and decides the alert.
            await until(desk, lambda: desk.export()[alert_id]["outcome"] == "filled")
            assert desk.decided[alert_id].outcome == "filled"
            assert desk.orders(alert_id)[0]["status"] == "filled"
            assert fake.received == []


async def test_the_circuit_breaker_pauses_live_execution_and_resume_lifts_it(tmp_path: Path):
    tuning = replace(FAST, circuit_threshold=3, retries=1)
    async with FakeBinance() as fake, LiveDesk(tmp_path, fake, tuning=tuning) as desk:
        fake.fault("POST", "/api/v3/order", "status", status=503, times=100)
        fake.fault("GET", "/api/v3/order", "status", status=503, times=100)
        first = await desk.trade(qty="0.001")

        assert first.outcome == "failed"
        assert "may or may not exist" in first.reason
        assert desk.orders(first.alert_id)[0]["status"] == "unknown"
        opened = [e for e in desk.events if isinstance(e, CircuitChanged)]
        assert [e.open for e in opened] == [True]
        assert "3 temporary failures in a row" in opened[0].reason
        status = await desk.engine.status()
        assert status["circuit"]["state"] == "open"

        posts = fake.requests.count(("POST", "/api/v3/order"))
        paused = await desk.trade(qty="0.001")
        assert paused.outcome == "failed"
        assert paused.reason.startswith("live execution is paused")
        assert fake.requests.count(("POST", "/api/v3/order")) == posts

        fake.faults.clear()
        desk.engine.resume()
        assert [e.open for e in desk.events if isinstance(e, CircuitChanged)] == [True, False]
        resumed = await desk.trade(qty="0.001")
        assert resumed.outcome == "filled", resumed.reason
        # The order in doubt never reached the exchange: the poller says so, it stays failed.
        await until(desk, lambda: desk.orders(first.alert_id)[0]["status"] == "rejected")
        assert [o.client_order_id for o in fake.created()] == [f"tvd{resumed.alert_id}"]


async def test_the_circuit_breaker_closes_by_itself_after_the_cool_down(tmp_path: Path):
    tuning = replace(FAST, circuit_threshold=2, retries=0, circuit_cooldown_s=0.3)
    async with FakeBinance() as fake, LiveDesk(tmp_path, fake, tuning=tuning) as desk:
        fake.fault("POST", "/api/v3/order", "status", status=503, times=1)
        fake.fault("GET", "/api/v3/order", "status", status=503, times=1)
        await desk.trade(qty="0.001")

        await until(desk, lambda: any(
            isinstance(e, CircuitChanged) and not e.open for e in desk.events
        ))  # fmt: skip
        closed = [e for e in desk.events if isinstance(e, CircuitChanged)][-1]
        assert "cool-down over" in closed.reason
        assert (await desk.trade(qty="0.001")).outcome == "filled"


async def test_an_order_whose_outcome_could_not_be_recorded_is_settled_not_sent_again(
    tmp_path: Path,
):
    async with FakeBinance() as fake, LiveDesk(tmp_path, fake) as desk:
        journal = desk.engine.journal
        write = journal.run
        failed: list[object] = []

        async def disk_full_once(fn, **kw):  # the worker's record of the outcome fails once
            if getattr(fn, "__name__", "") == "record" and not failed:
                failed.append(fn)
                raise JournalError("the journal could not commit: disk full (test)")
            return await write(fn, **kw)

        journal.run = disk_full_once  # type: ignore[method-assign]
        decided = await desk.trade(qty="0.001")

        assert failed, "the record never failed: the test tested nothing"
        assert decided.outcome == "filled", decided.reason
        cid = f"tvd{decided.alert_id}"
        assert fake.placed(cid) == 1
        trail = [t["detail"] for t in desk.export()[decided.alert_id]["trail"]]
        assert f"found {cid} at binance" in trail
        (order,) = desk.orders(decided.alert_id)
        assert order["status"] == "filled"
        assert (await desk.position())["qty"] == D("0.000999")


async def test_a_stop_loss_that_never_reached_the_exchange_is_placed_after_a_restart(
    tmp_path: Path,
):
    alert = Alert(
        symbol="BINANCE:BTCUSDT", side="buy", qty=D("0.01"), price=D("50000"), stop_loss=D("45000")
    )
    filled = OrderState("1000", "filled", D("0.01"), D("50000"), D("0.00001"), "BTC", True)

    def entry_recorded_then_stop_journaled(alert_id: str) -> Callable:
        def rows(conn: sqlite3.Connection) -> None:
            ledger.insert_submitting(conn, btc(alert_id, "0.01"), SENT)
            ledger.record(conn, client_order_id(alert_id), filled, SENT)
            stop = btc(alert_id, "0.00999", 1, side="sell", order_type="stop_loss", price="45000")
            ledger.insert_submitting(conn, stop, SENT)

        return rows

    alert_id = await journal_after_a_crash(
        tmp_path, alert, "filled", entry_recorded_then_stop_journaled
    )
    entry_id, stop_id = client_order_id(alert_id), client_order_id(alert_id, 1)
    async with FakeBinance() as fake:
        fake.add_order(entry_id, "0.01")
        async with LiveDesk(tmp_path, fake) as desk:
            orders = [(o["client_order_id"], o["status"]) for o in desk.orders(alert_id)]
            assert orders == [(entry_id, "filled"), (stop_id, "open")]
            (stop,) = [o for o in fake.created() if o.type == "STOP_LOSS"]
            assert stop.client_order_id == stop_id and fake.placed(stop_id) == 1
            trail = [t["detail"] for t in desk.export()[alert_id]["trail"]]
            assert f"order {stop_id} never reached binance: placing it again" in trail
