"""A live reversal goes as two orders: the closing one reduce-only for exactly the size held,
then the opening one, not reduce-only, for the rest; each with its own client order id
derived from the alert's, both in the alert's trail and export.

A running engine trades the loopback OKX's perpetual (BTC-USDT-SWAP, 1 contract = 0.01
BTC) through ccxt's real signed requests; the fake refuses a reduce-only order that does
not only reduce, as OKX does. The crash between the two orders is in
tests/engine/test_live_reversal_crash.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.brokers.test_live_positions import OkxDesk, okx_swap_settings
from tests.kit.fake_okx_reversals import FakeOkxReversals
from tvdesk.brokers.reversal import opening_id
from tvdesk.core.ids import client_order_id

PERP = "BTC/USDT:USDT"


@pytest.fixture
async def fake() -> AsyncIterator[FakeOkxReversals]:
    async with FakeOkxReversals() as exchange:
        yield exchange


def reduce_only(params: dict[str, Any]) -> bool:
    return str(params.get("reduceOnly", "false")).lower() == "true"


async def test_a_sell_bigger_than_the_long_closes_it_reduce_only_then_opens_the_short(
    tmp_path: Path, fake: FakeOkxReversals
):
    async with OkxDesk(tmp_path, fake) as desk:
        opened = await desk.trade(symbol="BTCUSDT.P", side="buy", qty="0.01", price="50000")
        assert opened.outcome == "filled", opened.reason
        _, reply = await desk.post(symbol="BTCUSDT.P", side="sell", qty="0.03", price="50000")
        alert_id = reply["alert_id"]
        decided = await desk.outcome(alert_id)
        position = await desk.perp()
        record = desk.export()[alert_id]

    assert decided.outcome == "filled", decided.reason
    first, second = fake.swap_orders()[1:]
    # The closing order: reduce-only, exactly the 1 contract (0.01 BTC) held.
    assert (first["side"], first["sz"], reduce_only(first)) == ("sell", "1", True)
    assert first["clOrdId"] == client_order_id(alert_id)
    # The opening order: not reduce-only, the 2 contracts (0.02 BTC) left.
    assert (second["side"], second["sz"], reduce_only(second)) == ("sell", "2", False)
    assert second["clOrdId"] == opening_id(alert_id) != first["clOrdId"]
    assert fake.net() == -2  # the exchange's position: short 2 contracts
    assert (position["side"], position["qty"]) == ("short", Decimal("-0.02"))

    orders = {o["client_order_id"]: o for o in record["orders"]}
    assert (orders[first["clOrdId"]]["qty"], orders[first["clOrdId"]]["status"]) == (
        "0.01",
        "filled",
    )
    assert (orders[second["clOrdId"]]["qty"], orders[second["clOrdId"]]["status"]) == (
        "0.02",
        "filled",
    )
    trail = [t["detail"] for t in record["trail"]]
    assert any(d.startswith("perpetual: a reversal in two orders: 0.01 reduce-only") for d in trail)
    assert any(d.startswith("closing order (reduce-only): live sell 0.01 ") for d in trail)
    assert any(d.startswith("opening order (not reduce-only): live sell 0.02 ") for d in trail)
    assert decided.reason.startswith(f"reversal on {PERP}: closing order live sell 0.01")


async def test_a_target_position_on_the_other_side_reverses_too(
    tmp_path: Path, fake: FakeOkxReversals
):
    async with OkxDesk(tmp_path, fake) as desk:
        await desk.trade(symbol="BTCUSDT.P", side="sell", qty="0.02", price="50000")
        decided = await desk.trade(
            symbol="BTCUSDT.P", side="buy", position_size="0.01", price="50000"
        )
        position = await desk.perp()

    assert decided.outcome == "filled", decided.reason
    first, second = fake.swap_orders()[1:]
    assert (first["side"], first["sz"], reduce_only(first)) == ("buy", "2", True)
    assert (second["side"], second["sz"], reduce_only(second)) == ("buy", "1", False)
    assert (position["side"], position["qty"]) == ("long", Decimal("0.01"))


async def test_the_closing_order_refused_sends_no_opening_order(
    tmp_path: Path, fake: FakeOkxReversals
):
    async with OkxDesk(tmp_path, fake) as desk:
        await desk.trade(symbol="BTCUSDT.P", side="buy", qty="0.01", price="50000")
        fake.fault("POST", "/api/v5/trade/batch-orders", "error", code="51008", msg="Margin")
        _, reply = await desk.post(symbol="BTCUSDT.P", side="sell", qty="0.03", price="50000")
        decided = await desk.outcome(reply["alert_id"])
        position = await desk.perp()
        orders = {o["client_order_id"]: o for o in desk.export()[reply["alert_id"]]["orders"]}

    assert decided.outcome == "failed"
    assert len(fake.swap_orders()) == 1  # only the long's order reached the exchange
    opening = orders[opening_id(reply["alert_id"])]
    assert opening["status"] == "rejected"
    assert f"not sent: the closing order {client_order_id(reply['alert_id'])} was refused" in (
        decided.reason
    )
    assert (position["side"], position["qty"]) == ("long", Decimal("0.01"))


async def test_a_limit_reversal_is_refused_with_what_to_send_instead(
    tmp_path: Path, fake: FakeOkxReversals
):
    async with OkxDesk(tmp_path, fake) as desk:
        await desk.trade(symbol="BTCUSDT.P", side="buy", qty="0.01", price="50000")
        decided = await desk.trade(
            symbol="BTCUSDT.P", side="sell", qty="0.03", price="50000", order_type="limit"
        )
    assert decided.outcome == "rejected"
    assert "a reversal goes as two orders" in decided.reason
    assert "Send it as a market order" in decided.reason
    assert len(fake.swap_orders()) == 1


async def test_a_reversal_counts_as_two_orders_against_max_orders_per_minute(
    tmp_path: Path, fake: FakeOkxReversals
):
    settings = okx_swap_settings(fake.url)
    settings = replace(settings, risk=replace(settings.risk, max_orders_per_minute=2))
    desk = OkxDesk(tmp_path, fake)
    desk.engine.settings = settings
    async with desk:
        await desk.trade(symbol="BTCUSDT.P", side="buy", qty="0.01", price="50000")
        decided = await desk.trade(symbol="BTCUSDT.P", side="sell", qty="0.03", price="50000")
    assert decided.outcome == "rejected"
    assert decided.reason.endswith("(a reversal places two orders)")
    assert len(fake.swap_orders()) == 1
