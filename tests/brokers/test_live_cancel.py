"""The alert action cancel, live: a real engine cancels tvdesk's own resting orders at the
loopback fake Binance through ccxt's real signed requests, and the journal agrees."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from tests.kit.fake_binance import FakeBinance
from tests.kit.live import FAST, LiveDesk
from tvdesk.core.events import OrderCanceled

D = Decimal
CANCEL = {"action": "cancel", "symbol": "BTCUSDT", "side": None, "qty": None, "price": None}
# The order watch never polls: what the exchange did meanwhile is found by the cancel alone.
UNWATCHED = replace(FAST, poll_s=3600.0)


async def test_a_resting_limit_is_canceled_at_the_exchange_and_the_journal_agrees(
    tmp_path: Path,
):
    async with FakeBinance() as fake, LiveDesk(tmp_path, fake) as desk:
        manual = fake.add_limit("byhand1", "BUY", "0.001", "45000")  # not tvdesk's
        resting = await desk.trade(qty="0.001", price="49000", order_type="limit")
        assert resting.outcome == "open", resting.reason
        assert fake.locked["USDT"] == D("94")  # 45 by hand + 49 of tvdesk's
        tried = await desk.trade(**CANCEL, test=True)
        assert tried.outcome == "dry_run", tried.reason
        assert tried.reason == (
            f"would cancel 1 resting order on binance BTC/USDT: tvd{resting.alert_id} "
            "(limit buy 0.001 @ 49000) (test)"
        )
        assert ("DELETE", "/api/v3/order") not in fake.requests

        canceled = await desk.trade(**CANCEL)

        cid = f"tvd{resting.alert_id}"
        assert canceled.outcome == "canceled", canceled.reason
        assert canceled.reason == (
            f"canceled 1 resting order on binance BTC/USDT: {cid} (limit buy 0.001 @ 49000)"
        )
        (at_exchange,) = [o for o in fake.created() if o.client_order_id == cid]
        assert at_exchange.status == "CANCELED"
        assert manual.status == "NEW"  # the trader's own order is never touched
        assert fake.locked["USDT"] == D("45")
        assert fake.requests.count(("DELETE", "/api/v3/order")) == 1
        records = desk.export()
        (order,) = records[resting.alert_id]["orders"]
        assert (order["status"], order["exchange_order_id"]) == (
            "canceled",
            str(at_exchange.order_id),
        )
        assert records[resting.alert_id]["outcome"] == "canceled"
        assert records[resting.alert_id]["reason"] == (
            f"live limit buy 0.001 BTC/USDT @ 49000 canceled by the cancel alert "
            f"{canceled.alert_id}, nothing filled (binance order {at_exchange.order_id})"
        )
        assert desk.decided[resting.alert_id].outcome == "canceled"
        assert records[canceled.alert_id]["outcome"] == "canceled"
        assert any(isinstance(e, OrderCanceled) and e.mode == "live" for e in desk.events)

        again = await desk.trade(**CANCEL)
        assert again.outcome == "rejected"
        assert again.reason == "nothing to cancel: tvdesk has no resting order on binance BTC/USDT"


async def test_a_503_on_the_cancel_is_looked_up_and_retried_once(tmp_path: Path):
    async with FakeBinance() as fake, LiveDesk(tmp_path, fake) as desk:
        resting = await desk.trade(qty="0.001", price="49000", order_type="limit")
        fake.fault("DELETE", "/api/v3/order", "status", status=503)

        canceled = await desk.trade(**CANCEL)

        assert canceled.outcome == "canceled", canceled.reason
        assert fake.requests.count(("DELETE", "/api/v3/order")) == 2
        assert desk.orders(resting.alert_id)[0]["status"] == "canceled"


async def test_an_order_that_filled_meanwhile_is_recorded_as_filled_not_canceled(
    tmp_path: Path,
):
    async with FakeBinance() as fake, LiveDesk(tmp_path, fake, tuning=UNWATCHED) as desk:
        resting = await desk.trade(qty="0.001", price="49000", order_type="limit")
        fake.set_price("BTCUSDT", "48990")  # fills at the exchange; tvdesk has not looked yet

        canceled = await desk.trade(**CANCEL)

        cid = f"tvd{resting.alert_id}"
        assert canceled.outcome == "failed"
        assert canceled.reason == (
            f"{cid} filled at binance before the cancel reached it: recorded as filled"
        )
        records = desk.export()
        (order,) = records[resting.alert_id]["orders"]
        assert order["status"] == "filled" and D(order["avg_price"]) == D("49000")
        assert records[resting.alert_id]["outcome"] == "filled"
        assert (await desk.position())["qty"] == D("0.000999")


async def test_an_exchange_refusal_names_the_order_and_keeps_it_open(tmp_path: Path):
    async with FakeBinance() as fake, LiveDesk(tmp_path, fake, tuning=UNWATCHED) as desk:
        resting = await desk.trade(qty="0.001", price="49000", order_type="limit")
        fake.fault("DELETE", "/api/v3/order", "error", code=-2011, msg="Unknown order sent.")

        refused = await desk.trade(**CANCEL)

        cid = f"tvd{resting.alert_id}"
        assert refused.outcome == "failed"
        assert refused.reason == (
            f"could not cancel {cid} (limit buy 0.001 @ 49000) at binance: "
            "binance has no such order: Unknown order sent. (code -2011)"
        )
        assert desk.orders(resting.alert_id)[0]["status"] == "open"
        assert fake.created()[0].status == "NEW"


async def test_a_stop_loss_is_kept_and_the_reason_says_so(tmp_path: Path):
    async with FakeBinance() as fake, LiveDesk(tmp_path, fake) as desk:
        entry = await desk.trade(qty="0.01", stop_loss="45000")
        assert entry.reason.endswith("; stop-loss sell 0.00999 @ 45000 placed"), entry.reason

        refused = await desk.trade(**CANCEL)

        assert refused.outcome == "rejected"
        assert refused.reason == (
            "nothing to cancel: tvdesk has no resting order on binance BTC/USDT; kept "
            f"tvd{entry.alert_id}1 (stop-loss sell 0.00999 @ 45000): a cancel never removes "
            "a position's stop-loss or take-profit (close the position to end them)"
        )
        assert [o.status for o in fake.created() if o.type == "STOP_LOSS"] == ["NEW"]
