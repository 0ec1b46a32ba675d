"""Stop-loss and take-profit: the protective orders an alert asks for, or why not.

They are separate trigger orders through ccxt's unified params (``stopLossPrice`` /
``takeProfitPrice``), placed once the entry has filled, for what it bought. Whatever the
exchange cannot do is refused with the reason, never dropped in silence.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tvdesk.brokers import ledger
from tvdesk.brokers.base import Refusal
from tvdesk.brokers.errors import PermanentError, Unsupported
from tvdesk.brokers.exchange import ExchangeClient, OrderState
from tvdesk.brokers.ledger import LiveOrder
from tvdesk.brokers.perps import order_params
from tvdesk.brokers.precision import conform
from tvdesk.brokers.sender import InDoubt, OrderSender
from tvdesk.core.decimals import plain
from tvdesk.core.events import Event
from tvdesk.core.ids import client_order_id
from tvdesk.store.errors import JournalError

# (attempt number of the client order id, label, ccxt param, ccxt "has" key, Binance types:
# spot, then USDⓈ-M, where ccxt sends a market stop as STOP_MARKET / TAKE_PROFIT_MARKET)
KINDS = (
    (1, "stop_loss", "stopLossPrice", "createStopLossOrder", ("STOP_LOSS", "STOP_MARKET")),
    (
        2,
        "take_profit",
        "takeProfitPrice",
        "createTakeProfitOrder",
        ("TAKE_PROFIT", "TAKE_PROFIT_MARKET"),
    ),
)


@dataclass(frozen=True)
class Protection:
    label: str  # stop_loss | take_profit
    order: LiveOrder | None
    params: dict[str, Any]
    refusal: str | None = None

    @property
    def words(self) -> str:
        return self.label.replace("_", "-")


@dataclass
class Protected:
    """What placing an alert's protective orders adds to what is recorded for it."""

    trail: list[tuple[str, bool, str]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    writes: list[Callable[[sqlite3.Connection], Any]] = field(default_factory=list)
    summary: str = ""  # for the alert's reason: "stop-loss sell 0.001 @ 45000 placed; …"


async def protect(
    sender: OrderSender,
    client: ExchangeClient,
    entry: LiveOrder,
    state: OrderState,
    stop_loss: Decimal | None,
    take_profit: Decimal | None,
) -> Protected:
    """Place the stop-loss and take-profit an alert asked for, once its entry filled."""
    done = Protected()
    if stop_loss is None and take_profit is None:
        return done
    parts = []
    for p in plan(client, entry, state, stop_loss, take_profit):
        if p.order is None:
            done.trail.append(("protect", False, f"{p.words} not placed: {p.refusal}"))
            parts.append(f"{p.words} not placed: {p.refusal}")
            continue
        cid = p.order.client_order_id
        try:
            placed, notes = await sender.place(client, p.order, p.params)
        except (InDoubt, PermanentError, JournalError) as exc:
            # JournalError: its submitting row could not be written, so it was never sent.
            status = "unknown" if isinstance(exc, InDoubt) else "rejected"
            done.writes.append(ledger.marker(cid, status, str(exc)))
            done.trail.append(("protect", False, f"{p.words} not placed: {exc}"))
            parts.append(f"{p.words} not placed: {exc}")
            continue
        now = sender.clock.time()
        done.trail.extend(("protect", True, note) for note in notes)
        done.trail.append(("protect", True, ledger.describe(p.order, placed, client.id)))
        done.events.extend(ledger.order_events(p.order, placed, now))
        done.writes.append(lambda c, cid=cid, s=placed, t=now: ledger.record(c, cid, s, t))
        price = plain(p.order.price or Decimal(0))
        parts.append(f"{p.words} {p.order.side} {plain(p.order.qty)} @ {price} placed")
    done.summary = "; ".join(parts)
    return done


def sibling(cid: str) -> str:
    """The other protective order of the same alert (stop-loss <-> take-profit)."""
    return cid[:-1] + ("2" if cid.endswith("1") else "1")


def is_protective(cid: str, alert_id: str) -> bool:
    return cid in (client_order_id(alert_id, 1), client_order_id(alert_id, 2))


def plan(
    client: ExchangeClient,
    entry: LiveOrder,
    state: OrderState,
    stop_loss: Decimal | None,
    take_profit: Decimal | None,
) -> list[Protection]:
    """One ``Protection`` per price asked for: an order to place, or a refusal."""
    market = client.market(entry.symbol) or {}
    fill_price = state.average or entry.price
    base = market.get("base", "")
    # What the entry bought, less a fee taken in coins: more cannot be sold.
    fee_in_coins = state.fee if state.fee is not None and state.fee_currency == base else 0
    held = state.filled - fee_in_coins
    plans = []
    for attempt, label, param, has_key, binance_types in KINDS:
        binance_type = binance_types[1] if market.get("contract") else binance_types[0]
        trigger = stop_loss if label == "stop_loss" else take_profit
        if trigger is None:
            continue
        words = label.replace("_", "-")

        def refuse(why: str, label: str = label) -> Protection:
            return Protection(label, None, {}, why)

        if market.get("spot") and entry.side == "sell":
            plans.append(refuse(f"a {words} protects a position, and a spot sell opens none"))
            continue
        if not client.api.has.get(has_key):
            plans.append(refuse(f"{client.id} has no {words} orders in ccxt"))
            continue
        cid = client_order_id(entry.alert_id, attempt)
        try:  # where this exchange takes a trigger order's client order id (or why not)
            id_params = client.venue.trigger_params(cid)
        except Unsupported as exc:
            plans.append(refuse(str(exc)))
            continue
        types = (market.get("info") or {}).get("orderTypes")
        if isinstance(types, list) and binance_type not in types:
            plans.append(refuse(f"{client.id} offers no {binance_type} orders for {entry.symbol}"))
            continue
        if fill_price is not None and not _on_the_right_side(
            label, entry.side, trigger, fill_price
        ):
            where = "below" if (label == "stop_loss") == (entry.side == "buy") else "above"
            plans.append(
                refuse(
                    f"{words} {plain(trigger)} must be {where} the fill price "
                    f"{plain(fill_price)}, or it would trigger at once"
                )
            )
            continue
        side = "sell" if entry.side == "buy" else "buy"
        try:
            qty, _, _ = conform(client, market, side, "market", held, trigger)
        except Refusal as exc:
            plans.append(refuse(str(exc)))
            continue
        params: dict[str, Any] = {param: float(trigger), **id_params}
        try:  # it only ever closes the position: reduce-only, on its side in hedge mode
            params.update(order_params(client, entry.symbol, side, reduce_only=True))
        except Refusal as exc:
            plans.append(refuse(str(exc)))
            continue
        order = LiveOrder(
            cid,
            entry.alert_id,
            entry.exchange,
            entry.symbol,
            side,
            label,
            qty,
            trigger,
        )
        plans.append(Protection(label, order, params))
    return plans


def _on_the_right_side(label: str, side: str, trigger: Decimal, fill: Decimal) -> bool:
    below = (label == "stop_loss") == (side == "buy")
    return trigger < fill if below else trigger > fill
