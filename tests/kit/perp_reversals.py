"""Live reversals on a perpetual, shared by the OKX swap and Bybit linear reversal tests.

The contract (DESIGN.md "Perpetual futures"; tvdesk/brokers/reversal.py): a sell bigger than
tvdesk's long goes as two orders, the closing one reduce-only for exactly the size held
(the alert's own client order id), then the opening one, not reduce-only, for the rest
(another id derived from the same alert); each is sent exactly once, across a kill -9 too.
In hedge mode both name their position side (the long closed, the short opened).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.brokers.test_paper_process import export, wait_decided
from tests.kit.engine_proc import EngineProcess, Engines
from tests.kit.fake_exchange import FakeProcess
from tests.kit.perp_live import Venue, orders_sent, restart, send, start, wait_created

# What a 0.05 BTC long reversed by a 0.08 BTC sell sends, per exchange, in its own words.
Leg = dict[str, Any]


def _filled(engine: EngineProcess, alert_id: str) -> dict[str, Any]:
    record = wait_decided(engine, [alert_id])[alert_id]
    assert record["outcome"] == "filled", record["reason"]
    return record


def _legs(fake: FakeProcess, venue: Venue, alert_id: str) -> list[Leg]:
    """The alert's orders as the exchange took them, in order; the closing one first."""
    legs = [o for o in orders_sent(fake) if str(o[venue.id_field]).startswith(f"tvd{alert_id}")]
    ids = [leg[venue.id_field] for leg in legs]
    assert len(ids) == 2 and len(set(ids)) == 2, ids  # two orders, each sent once
    assert ids[0] == f"tvd{alert_id}"  # the closing order is the alert's own
    return legs


def _both_recorded(record: dict[str, Any]) -> None:
    sides = [(o["side"], Decimal(o["qty"]), o["status"]) for o in record["orders"]]
    assert sides == [
        ("sell", Decimal("0.05"), "filled"),
        ("sell", Decimal("0.03"), "filled"),
    ], sides


def a_long_reversed_by_a_bigger_sell(
    engines: Engines, fake: FakeProcess, venue: Venue, **settings: Any
) -> list[Leg]:
    engine = start(engines, fake, venue, **settings)
    _filled(engine, send(engine, venue, "long", side="buy", qty="0.05"))
    alert_id = send(engine, venue, "reverse", side="sell", qty="0.08")
    record = _filled(engine, alert_id)
    _both_recorded(record)
    return _legs(fake, venue, alert_id)


def a_long_synced_to_a_short(engines: Engines, fake: FakeProcess, venue: Venue) -> list[Leg]:
    engine = start(engines, fake, venue)
    _filled(engine, send(engine, venue, "long", side="buy", qty="0.05"))
    alert_id = send(
        engine,
        venue,
        "to-short",
        side=None,
        qty=None,
        market_position="short",
        position_size="-0.03",
    )
    _both_recorded(_filled(engine, alert_id))
    return _legs(fake, venue, alert_id)


def a_kill_9_between_the_legs_sends_each_once(
    engines: Engines, fake: FakeProcess, venue: Venue
) -> list[Leg]:
    engine = start(engines, fake, venue)
    _filled(engine, send(engine, venue, "long", side="buy", qty="0.05"))
    fake.fault(method="POST", path=venue.create, kind="hang")  # the closing leg: made, unanswered
    alert_id = send(engine, venue, "reverse", side="sell", qty="0.08")
    wait_created(fake, f"tvd{alert_id}", engine)
    engine.kill()
    assert export(engine)[alert_id]["outcome"] == "pending"

    restarted = restart(engines, fake, venue)
    _both_recorded(_filled(restarted, alert_id))
    return _legs(fake, venue, alert_id)
