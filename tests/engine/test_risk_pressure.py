"""Risk limits hold when many alerts arrive at once (the worker checks them serially)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.kit.paper import PaperDesk, paper_settings
from tvdesk.config.schema import SymbolRule

D = Decimal


async def burst(desk: PaperDesk, n: int, **fields: object) -> list[str]:
    replies = await asyncio.gather(*(desk.post(**fields) for _ in range(n)))
    assert all(status == 200 for status, _ in replies), replies
    ids = [reply["alert_id"] for _, reply in replies]
    await asyncio.gather(*(desk.outcome(alert_id) for alert_id in ids))
    return ids


async def test_fifty_concurrent_alerts_against_ten_orders_a_minute_execute_exactly_ten(
    tmp_path: Path,
) -> None:
    async with PaperDesk(tmp_path, paper_settings(max_orders_per_minute=10)) as desk:
        ids = await burst(desk, 50, qty="0.001")
        outcomes = [desk.decided[i].outcome for i in ids]
        assert outcomes.count("filled") == 10
        refused = [desk.decided[i].reason for i in ids if desk.decided[i].outcome == "rejected"]
        assert len(refused) == 40
        assert all("max_orders_per_minute 10" in reason for reason in refused), refused[0]


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    qtys=st.lists(st.sampled_from(["0.001", "0.002", "0.005"]), min_size=5, max_size=25),
    limit=st.sampled_from([D("100"), D("250"), D("400")]),
)
def test_concurrent_alerts_never_push_a_position_past_max_position_notional(
    tmp_path_factory, qtys: list[str], limit: Decimal
) -> None:
    async def run() -> None:
        data = tmp_path_factory.mktemp("pressure")
        risk = paper_settings(max_position_notional=limit, max_orders_per_minute=0, max_notional=0)
        async with PaperDesk(data, risk) as desk:
            replies = await asyncio.gather(*(desk.post(qty=q, price="50000") for q in qtys))
            ids = [reply["alert_id"] for _, reply in replies]
            await asyncio.gather(*(desk.outcome(i) for i in ids))
            position = await desk.position()
            held = position["qty"] if position else D(0)
            assert held * D("50000") <= limit
            filled = [i for i in ids if desk.decided[i].outcome == "filled"]
            assert held == sum((D(q) for q, i in zip(qtys, ids, strict=True) if i in filled), D(0))

    asyncio.run(run())


async def test_a_perpetual_ticker_maps_to_the_linear_swap_when_trading_swaps(
    tmp_path: Path,
) -> None:
    base = paper_settings(max_notional=0)
    swap = replace(base, exchange=replace(base.exchange, market_type="swap"))
    async with PaperDesk(tmp_path, swap) as desk:
        decided = await desk.trade(symbol="BINANCE:BTCUSDT.P", qty="0.001")
        assert decided.outcome == "filled"
        record = desk.export()[decided.alert_id]
        assert record["orders"][0]["symbol"] == "BTC/USDT:USDT"
        maps = [e["detail"] for e in record["trail"] if e["step"] == "map"]
        assert maps == ["BINANCE:BTCUSDT.P → BTC/USDT:USDT ×1.0 (auto)"]


async def test_a_perpetual_ticker_is_never_traded_as_spot(tmp_path: Path) -> None:
    async with PaperDesk(tmp_path) as desk:
        decided = await desk.trade(symbol="BINANCE:BTCUSDT.P", qty="0.001")
        assert decided.outcome == "rejected"
        assert "perpetual" in decided.reason


async def test_a_symbol_map_row_with_a_multiplier_scales_the_quantity(tmp_path: Path) -> None:
    base = paper_settings()
    rule = SymbolRule(tv="ETHUSDT", exchange="binance", symbol="ETH/USDT", qty_multiplier=D("2"))
    async with PaperDesk(tmp_path, replace(base, symbols=[rule])) as desk:
        decided = await desk.trade(symbol="BINANCE:ETHUSDT", qty="0.1", price="3000")
        assert decided.outcome == "filled"
        record = desk.export()[decided.alert_id]
        assert D(record["orders"][0]["qty"]) == D("0.2")
        assert "BINANCE:ETHUSDT → ETH/USDT ×2.0 (table)" in [e["detail"] for e in record["trail"]]


async def test_a_strategy_alert_with_position_size_heals_a_missed_alert(tmp_path: Path) -> None:
    async with PaperDesk(tmp_path, paper_settings(max_notional=0)) as desk:
        # The strategy bought twice (0.01 each); tvdesk missed the second alert.
        await desk.trade(qty="0.01", price="50000")
        # Its next alert carries the position it believes in: 0.03 after a third buy.
        decided = await desk.trade(
            qty=None, side="buy", position_size="0.03", market_position="long", price="50000"
        )
        assert decided.outcome == "filled"
        record = desk.export()[decided.alert_id]
        assert "target 0.03, held 0.01 → buy 0.02" in [e["detail"] for e in record["trail"]]
        assert (await desk.position())["qty"] == D("0.03")
