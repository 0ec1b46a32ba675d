"""Gate (spot), checked: tvdesk's order code through ccxt with the transport replaced.

Replies in Gate's v4 shapes. ``text`` carries tvdesk's id as "t-…" within Gate's 28
characters; a spot market buy's ``amount`` is the quote coin to spend, which ccxt refused
to work out without a price before ``venues/gate.py``; the lookup reads the open and the
finished lists.
"""

from __future__ import annotations

import re
import time
from decimal import Decimal
from typing import Any

import pytest

from tests.kit.capture import CID, STOP_CID, captured, spot_market
from tvdesk.brokers.exchange import order_state
from tvdesk.brokers.venues import venue_for

SYMBOL = "BTC/USDT"
CREATE = "/api/v4/spot/orders"
TEXT = venue_for("gate").client_order_id(CID)


def order(
    text: str, status: str, filled: str, finish_as: str, made_at: float | None = None
) -> dict[str, Any]:
    """One spot order as Gate lists it, made at ``made_at`` (epoch s; now when None)."""
    now = time.time() if made_at is None else made_at
    return {
        "id": "12332324", "text": text, "create_time": str(int(now)),
        "update_time": str(int(now)), "create_time_ms": int(now * 1000),
        "update_time_ms": int(now * 1000), "status": status, "currency_pair": "BTC_USDT",
        "type": "limit", "account": "spot", "side": "buy", "amount": "0.002",
        "price": "49000", "time_in_force": "gtc", "iceberg": "0",
        "left": str(Decimal("0.002") - Decimal(filled)), "filled_amount": filled,
        "fill_price": str(Decimal(filled) * 49000), "filled_total": str(Decimal(filled) * 49000),
        "avg_deal_price": "49000" if filled != "0" else "0", "fee": "0", "fee_currency": "BTC",
        "point_fee": "0", "gt_fee": "0", "gt_discount": False, "rebated_fee": "0",
        "rebated_fee_currency": "USDT", "finish_as": finish_as,
    }  # fmt: skip


def answer_with(open_: list[dict[str, Any]], finished: list[dict[str, Any]]) -> Any:
    def answer(method: str, path: str, fields: dict[str, Any]) -> tuple[int, Any] | None:
        if path == CREATE and method == "POST":
            return 201, order(fields["text"], "open", "0", "open")
        if path == "/api/v4/spot/open_orders":
            return 200, [{"currency_pair": "BTC_USDT", "total": len(open_), "orders": open_}]
        if path == CREATE and fields.get("status") == "finished":
            return 200, finished
        if path.startswith("/api/v4/unified/"):  # ccxt asks whether the account is unified
            return 200, {"mode": "classic"} if path.endswith("unified_mode") else {}
        return None

    return answer


async def gate(open_: list[dict[str, Any]], finished: list[dict[str, Any]]) -> Any:
    return await captured("gate", [spot_market(SYMBOL, "BTC_USDT")], answer_with(open_, finished))


async def test_the_id_fits_gates_text_and_a_market_buy_sends_its_cost():
    client, capture = await gate([], [])
    try:
        # 50000 is the market price the engine read (the order's reference price).
        await client.create(SYMBOL, "market", "buy", Decimal("0.002"), Decimal(50000), CID)
    finally:
        await client.close()
    (sent,) = capture.to(CREATE, "POST")
    assert sent.fields["text"] == TEXT
    for cid in (CID, STOP_CID):  # "t-" then at most 28 characters, Gate's charset
        assert re.fullmatch(r"t-[0-9A-Za-z_.-]{1,26}", venue_for("gate").client_order_id(cid))
    assert (sent.fields["type"], sent.fields["amount"]) == ("market", "100")


# Which list the order is in, Gate's status, filled and finish_as; what tvdesk reads of it.
# The orders are made when each test runs: the lookup reads the finished list only back to
# shortly before the placing, so an order stamped at import would age out of it on a slow run.
STATES = {
    "open": ("open", ("open", "0", "open"), "open", "0"),
    "filled": ("finished", ("closed", "0.002", "filled"), "filled", "0.002"),
    "partly filled then canceled": (
        "finished",
        ("cancelled", "0.0008", "cancelled"),
        "canceled",
        "0.0008",
    ),
    "canceled": ("finished", ("cancelled", "0", "cancelled"), "canceled", "0"),
}


@pytest.mark.parametrize("state", list(STATES))
async def test_the_lookup_finds_the_order_in_every_state(state: str):
    where, as_listed, status, filled = STATES[state]
    placed_at = time.time()
    lists = {"open": [order("t-OTHER", "open", "0", "open", placed_at)], "finished": []}
    lists[where].append(order(TEXT, *as_listed, placed_at))
    client, _ = await gate(lists["open"], lists["finished"])
    try:
        found = await client.find(CID, SYMBOL, placed_at)
    finally:
        await client.close()
    assert found is not None
    got = order_state(found)
    assert (got.status, got.filled) == (status, Decimal(filled))
