"""Deciding a new alert, one step at a time: map the symbol, price it, size it, fit it to
the market's precision, check the risk limits. An order decided on reserves its place in
the limits and is handed back as a ``Submit``: the worker sends it (``engine.submits``).
Each step adds a line to the alert's trail; the first step that refuses decides the
alert. An alert with the action cancel is mapped, then takes tvdesk's own resting orders
on that market off the book."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from tvdesk.brokers.base import Broker, OrderRequest, Refusal, nothing_to_cancel, resting_text
from tvdesk.config.schema import Settings
from tvdesk.core.alert.fields import Alert
from tvdesk.core.clock import Clock
from tvdesk.core.ids import client_order_id
from tvdesk.core.risk import OrderIntent, RiskDecision, RiskLimits, check, kill_switch
from tvdesk.core.sizing import SizingError, size_order
from tvdesk.core.symbols import Mapping, MapRule, Unmapped, normalise, pick_exchange, resolve
from tvdesk.engine.counters import RiskCounters, funds_for
from tvdesk.engine.derivatives import PerpRefused, in_coins, perp_terms
from tvdesk.engine.job import ORIGIN_FLATTEN, Decision, Job, Trail
from tvdesk.engine.pricing import price_order
from tvdesk.engine.submits import Submit


async def decide_steps(
    job: Job,
    trail: Trail,
    settings: Settings,
    broker: Broker,
    counters: RiskCounters,
    clock: Clock,
) -> Decision | Submit:
    """The alert's decision, or the order it decided on (``Submit``: sent by the worker)."""
    alert = job.parsed()
    # Privilege is the journal's origin, which only the engine writes (flatten); never the
    # client, a header or a field: those are a request's to choose.
    internal = job.origin == ORIGIN_FLATTEN
    # The kill switch's own flatten is how the switch protects: no limit may refuse it.
    limits = RiskLimits() if internal else _limits(settings)
    # The kill switch before anything else: with it on, that is the reason, never a
    # lesser one (an unmapped symbol, a price, "nothing to sell").
    halted = kill_switch(limits)
    # A cancel only takes tvdesk's own orders off the book: what a halted trader wants.
    if halted is not None and alert.side != "cancel":
        trail.add("risk", False, halted.reason)
        return Decision("rejected", halted.reason)

    try:
        # Routing to the alert's chain found it already (the same settings and broker).
        mapping = job.routed(settings, broker)
        mapping = mapping or await map_symbol(alert, settings, internal, broker)
    except Unmapped as exc:
        trail.add("map", False, str(exc))
        return Decision("rejected", str(exc))
    trail.add("map", True, mapping.describe(alert.symbol))
    if alert.side == "cancel":
        return await cancel_steps(job, alert, mapping, trail, broker, clock.time(), halted)
    # ``price`` is what the order goes at; ``value`` what sizing and every limit see (live:
    # the exchange's price, never the alert's word).
    priced = await price_order(alert, mapping, broker, settings, trail, internal=internal)
    if isinstance(priced, Decision):
        return priced
    price, value = priced.price, priced.value

    # Less what orders decided but not yet settled will spend (engine.counters).
    holdings = counters.unreserved(await broker.holdings(mapping), broker.mode, mapping)
    try:
        alert = await in_coins(alert, mapping, broker, trail)  # qty_unit contracts (perps)
        sizing = size_order(
            alert,
            multiplier=mapping.qty_multiplier,
            price=value,
            quote_free=holdings.quote_free,
            base_free=holdings.base_free,
            position_qty=holdings.position_qty,
            base=mapping.base,
            quote=mapping.quote,
            spot=":" not in mapping.symbol,
            buy_cost=holdings.buy_cost,
            base_reserved=holdings.base_reserved,
        )
    except SizingError as exc:
        trail.add("size", False, str(exc))
        return Decision("rejected", str(exc))
    for note in sizing.notes:
        trail.add("size", True, note)
    try:
        qty, value, note = await broker.conform(mapping, sizing.qty, value)
    except Refusal as exc:
        trail.add("precision", False, str(exc))
        return Decision("rejected", str(exc))
    trail.add("precision", True, note)

    if alert.test and value is None and not internal:
        limits = replace(limits, max_notional=Decimal(0), max_position_notional=Decimal(0))
        trail.add("risk", True, "test alert without a price: notional limits not checked")
    now = clock.time()
    intent = OrderIntent(mapping.symbol, mapping.quote, sizing.side, qty, value, alert.confidence)
    state = counters.risk_state(mapping.symbol, holdings.position_qty, now, broker.mode)
    verdict = check(intent, limits, state, now)
    if not verdict.ok:
        trail.add("risk", False, verdict.reason)
        return Decision("rejected", verdict.reason)
    trail.add("risk", True, "within the risk limits")
    try:
        terms = perp_terms(
            alert,
            mapping,
            settings,
            side=sizing.side,
            qty=qty,
            position_qty=holdings.position_qty,
            internal=internal,
            live=broker.mode == "live",
        )
    except PerpRefused as exc:
        trail.add("risk", False, str(exc))
        return Decision("rejected", str(exc))
    if terms.closes:
        # Two orders: the limits on order counts see the opening one placed after the
        # closing one (the sizes were checked above as the one trade they are).
        verdict = check(intent, limits, replace(state, orders_at=(*state.orders_at, now)), now)
        if not verdict.ok:
            reason = f"{verdict.reason} (a reversal places two orders)"
            trail.add("risk", False, reason)
            return Decision("rejected", reason)
    if terms.reduce_only or terms.closes or terms.leverage is not None or terms.margin_mode:
        trail.add("risk", True, terms.describe())

    if alert.test:
        reason = f"would {sizing.side} {qty} {mapping.symbol} on {mapping.exchange} (test)"
        trail.add("submit", True, reason)
        return Decision("dry_run", reason)
    request = OrderRequest(
        alert_id=job.alert_id,
        client_order_id=client_order_id(job.alert_id),
        mapping=mapping,
        side=sizing.side,
        order_type=alert.order_type,
        qty=qty,
        price=price,
        stop_loss=alert.stop_loss,
        take_profit=alert.take_profit,
        reduce_only=terms.reduce_only,
        leverage=terms.leverage,
        margin_mode=terms.margin_mode,
        closes=terms.closes,
    )
    # Decided: the order holds its place in the limits while it is sent (engine.submits).
    funds = funds_for(
        mapping,
        sizing.side,
        qty - terms.closes,  # a reversal's closing order holds no margin
        value,
        holdings.buy_cost,
        leverage=terms.leverage,
        reduce_only=terms.reduce_only,
    )
    held = counters.reserve(mapping, broker.mode, now, funds)
    return Submit(request, broker, held, now)


