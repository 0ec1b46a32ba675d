"""The alert action cancel takes tvdesk's own resting orders on that market off the book."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from tests.kit.paper import PaperDesk
from tvdesk.core.events import OrderCanceled

D = Decimal
CANCEL = {"action": "cancel", "symbol": "BTCUSDT", "side": None, "qty": None, "price": None}


async def test_a_cancel_takes_the_resting_limit_off_and_frees_its_funds(tmp_path: Path):
    async with PaperDesk(tmp_path) as desk:
        resting = await desk.trade(qty="0.01", price="40000", order_type="limit")
        assert resting.outcome == "open", resting.reason
        assert (await desk.balances())["USDT"] == D("10000") - D("400.4")  # 400 + its fee

        canceled = await desk.trade(**CANCEL)

        cid = f"tvd{resting.alert_id}"
        assert canceled.outcome == "canceled", canceled.reason
        assert canceled.reason == (
            f"canceled 1 resting order on binance BTC/USDT: {cid} (limit buy 0.01 @ 40000) "
            "(paper): their funds are free again"
        )
        assert (await desk.balances())["USDT"] == D("10000")
        used = {r["currency"]: D(r["used"]) for r in await desk.engine.queries.balances("paper")}
        assert used["USDT"] == 0
        records = desk.export()
        (order,) = records[resting.alert_id]["orders"]
        assert order["status"] == "canceled"
        assert records[resting.alert_id]["outcome"] == "canceled"
        assert records[resting.alert_id]["reason"] == (
            f"limit buy 0.01 BTC/USDT @ 40000 canceled by the cancel alert {canceled.alert_id} "
            "(paper), nothing filled: its funds are free again"
        )
        assert desk.decided[resting.alert_id].outcome == "canceled"  # the window hears it
        assert records[canceled.alert_id]["outcome"] == "canceled"
        assert records[canceled.alert_id]["orders"] == []  # it placed nothing
        (event,) = [e for e in desk.events if isinstance(e, OrderCanceled)]
        assert (event.alert_id, event.client_order_id, event.canceled_by) == (
            resting.alert_id,
            cid,
            canceled.alert_id,
        )
        # A later price through the old limit fills nothing: the order is gone.
        await desk.trade(qty="0.001", price="39000")
        assert desk.export()[resting.alert_id]["orders"][0]["status"] == "canceled"


async def test_a_cancel_with_nothing_resting_is_rejected_with_the_reason(tmp_path: Path):
    async with PaperDesk(tmp_path) as desk:
        filled = await desk.trade(qty="0.01", price="40000")  # filled: nothing rests
        assert filled.outcome == "filled"

        refused = await desk.trade(**CANCEL)

        assert refused.outcome == "rejected"
        assert refused.reason == (
            "nothing to cancel: tvdesk has no resting order on binance BTC/USDT"
        )
        assert desk.export()[filled.alert_id]["outcome"] == "filled"


async def test_a_cancel_on_another_market_leaves_this_one_alone(tmp_path: Path):
    async with PaperDesk(tmp_path) as desk:
        btc = await desk.trade(qty="0.01", price="40000", order_type="limit")
        eth = await desk.trade(symbol="ETHUSDT", qty="0.1", price="2000", order_type="limit")
        assert (btc.outcome, eth.outcome) == ("open", "open")

        canceled = await desk.trade(**{**CANCEL, "symbol": "BINANCE:ETHUSDT"})

        assert canceled.outcome == "canceled", canceled.reason
        assert f"tvd{eth.alert_id}" in canceled.reason
        assert f"tvd{btc.alert_id}" not in canceled.reason
        records = desk.export()
        assert records[btc.alert_id]["orders"][0]["status"] == "open"
        assert records[btc.alert_id]["outcome"] == "open"
        assert records[eth.alert_id]["orders"][0]["status"] == "canceled"
        assert (await desk.balances())["USDT"] == D("10000") - D("400.4")  # BTC's still held


async def test_with_the_kill_switch_on_a_cancel_still_cancels(tmp_path: Path):
    async with PaperDesk(tmp_path) as desk:
        resting = await desk.trade(qty="0.01", price="40000", order_type="limit")
        desk.engine.set_kill_switch(True, "halted by hand")

        refused = await desk.trade(qty="0.01", price="40000", order_type="limit")
        canceled = await desk.trade(**CANCEL)

        assert refused.outcome == "rejected" and "kill switch" in refused.reason
        assert canceled.outcome == "canceled", canceled.reason
        assert desk.export()[resting.alert_id]["orders"][0]["status"] == "canceled"
        assert (await desk.balances())["USDT"] == D("10000")
        trail = desk.export()[canceled.alert_id]["trail"]
        assert any(
            t["step"] == "risk" and t["ok"] and "a cancel only takes tvdesk's orders" in t["detail"]
            for t in trail
        ), trail


async def test_a_test_cancel_says_what_it_would_cancel_and_cancels_nothing(tmp_path: Path):
    async with PaperDesk(tmp_path) as desk:
        first = await desk.trade(qty="0.01", price="40000", order_type="limit")
        third = await desk.trade(qty="0.02", price="39000", order_type="limit")

        tried = await desk.trade(**CANCEL, test=True)

        assert tried.outcome == "dry_run"
        assert tried.reason == (
            f"would cancel 2 resting orders on binance BTC/USDT: tvd{first.alert_id} "
            f"(limit buy 0.01 @ 40000), tvd{third.alert_id} (limit buy 0.02 @ 39000) (test)"
        )
        records = desk.export()
        assert [records[a.alert_id]["outcome"] for a in (first, third)] == ["open", "open"]
