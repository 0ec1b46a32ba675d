"""The worker on the paper broker: what a trader sees after each alert."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from tests.engine.test_daily_loss import ShiftedClock
from tests.kit.paper import PaperDesk, paper_settings
from tvdesk.core.events import AlertDecided, KillSwitchChanged, OrderFilled, OrderSubmitted

D = Decimal


async def test_a_market_buy_fills_with_slippage_against_the_trader_and_a_quote_fee(
    tmp_path: Path,
) -> None:
    async with PaperDesk(tmp_path) as desk:
        decided = await desk.trade(qty="0.01", price="50000")
        assert decided.outcome == "filled"
        record = desk.export()[decided.alert_id]
        (order,) = record["orders"]
        # 5 bps slippage on a buy raises the price: 50000 * 1.0005.
        assert D(order["avg_price"]) == D("50025")
        assert order["status"] == "filled" and order["mode"] == "paper"
        assert D(order["filled"]) == D("0.01")
        assert order["client_order_id"] == f"tvd{decided.alert_id}"
        balances = await desk.balances()
        # 10000 - 0.01 * 50025 - fee (0.1 % of 500.25, in USDT)
        assert balances["USDT"] == D("10000") - D("500.25") - D("0.50025")
        assert balances["BTC"] == D("0.01")
        position = await desk.position()
        assert position["qty"] == D("0.01")
        assert position["avg_price"] == (D("500.25") + D("0.50025")) / D("0.01")
        assert "fee 0.50025" in record["reason"].replace("0.5002500", "0.50025")
        for step in ("map", "risk", "submit", "record"):
            assert step in record["latency_ms"], record["latency_ms"]
        kinds = [type(e) for e in desk.events]
        assert OrderSubmitted in kinds and OrderFilled in kinds


async def test_a_stop_loss_and_take_profit_on_paper_are_reported_as_not_placed(
    tmp_path: Path,
) -> None:
    async with PaperDesk(tmp_path) as desk:
        decided = await desk.trade(
            qty="0.01", price="50000", stop_loss="49000", take_profit="52000.50"
        )
        assert decided.outcome == "filled"
        why = (
            "stop-loss 49000 and take-profit 52000.5 not placed: paper trading does not "
            "simulate protective orders (live mode places them on the exchange)"
        )
        assert decided.reason.endswith(f"; {why}")
        record = desk.export()[decided.alert_id]
        assert {"step": "protect", "ok": False, "detail": why} in [
            {k: t[k] for k in ("step", "ok", "detail")} for t in record["trail"]
        ]
        assert len(record["orders"]) == 1  # the entry only
        plain = await desk.trade(qty="0.01", price="50000")
        assert "protect" not in [t["step"] for t in desk.export()[plain.alert_id]["trail"]]


async def test_alerts_are_decided_in_the_order_they_arrived(tmp_path: Path) -> None:
    async with PaperDesk(tmp_path) as desk:
        replies = await asyncio.gather(*(desk.post(qty="0.001") for _ in range(30)))
        assert all(status == 200 for status, _ in replies)
        for _, reply in replies:
            await desk.outcome(reply["alert_id"])
        arrived = list(desk.export())  # the journal's arrival order
        decided = [e.alert_id for e in desk.events if isinstance(e, AlertDecided)]
        assert decided == arrived


async def test_one_client_ref_sent_ten_times_at_once_is_accepted_once(tmp_path: Path) -> None:
    async with PaperDesk(tmp_path) as desk:
        replies = await asyncio.gather(
            *(desk.post(qty="0.001", client_ref="same-bar-close") for _ in range(10))
        )
        codes = sorted(status for status, _ in replies)
        assert codes == [200] + [409] * 9
        (first,) = [reply["alert_id"] for status, reply in replies if status == 200]
        assert {reply["alert_id"] for status, reply in replies if status == 409} == {first}
        assert (await desk.outcome(first)).outcome == "filled"
        accepted = [r for r in desk.export().values() if r["status"] == "accepted"]
        assert [r["alert_id"] for r in accepted] == [first]


async def test_two_engines_in_one_process_share_nothing(tmp_path: Path) -> None:
    async with (
        PaperDesk(tmp_path / "one") as one,
        PaperDesk(tmp_path / "two", paper_settings(kill_switch=True)) as two,
    ):
        filled = await one.trade(qty="0.01", price="50000")
        refused = await two.trade(qty="0.01", price="50000")
        assert (filled.outcome, refused.outcome) == ("filled", "rejected")
        assert list(one.export()) == [filled.alert_id]
        assert list(two.export()) == [refused.alert_id]
        assert (await one.balances())["BTC"] == D("0.01")
        assert "BTC" not in await two.balances() or (await two.balances())["BTC"] == 0
        assert one.decided.keys() == {filled.alert_id}
        assert two.decided.keys() == {refused.alert_id}


async def test_a_limit_alerts_price_crosses_no_other_resting_limit(tmp_path: Path) -> None:
    async with PaperDesk(tmp_path) as desk:
        first = await desk.trade(qty="0.01", price="48000", order_type="limit")
        second = await desk.trade(qty="0.01", price="45000", order_type="limit")
        assert (first.outcome, second.outcome) == ("open", "open")
        assert desk.export()[first.alert_id]["outcome"] == "open"  # nobody traded at 45000
        crossing = await desk.trade(qty="0.001", price="47000")  # a market print at 47000
        assert crossing.outcome == "filled"
        assert desk.export()[first.alert_id]["outcome"] == "filled"
        assert desk.export()[second.alert_id]["outcome"] == "open"


async def test_qty_pct_100_buys_with_the_whole_balance(tmp_path: Path) -> None:
    async with PaperDesk(tmp_path, paper_settings(max_notional=0)) as desk:
        decided = await desk.trade(qty=None, qty_pct="100", price="50000")
        assert decided.outcome == "filled", decided.reason
        usdt = (await desk.balances())["USDT"]
        assert D(0) <= usdt < D("0.000001")


async def test_amounts_read_as_numbers_not_exponents(tmp_path: Path) -> None:
    async with PaperDesk(tmp_path) as desk:
        decided = await desk.trade(qty="1e1", price="1")
        assert decided.reason == "paper buy 10 BTC/USDT filled @ 1.0005, fee 0.010005 USDT"


async def test_a_fee_edit_applies_to_the_next_fill_and_releases_reservations_exactly(
    tmp_path: Path,
) -> None:
    clock = ShiftedClock()
    async with PaperDesk(tmp_path, clock=clock) as desk:
        resting = await desk.trade(qty="0.01", price="40000", order_type="limit")
        assert resting.outcome == "open"
        settings = desk.engine.settings
        desk.engine.update_settings(
            replace(settings, paper=replace(settings.paper, fee_rate=D(0), slippage_bps=D(0)))
        )
        filled = await desk.trade(qty="0.001", price="50000")
        assert filled.reason == "paper buy 0.001 BTC/USDT filled @ 50000, fee 0 USDT"

        clock.offset += 8 * 86_400  # past the resting order's week
        await desk.trade(qty="0.001", price="50000")

        expired = desk.export()[resting.alert_id]
        assert expired["outcome"] == "failed"
        assert expired["reason"] == (
            "limit buy 0.01 BTC/USDT @ 40000 expired unfilled after 7 days (paper): "
            "its funds are free again"
        )
        assert expired["orders"][0]["status"] == "canceled"
        assert (await desk.balances())["USDT"] == D("10000") - 2 * D("50")
        rows = await desk.engine.queries.balances("paper")
        assert {r["currency"]: D(r["used"]) for r in rows}["USDT"] == 0


async def test_position_sync_counts_coins_a_resting_sell_holds(tmp_path: Path) -> None:
    async with PaperDesk(tmp_path) as desk:
        await desk.trade(qty="0.02", price="40000")
        held = (await desk.position())["qty"]
        resting = await desk.trade(side="sell", qty="0.01", price="60000", order_type="limit")
        assert resting.outcome == "open"

        again = await desk.trade(
            side=None, qty=None, market_position="long", position_size=str(held), price="40000"
        )
        assert again.outcome == "rejected"  # already there: the resting sell's coins count
        assert again.reason.startswith(f"target {held}, held {held}: already there")

        flat = await desk.trade(
            side=None, qty=None, market_position="flat", position_size="0", price="40000"
        )
        assert flat.outcome == "filled", flat.reason
        trail = [t["detail"] for t in desk.export()[flat.alert_id]["trail"]]
        assert any("0.01 BTC is held by a resting sell order" in t for t in trail), trail
        assert (await desk.position())["qty"] == D("0.01")  # the resting sell's part remains


async def test_a_notional_at_max_notional_is_allowed(tmp_path: Path) -> None:
    async with PaperDesk(tmp_path, paper_settings(max_notional=D("500"))) as desk:
        decided = await desk.trade(qty=None, notional="500", price="3")
        assert decided.outcome == "filled", decided.reason


async def test_selling_realises_average_cost_pnl_net_of_fees(tmp_path: Path) -> None:
    async with PaperDesk(tmp_path) as desk:
        await desk.trade(side="buy", qty="0.01", price="50000")
        decided = await desk.trade(side="sell", qty="0.01", price="51000")
        assert decided.outcome == "filled"
        position = await desk.position()
        assert position["qty"] == 0
        sell_price = D("51000") * (1 - D("0.0005"))
        sell_fee = D("0.01") * sell_price * D("0.001")
        cost = (D("500.25") + D("0.50025")) / D("0.01")
        assert position["realized_pnl"] == (sell_price - cost) * D("0.01") - sell_fee


async def test_an_order_the_balance_cannot_pay_for_is_rejected_with_the_numbers(
    tmp_path: Path,
) -> None:
    async with PaperDesk(tmp_path, paper_settings(max_notional=0)) as desk:
        decided = await desk.trade(qty="1", price="50000")
        assert decided.outcome == "rejected"
        assert "insufficient USDT" in decided.reason
        assert "10,000.00" in decided.reason
        assert desk.export()[decided.alert_id]["orders"] == []
        assert (await desk.balances())["USDT"] == D("10000")


async def test_max_notional_rejects_with_the_limit_its_value_and_the_order_value(
    tmp_path: Path,
) -> None:
    async with PaperDesk(tmp_path) as desk:
        decided = await desk.trade(qty="0.025", price="50000")
        assert decided.outcome == "rejected"
        assert decided.reason == "order notional 1,250.00 USDT exceeds max_notional 1,000.00"
        assert desk.export()[decided.alert_id]["orders"] == []


async def test_a_resting_limit_fills_when_a_later_price_crosses_it(tmp_path: Path) -> None:
    async with PaperDesk(tmp_path) as desk:
        limit = await desk.trade(qty="0.01", price="49000", order_type="limit")
        assert limit.outcome == "open"
        reserved = D("0.01") * D("49000") * D("1.001")
        assert (await desk.balances())["USDT"] == D("10000") - reserved
        # A later alert at a price above the limit leaves it resting...
        await desk.trade(side="sell", qty="0.001", price="49500", symbol="ETHUSDT")
        assert desk.export()[limit.alert_id]["outcome"] == "open"
        # ...one at or below it fills it, at the limit price.
        crossing = await desk.trade(qty="0.001", price="48900")
        assert crossing.outcome == "filled"
        record = desk.export()[limit.alert_id]
        assert record["outcome"] == "filled"
        assert D(record["orders"][0]["avg_price"]) == D("49000")
        assert desk.decided[limit.alert_id].outcome == "filled"
        position = await desk.position()
        assert position["qty"] == D("0.011")


async def test_the_kill_switch_refuses_the_next_alert_and_resume_lifts_it(tmp_path: Path) -> None:
    async with PaperDesk(tmp_path) as desk:
        desk.engine.set_kill_switch(True, "test")
        refused = await desk.trade()
        assert refused.outcome == "rejected"
        assert "kill switch" in refused.reason
        assert any(isinstance(e, KillSwitchChanged) and e.on for e in desk.events)
        assert "kill_switch = true" in desk.paths.settings_file.read_text()
        desk.engine.resume()
        assert (await desk.trade()).outcome == "filled"


async def test_a_test_alert_is_a_dry_run_that_places_nothing(tmp_path: Path) -> None:
    async with PaperDesk(tmp_path) as desk:
        decided = await desk.trade(qty="0.001", test=True)
        assert decided.outcome == "dry_run"
        assert decided.reason == "would buy 0.001 BTC/USDT on binance (test)"
        assert desk.export()[decided.alert_id]["orders"] == []
        assert await desk.position() is None
        assert (await desk.balances()).get("USDT", D("10000")) == D("10000")


async def test_an_alert_without_a_price_is_rejected_asking_for_one(tmp_path: Path) -> None:
    async with PaperDesk(tmp_path) as desk:
        decided = await desk.trade(price=None, qty="0.001")
        assert decided.outcome == "rejected"
        assert '"price"' in decided.reason


async def test_an_unmapped_symbol_is_rejected_with_how_to_map_it(tmp_path: Path) -> None:
    settings = paper_settings()
    settings = replace(settings, exchange=replace(settings.exchange, auto_map="off"))
    async with PaperDesk(tmp_path, settings) as desk:
        status, _ = await desk.post(symbol="BINANCE:SOLUSDT")
        assert status == 200  # symbols are not checked at the door
        decided = await desk.trade(symbol="BINANCE:SOLUSDT")
        assert decided.outcome == "rejected"
        assert "SOLUSDT" in decided.reason and "[[symbols]]" in decided.reason


async def test_flatten_closes_what_tvdesk_bought_at_the_last_price(tmp_path: Path) -> None:
    async with PaperDesk(tmp_path) as desk:
        await desk.trade(qty="0.01", price="50000")
        (alert_id,) = await desk.engine.flatten()
        decided = await desk.outcome(alert_id)
        assert decided.outcome == "filled", decided.reason
        assert (await desk.position())["qty"] == 0
        record = desk.export()[alert_id]
        assert record["orders"][0]["side"] == "sell"


async def test_replay_runs_a_rejected_alert_again_after_the_limit_is_raised(
    tmp_path: Path,
) -> None:
    async with PaperDesk(tmp_path) as desk:
        first = await desk.trade(qty="0.025", price="50000")
        assert first.outcome == "rejected"
        settings = desk.engine.settings
        desk.engine.update_settings(
            replace(settings, risk=replace(settings.risk, max_notional=D("2000")))
        )
        replay_id = await desk.engine.replay(first.alert_id)
        decided = await desk.outcome(replay_id)
        assert decided.outcome == "filled"
        record = desk.export()[replay_id]
        assert record["replay_of"] == first.alert_id


async def test_position_sync_trades_the_difference_to_the_target(tmp_path: Path) -> None:
    async with PaperDesk(tmp_path, paper_settings(max_notional=0)) as desk:
        await desk.trade(qty="0.01", price="50000")
        decided = await desk.trade(qty=None, side=None, position_size="0.03", price="50000")
        assert decided.outcome == "filled"
        assert (await desk.position())["qty"] == D("0.03")
        flat = await desk.trade(qty=None, side=None, market_position="flat", price="50000")
        assert flat.outcome == "filled", flat.reason
        assert "target 0, held 0.03 → sell 0.03" in str(desk.export()[flat.alert_id])
        assert (await desk.position())["qty"] == 0


async def test_pending_alerts_run_after_a_restart(tmp_path: Path) -> None:
    desk = PaperDesk(tmp_path)
    async with desk:
        # Keep the worker busy-free but stopped: accepted alerts stay pending.
        await desk.engine.worker.stop()
        status, reply = await desk.post()
        assert status == 200
    assert desk.export()[reply["alert_id"]]["outcome"] == "pending"
    again = PaperDesk(tmp_path)
    async with again:
        decided = await again.outcome(reply["alert_id"])
        assert decided.outcome == "filled"


async def test_reaching_the_daily_loss_limit_trips_the_kill_switch(tmp_path: Path) -> None:
    async with PaperDesk(tmp_path, paper_settings(daily_loss_limit=D("50"))) as desk:
        await desk.trade(side="buy", qty="0.01", price="50000")
        loss = await desk.trade(side="sell", qty="0.01", price="40000")
        assert loss.outcome == "filled"
        tripped = [e for e in desk.events if isinstance(e, KillSwitchChanged)]
        assert tripped and tripped[-1].on
        assert "daily loss limit reached" in tripped[-1].reason
        assert desk.engine.settings.risk.kill_switch is True
        refused = await desk.trade(side="buy", qty="0.001", price="40000")
        assert refused.outcome == "rejected"
        assert "kill switch" in refused.reason
