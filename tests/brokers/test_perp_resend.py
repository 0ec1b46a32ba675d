"""A perpetual's closing order left in doubt by a crash is re-sent exactly as first sent.

The first tvdesk journals the order ``submitting`` and dies (kill -9) with the request in
flight; a restarted tvdesk finds no such order at the exchange and sends it again. That
re-send must carry what the first did (reduce-only; the position side in hedge mode), never
nothing (it would open a position instead of closing one) nor a later decision's view.
OKX through ccxt's real request building, its transport replaced (``tests/kit/capture``).
"""

from __future__ import annotations

import asyncio
import csv
import io
import sqlite3
from contextlib import closing
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.kit.capture import ALERT, CID, Capture, captured
from tests.kit.clock import FakeClock
from tvdesk.brokers.errors import PermanentError
from tvdesk.brokers.exchange import ExchangeClient, LiveTuning
from tvdesk.brokers.ledger import LiveOrder
from tvdesk.brokers.perps import order_params
from tvdesk.brokers.retry import CircuitBreaker
from tvdesk.brokers.sender import OrderSender
from tvdesk.core.alert.fields import Alert, alert_to_dict
from tvdesk.store.export import records, write_csv
from tvdesk.store.journal import AlertRecord, Journal

SYMBOL = "BTC/USDT:USDT"
ORDER = "/api/v5/trade/batch-orders"  # ccxt places even one order this way
# OKX's answer to a lookup of an order it never took.
ABSENT = {"code": "51603", "msg": "Order does not exist", "data": []}
PLACED = {"code": "0", "msg": "", "data": [{"ordId": "7", "clOrdId": CID, "sCode": "0"}]}


def swap_market() -> dict[str, Any]:
    """OKX's BTC-USDT-SWAP as ccxt holds it: one contract is 0.01 BTC."""
    return {
        "id": "BTC-USDT-SWAP",
        "symbol": SYMBOL,
        "base": "BTC",
        "quote": "USDT",
        "settle": "USDT",
        "baseId": "BTC",
        "quoteId": "USDT",
        "settleId": "USDT",
        "type": "swap",
        "spot": False,
        "margin": False,
        "swap": True,
        "future": False,
        "option": False,
        "contract": True,
        "linear": True,
        "inverse": False,
        "active": True,
        "contractSize": 0.01,
        "precision": {"amount": 1.0, "price": 0.1},
        "limits": {
            "amount": {"min": 1.0, "max": None},
            "price": {"min": None, "max": None},
            "cost": {"min": None, "max": None},
        },
        "info": {"instId": "BTC-USDT-SWAP"},
    }


def okx_answers(method: str, path: str, fields: dict[str, Any]) -> tuple[int, Any]:
    if method == "POST" and path == ORDER:
        return 200, PLACED
    return 200, ABSENT  # every lookup: OKX has no such order


async def okx(hedge: bool) -> tuple[ExchangeClient, Capture]:
    client, capture = await captured("okx", [swap_market()], okx_answers)
    client.position_mode = "hedge" if hedge else "oneway"
    return client, capture


def sender(journal: Journal, clock: FakeClock) -> OrderSender:
    tuning = LiveTuning(rate_limit=False, retries=0)
    circuit = CircuitBreaker(5, 60.0, clock.time, lambda _open, _why: None)
    return OrderSender(journal, clock, tuning, circuit)


# Closing a long of 0.02 BTC: a sell of 2 contracts that may only reduce it.
EXIT = LiveOrder(CID, ALERT, "okx", SYMBOL, "sell", "market", Decimal("0.02"), Decimal(50000))


