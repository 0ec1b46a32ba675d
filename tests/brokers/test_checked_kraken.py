"""Kraken (spot), checked: tvdesk's order code through ccxt with the transport replaced.

Replies in Kraken's documented shapes (``AddOrder``, ``OpenOrders``, ``ClosedOrders``).
``cl_ord_id`` takes a UUID (long or short) or free text up to 18 characters: tvdesk sends a
UUID derived from its id, and finds the order by it in the open list (untriggered stop-loss
orders included) or the closed one (filled, cancelled, partly filled then cancelled).
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

SYMBOL = "BTC/USD"
ADD = "/0/private/AddOrder"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
KRAKEN_ID = venue_for("kraken").client_order_id(CID)


def order(cl_ord_id: str, status: str, vol_exec: str, kind: str = "limit") -> dict[str, Any]:
    """One order as Kraken lists it (``descr.pair`` is the altname)."""
    stop = kind == "stop-loss"
    return {
        "refid": None,
        "userref": 0,
        "cl_ord_id": cl_ord_id,
        "status": status,
        "opentm": time.time(),
        "closetm": time.time() if status != "open" else 0,
        "starttm": 0,
        "expiretm": 0,
        "descr": {
            "pair": "XBTUSD",
            "type": "sell" if stop else "buy",
            "ordertype": kind,
            "price": "45000.0" if stop else "49000.0",
            "price2": "0",
            "leverage": "none",
            "order": f"{'sell' if stop else 'buy'} 0.00200000 XBTUSD @ {kind} 49000.0",
            "close": "",
        },
        "vol": "0.00200000",
        "vol_exec": vol_exec,
        "cost": str(Decimal(vol_exec) * 49000),
        "fee": "0.10000",
        "price": "49000.0" if vol_exec != "0.00000000" else "0.00000",
        "stopprice": "45000.0" if stop else "0.00000",
        "limitprice": "0.00000",
        "misc": "",
        "oflags": "fciq",
    }


def answer_with(open_: dict[str, Any], closed: dict[str, Any]) -> Any:
    def answer(method: str, path: str, fields: dict[str, Any]) -> tuple[int, Any] | None:
        if path == ADD:
            descr = {"order": f"{fields['type']} {fields['volume']} XBTUSD @ {fields['ordertype']}"}
            return 200, {"error": [], "result": {"descr": descr, "txid": ["OUF4EM-FRGI2-MQMWZD"]}}
        wanted = fields.get("cl_ord_id")
        if path == "/0/private/OpenOrders":
            listed = {k: o for k, o in open_.items() if wanted in (None, o["cl_ord_id"])}
            return 200, {"error": [], "result": {"open": listed}}
        if path == "/0/private/ClosedOrders":
            listed = {k: o for k, o in closed.items() if wanted in (None, o["cl_ord_id"])}
            return 200, {"error": [], "result": {"closed": listed, "count": len(listed)}}
        return None

    return answer


async def kraken(open_: dict[str, Any], closed: dict[str, Any]) -> Any:
    market = spot_market(SYMBOL, "XXBTZUSD", info={"altname": "XBTUSD", "wsname": "XBT/USD"})
    options = {"marketsByAltname": {"XBTUSD": market}}
    return await captured("kraken", [market], answer_with(open_, closed), options=options)


async def test_the_client_order_id_is_a_uuid_in_cl_ord_id_and_a_market_buy_is_in_coins():
    client, capture = await kraken({}, {})
    try:
        await client.create(SYMBOL, "market", "buy", Decimal("0.002"), Decimal(50000), CID)
    finally:
        await client.close()
    (sent,) = capture.to(ADD)
    assert UUID.match(sent.fields["cl_ord_id"]) and sent.fields["cl_ord_id"] == KRAKEN_ID
    assert (sent.fields["ordertype"], sent.fields["volume"]) == ("market", "0.002")
    # A stop-loss of the same alert gets its own id, stable across restarts.
    assert venue_for("kraken").client_order_id(STOP_CID) not in (KRAKEN_ID, STOP_CID)


def states() -> dict[str, Any]:
    """The canned replies, made when a test runs (their times are "now": a lookup
    only searches orders made since the send, however late the test runs)."""
    return {
        "open": ("open", order(KRAKEN_ID, "open", "0.00000000"), "open", "0"),
        "filled": ("closed", order(KRAKEN_ID, "closed", "0.00200000"), "filled", "0.002"),
        "partly filled then canceled": (
            "closed",
            order(KRAKEN_ID, "canceled", "0.00080000"),
            "canceled",
            "0.0008",
        ),
        "canceled": ("closed", order(KRAKEN_ID, "canceled", "0.00000000"), "canceled", "0"),
        "stop-loss, untriggered": (
            "open",
            order(KRAKEN_ID, "open", "0.00000000", "stop-loss"),
            "open",
            "0",
        ),
    }


STATE_NAMES = list(states())


@pytest.mark.parametrize("state", STATE_NAMES)
async def test_the_lookup_finds_the_order_in_every_state(state: str):
    where, mine, status, filled = states()[state]
    other = {"OTHER-1": order("3f1c0a52-2c4e-4d8e-9b0e-000000000001", "open", "0.00000000")}
    lists = {"open": dict(other), "closed": dict(other)}
    lists[where]["OQCLML-BW3P3-BUCMWZ"] = mine
    client, capture = await kraken(lists["open"], lists["closed"])
    try:
        found = await client.find(CID, SYMBOL, time.time())
    finally:
        await client.close()
    assert found is not None
    assert all(s.fields.get("cl_ord_id") == KRAKEN_ID for s in capture.sent)
    got = order_state(found)
    assert (got.status, got.filled) == (status, Decimal(filled))
