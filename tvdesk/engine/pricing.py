"""The price step of a decision: what the order goes at, and what the limits value it at.

Live, both come from the exchange (``Broker.reference_price``, cached for a burst): an
alert's ``price`` never makes an order look cheaper than it is, and an alert whose price is
far from the market (``risk.max_price_deviation_pct``) is refused naming both prices. When
the exchange cannot say, a live order is not placed: it is never valued at the alert's word.
Paper fills at the alert's price, offline; with market data (``[paper] price_source =
"market"``) it applies the same check, so a template that would be refused live is refused
in paper first. An alert with no price (TradingView's default message, PineConnector, an
exit) fills at the market price when paper has one, else at the last price paper saw for
that market (its last fill there); with neither it is refused naming the missing price.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from tvdesk.brokers.base import Broker, Refusal, Unavailable
from tvdesk.config.schema import Settings
from tvdesk.core.alert.fields import Alert
from tvdesk.core.decimals import plain
from tvdesk.core.pricing import deviation_pct, deviation_refusal, grouped, limit_value
from tvdesk.core.symbols import Mapping
from tvdesk.engine.job import Decision, Trail


@dataclass(frozen=True)
class Priced:
    price: Decimal | None  # the limit price, or the reference price of a market order
    value: Decimal | None  # what sizing and every risk limit value one unit at


async def price_order(
    alert: Alert,
    mapping: Mapping,
    broker: Broker,
    settings: Settings,
    trail: Trail,
    *,
    internal: bool = False,
) -> Priced | Decision:
    """The order's prices, or the decision that refuses it (with its trail line)."""
    live = broker.mode == "live"
    where = f"{mapping.exchange} {mapping.symbol}"
    missing = f"{mapping.exchange} reports no price for {mapping.symbol}"
    if not live and settings.paper.price_source != "market":
        missing = '[paper] price_source = "alert"'
    try:
        market = await broker.reference_price(mapping)
    except (Refusal, Unavailable) as exc:
        market, missing = None, str(exc)
        if live:
            outcome = "rejected" if isinstance(exc, Refusal) else "failed"
            return _refuse(trail, outcome, f"{exc}: live orders are valued at the market price")
    if market is None:
        if live:
            return _refuse(
                trail, "rejected", f"{missing}: live orders are valued at the market price"
            )
        from_market = settings.paper.price_source == "market"
        return await _paper_offline(alert, mapping, broker, trail, internal, missing, from_market)

    if alert.price is not None:
        max_pct = Decimal(settings.risk.max_price_deviation_pct)
        refusal = deviation_refusal(
            alert.price, market, max_pct, exchange=mapping.exchange, symbol=mapping.symbol
        )
        if refusal is not None:
            return _refuse(trail, "rejected", refusal)
        off = deviation_pct(alert.price, market).quantize(Decimal("0.01"))
        said = (
            f"alert price {grouped(alert.price)} is {off}% from the market price "
            f"{grouped(market)} on {where}"
        )
    else:
        said = f"no price in the alert: {plain(market)} from {mapping.exchange}"
    if alert.order_type == "limit" and alert.price is not None:
        value = limit_value(alert.price, market) if live else alert.price
        trail.add("price", True, f"{said}; the limit order is valued at {grouped(value)}")
        return Priced(alert.price, value)
    if live:
        trail.add("price", True, said if alert.price is None else f"{said}; valued at the market")
        return Priced(market, market)
    price = alert.price if alert.price is not None else market
    trail.add("price", True, f"{said}; paper fills at {grouped(price)}")
    return Priced(price, price)


async def _paper_offline(
    alert: Alert,
    mapping: Mapping,
    broker: Broker,
    trail: Trail,
    internal: bool,
    why: str,
    from_market: bool,
) -> Priced | Decision:
    if alert.price is not None:
        trail.add(
            "price",
            True,
            f"paper: no market price ({why}): the alert's price "
            f"{grouped(alert.price)} is not checked against the market",
        )
        return Priced(alert.price, alert.price)
    where = f"{mapping.exchange} {mapping.symbol}"
    # The kill switch's flatten carries no price by design; an alert simply has none.
    asked = "flatten (no price of its own)" if internal else "no price in the alert"
    # With price_source = "alert" that is how paper works; with "market" the exchange
    # could not say, and the trail names why.
    unread = f" (no market price: {why})" if from_market else ""
    fix = "" if from_market else ' (or set [paper] price_source = "market")'
    last = await broker.market_price(mapping)
    if last is not None:
        trail.add(
            "price",
            True,
            f"{asked}: paper fills at the last price seen for {where}, {grouped(last)}{unread}",
        )
        return Priced(last, last)
    if alert.test:
        # A dry run reaches no exchange: it needs no price to fill at.
        trail.add("price", True, f"{asked}, and none seen yet for {where}: a test needs none")
        return Priced(None, None)
    return _refuse(
        trail,
        "rejected",
        f"{asked}, and paper has seen none for {where} yet{unread}: paper fills at the "
        f"alert's price, or at the last price it saw for that market. Add "
        f'"price": {{{{close}}}} to the alert{fix}',
    )


def _refuse(trail: Trail, outcome: str, reason: str) -> Decision:
    trail.add("price", False, reason)
    return Decision(outcome, reason)