async def cancel_steps(
    job: Job,
    alert: Alert,
    mapping: Mapping,
    trail: Trail,
    broker: Broker,
    now: float,
    halted: RiskDecision | None,
) -> Decision:
    """Cancel tvdesk's resting orders on the alert's market (a test alert: say which)."""
    if halted is not None:
        why = f"{halted.reason}; a cancel only takes tvdesk's orders off the book, so it goes ahead"
    else:
        why = "a cancel places no order: no risk limit applies"
    trail.add("risk", True, why)
    try:
        if alert.test:
            resting = await broker.resting(mapping, now)
            if not resting:
                reason = nothing_to_cancel(mapping)
                trail.add("cancel", False, reason)
                return Decision("rejected", reason)
            reason = f"would cancel {resting_text(mapping, resting)} (test)"
            trail.add("cancel", True, reason)
            return Decision("dry_run", reason)
        execution = await broker.cancel_resting(job.alert_id, mapping, now)
    except Refusal as exc:
        trail.add("cancel", False, str(exc))
        return Decision("rejected", str(exc))
    for step, ok, detail in execution.trail:
        trail.add(step, ok, detail)
    trail.add("cancel", execution.outcome == "canceled", execution.reason)
    return Decision(execution.outcome, execution.reason, execution, broker, mapping.exchange)


async def map_symbol(alert: Alert, settings: Settings, internal: bool, broker: Broker) -> Mapping:
    """The market ``alert`` trades on: the symbol map first, then the exchange's markets."""
    if internal:
        rules = [MapRule(alert.symbol, alert.exchange or "", alert.symbol)]
        return resolve(
            alert.symbol,
            exchange=alert.exchange,
            default_exchange=settings.exchange.default,
            rules=rules,
            auto=False,
        )
    auto_map = settings.exchange.auto_map
    auto = auto_map == "always" or (auto_map == "paper" and settings.mode == "paper")
    rules = [
        MapRule(r.tv, r.exchange, r.symbol, Decimal(r.qty_multiplier), r.enabled)
        for r in settings.symbols
    ]
    # Refuses an exchange the alert (field or ticker prefix) names but may not go to.
    exchange = pick_exchange(
        alert.symbol,
        exchange=alert.exchange,
        default_exchange=settings.exchange.default,
        rules=rules,
    )
    listed = any(
        normalise(r.tv).key == normalise(alert.symbol).key and r.exchange == exchange for r in rules
    )
    # The exchange's own markets, when the broker has them (live), resolve what the
    # table doesn't list; a table row never waits for them.
    markets = None if listed else await broker.markets(exchange)
    return resolve(
        alert.symbol,
        exchange=alert.exchange,
        default_exchange=settings.exchange.default,
        rules=rules,
        auto=auto,
        market_type=settings.exchange.market_type,
        markets=markets,
    )


def _limits(settings: Settings) -> RiskLimits:
    r = settings.risk
    return RiskLimits(
        kill_switch=r.kill_switch,
        max_qty=Decimal(r.max_qty),
        max_notional=Decimal(r.max_notional),
        max_position_notional=Decimal(r.max_position_notional),
        max_orders_per_minute=r.max_orders_per_minute,
        max_orders_per_day=r.max_orders_per_day,
        daily_loss_limit=Decimal(r.daily_loss_limit),
        min_confidence=Decimal(r.min_confidence),
        cooldown_s=r.cooldown_s,
    )