async def killed_mid_order(path: Path, clock: FakeClock, hedge: bool) -> dict[str, Any]:
    """The first tvdesk: journals the exit, sends it, dies before any reply; what it sent."""
    journal = Journal(path)
    journal.open()
    client, capture = await okx(hedge)
    in_flight = asyncio.Event()

    async def never_answers(url: str, method: str = "GET", headers: Any = None, body: Any = None):
        await capture.fetch(url, method, headers, body)  # recorded as the exchange got it
        in_flight.set()
        await asyncio.Event().wait()  # the reply never comes: the process is killed first

    client.api.fetch = never_answers
    params = order_params(client, SYMBOL, "sell", reduce_only=True)
    task = asyncio.create_task(sender(journal, clock).place(client, EXIT, params))
    try:
        sent = asyncio.ensure_future(in_flight.wait())
        await asyncio.wait({task, sent}, return_when=asyncio.FIRST_COMPLETED)
        assert not task.done(), task.exception()  # it must still be waiting for the reply
        task.cancel()  # kill -9: nothing after the request runs
        with pytest.raises(asyncio.CancelledError):
            await task
    finally:
        await client.close()
        journal.close()
    (first,) = capture.to(ORDER, "POST")
    return first.fields


@pytest.mark.parametrize("hedge", [False, True], ids=["net mode", "hedge mode"])
@pytest.mark.parametrize("how", ["settled at restart", "its alert placed again"])
async def test_an_exit_re_sent_after_a_crash_carries_what_it_was_first_sent_with(
    tmp_path: Path, hedge: bool, how: str
):
    path = tmp_path / "journal.sqlite3"
    clock = FakeClock()
    first = await killed_mid_order(path, clock, hedge)
    assert first.get("reduceOnly") is (None if hedge else True)
    assert first.get("posSide") == ("long" if hedge else None)

    # The restart, after OKX's request lifetime: an order not there now never will be.
    clock.advance(60)
    journal = Journal(path)
    journal.open()
    client, capture = await okx(hedge)
    try:
        restarted = sender(journal, clock)
        if how == "settled at restart":  # LiveExecutor.recover: the order row, nothing else
            state, _ = await restarted.settle(client, EXIT, clock.time() - 60)
        else:  # a later decision thinks the sell opens a short: what it says is not used
            state, _ = await restarted.place(client, EXIT, {})
    finally:
        await client.close()
        journal.close()

    (resent,) = capture.to(ORDER, "POST")
    assert resent.fields == first  # the same order: size, side, client id, reduce-only
    assert resent.fields["sz"] == "2" and resent.fields["clOrdId"] == CID
    if hedge:
        assert resent.fields["posSide"] == "long" and "reduceOnly" not in resent.fields
    else:
        assert resent.fields["reduceOnly"] is True
    assert state.exchange_order_id == "7"


async def test_the_export_shows_a_perpetual_order_in_coins_and_in_contracts(tmp_path: Path):
    path = tmp_path / "journal.sqlite3"
    journal = Journal(path)
    journal.open()
    try:
        alert = Alert(symbol="OKX:BTCUSDT.P", side="sell", qty=Decimal("0.02"))
        record = AlertRecord(
            alert_id=ALERT,
            received_at=1.0,
            client="127.0.0.1",
            status="accepted",
            symbol=alert.symbol,
            side=alert.side,
            qty="0.02",
            alert=alert_to_dict(alert),
            outcome="pending",
        )
        await journal.admit(record, 0)
    finally:
        journal.close()
    await killed_mid_order(path, FakeClock(), hedge=False)

    (exported,) = records(path)
    (order,) = exported["orders"]
    assert (order["qty"], order["contracts"], order["status"]) == ("0.02", "2", "submitting")
    out = io.StringIO()
    write_csv(records(path), out)
    (row,) = csv.DictReader(io.StringIO(out.getvalue()))
    assert (row["order.qty"], row["order.contracts"]) == ("0.02", "2")


async def test_an_exit_journaled_before_params_were_kept_is_not_sent_bare(tmp_path: Path):
    path = tmp_path / "journal.sqlite3"
    clock = FakeClock()
    await killed_mid_order(path, clock, hedge=False)
    with closing(sqlite3.connect(path)) as conn:  # as a journal from before v6 holds it
        conn.execute("UPDATE orders SET params = NULL")
        conn.commit()
    clock.advance(60)
    journal = Journal(path)
    journal.open()
    client, capture = await okx(hedge=False)
    try:
        with pytest.raises(PermanentError, match="not sent again; nothing was placed"):
            await sender(journal, clock).settle(client, EXIT, clock.time() - 60)
    finally:
        await client.close()
        journal.close()
    assert capture.to(ORDER, "POST") == []  # looked up, never sent without its reduce-only
