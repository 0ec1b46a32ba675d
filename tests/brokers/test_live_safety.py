"""Live mode's safety: the start-up check, wrong keys, protective orders, no leaked secret."""

from __future__ import annotations

import json
import logging
import sqlite3
from contextlib import closing
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from tests.kit.fake_binance import API_KEY, API_SECRET, FakeBinance
from tests.kit.live import LiveDesk, live_settings, until
from tvdesk.core.events import ExchangeWarning

D = Decimal
WRONG_SECRET = "wrongSecret5Tz8Qd2Lk7Vn4Bx9Mh1Wc6Pr3Yf0Ga"


async def test_live_cannot_start_without_the_exchange_credentials(tmp_path: Path):
    async with FakeBinance() as fake:
        desk = LiveDesk(tmp_path, fake, api_key=None, secret=None)
        reason = await desk.engine.check_live()

        assert reason is not None
        assert "needs its API key and secret" in reason
        assert "TVDESK_BINANCE_API_KEY and TVDESK_BINANCE_API_SECRET" in reason
        assert fake.requests == []


async def test_the_start_up_check_reads_the_balance(tmp_path: Path, caplog):
    caplog.set_level(logging.INFO)
    async with FakeBinance() as fake:
        desk = LiveDesk(tmp_path, fake)
        assert await desk.engine.check_live() is None
        assert ("GET", "/api/v3/account") in fake.requests
        assert "binance account reachable; balance: 1 BTC, 10 ETH, 100000 USDT" in caplog.text
        # What the switch-to-LIVE dialog shows as the account's balance.
        assert desk.engine.live_balance() == "1 BTC, 10 ETH, 100000 USDT"
        await desk.engine.live.stop()


async def test_a_key_that_may_withdraw_is_warned_about(tmp_path: Path, caplog):
    async with FakeBinance(can_withdraw=True) as fake:
        desk = LiveDesk(tmp_path, fake)
        assert await desk.engine.check_live() is None  # a warning, not a refusal
        (warning,) = [e for e in desk.events if isinstance(e, ExchangeWarning)]
        assert "may WITHDRAW funds" in warning.message
        assert "may WITHDRAW funds" in caplog.text
        await desk.engine.live.stop()


async def test_a_wrong_secret_is_refused_at_the_check_in_plain_words(tmp_path: Path):
    async with FakeBinance() as fake:
        desk = LiveDesk(tmp_path, fake, secret=WRONG_SECRET)
        reason = await desk.engine.check_live()

        assert reason == (
            "the binance balance check failed: binance refused the API key: Signature for "
            "this request is not valid. (code -1022); check the API key and secret (and "
            "that the key may trade)"
        )


async def test_a_wrong_secret_fails_an_alert_and_sends_no_order(tmp_path: Path):
    async with FakeBinance() as fake, LiveDesk(tmp_path, fake, secret=WRONG_SECRET) as desk:
        decided = await desk.trade(qty="0.001")

        assert decided.outcome == "failed"
        assert decided.reason.startswith("could not read the binance balance: binance refused")
        assert fake.received == []


async def test_a_stop_loss_is_placed_for_what_the_entry_bought(tmp_path: Path):
    async with FakeBinance() as fake, LiveDesk(tmp_path, fake) as desk:
        decided = await desk.trade(qty="0.01", price="50000", stop_loss="45000")

        assert decided.outcome == "filled", decided.reason
        assert decided.reason.endswith("; stop-loss sell 0.00999 @ 45000 placed")
        _entry, stop = fake.created()
        assert (stop.type, stop.side, stop.qty, stop.stop_price) == (
            "STOP_LOSS", "SELL", D("0.00999"), D("45000"),
        )  # fmt: skip
        orders = desk.orders(decided.alert_id)
        assert [o["status"] for o in orders] == ["filled", "open"]
        assert orders[1]["client_order_id"] == f"tvd{decided.alert_id}1"

        fake.set_price("BTCUSDT", "44000")  # the stop triggers
        await until(desk, lambda: desk.orders(decided.alert_id)[1]["status"] == "filled")
        position = await desk.position()
        assert position["qty"] == 0
        assert position["realized_pnl"] < 0


async def test_protective_orders_the_exchange_cannot_take_are_refused_with_the_reason(
    tmp_path: Path,
):
    async with FakeBinance(balances={"USDT": "100000"}) as fake, LiveDesk(tmp_path, fake) as desk:
        both = await desk.trade(qty="0.01", stop_loss="45000", take_profit="55000")
        assert "stop-loss sell 0.00999 @ 45000 placed" in both.reason
        # Binance spot holds the coins for the stop: a second order for them is refused.
        assert "take-profit not placed: binance: insufficient funds" in both.reason
        assert [o["status"] for o in desk.orders(both.alert_id)] == ["filled", "open", "rejected"]
        wrong_side = await desk.trade(qty="0.01", price="50000", stop_loss="52000")
        assert wrong_side.outcome == "filled"
        assert wrong_side.reason.endswith(
            "; stop-loss not placed: stop-loss 52000 must be below the fill price 50000, "
            "or it would trigger at once"
        )
        sell = await desk.trade(side="sell", qty="0.001", stop_loss="45000")
        assert sell.reason.endswith(
            "; stop-loss not placed: a stop-loss protects a position, and a spot sell opens none"
        )
        stops = [o for o in fake.created() if o.type != "MARKET"]
        assert len(stops) == 1


async def test_going_flat_cancels_the_stop_loss_that_holds_the_coins_and_sells(tmp_path: Path):
    async with FakeBinance() as fake, LiveDesk(tmp_path, fake) as desk:
        entry = await desk.trade(
            position_size="0.01", market_position="long", side=None, qty=None, stop_loss="45000"
        )
        assert entry.reason.endswith("; stop-loss sell 0.00999 @ 45000 placed")

        flat = await desk.trade(market_position="flat", position_size="0", side=None, qty=None)

        assert flat.outcome == "filled", flat.reason
        stop = fake.created()[1]
        assert (stop.type, stop.status) == ("STOP_LOSS", "CANCELED")
        assert fake.created()[-1].side == "SELL" and fake.created()[-1].type == "MARKET"
        assert (await desk.position())["qty"] == 0
        assert desk.orders(entry.alert_id)[1]["status"] == "canceled"
        trail = [t["detail"] for t in desk.export()[flat.alert_id]["trail"]]
        cancelled = f"cancelled stop-loss tvd{entry.alert_id}1 (sell 0.00999 @ 45000)"
        assert any(t.startswith(cancelled) for t in trail), trail
        assert "no stop-loss or take-profit" not in flat.reason  # nothing left to protect


async def test_a_partial_exit_says_the_rest_is_no_longer_protected(tmp_path: Path):
    async with FakeBinance() as fake, LiveDesk(tmp_path, fake) as desk:
        await desk.trade(qty="0.01", stop_loss="45000")

        half = await desk.trade(side="sell", qty="0.005")

        assert half.outcome == "filled", half.reason
        assert half.reason.endswith("; the remaining 0.00499 BTC has no stop-loss or take-profit")
        assert [o.status for o in fake.created() if o.type == "STOP_LOSS"] == ["CANCELED"]


async def test_flatten_closes_a_protected_position(tmp_path: Path):
    async with FakeBinance() as fake, LiveDesk(tmp_path, fake) as desk:
        await desk.trade(qty="0.01", stop_loss="45000")

        (flatten_id,) = await desk.engine.flatten()

        closed = await desk.outcome(flatten_id)
        assert closed.outcome == "filled", closed.reason
        assert (await desk.position())["qty"] == 0
        assert [o.status for o in fake.created() if o.type == "STOP_LOSS"] == ["CANCELED"]


async def test_a_limit_entry_that_filled_partly_then_expired_gets_a_stop_for_that_part(
    tmp_path: Path,
):
    async with FakeBinance() as fake, LiveDesk(tmp_path, fake) as desk:
        decided = await desk.trade(qty="0.01", price="49000", order_type="limit", stop_loss="45000")
        assert decided.outcome == "open"

        fake.fill_part_and_expire(f"tvd{decided.alert_id}", "0.004")

        await until(desk, lambda: [o["status"] for o in desk.orders(decided.alert_id)] == [
            "canceled", "open"
        ])  # fmt: skip
        stop = fake.created()[-1]
        assert (stop.type, stop.side, stop.qty) == ("STOP_LOSS", "SELL", D("0.00399"))
        assert desk.export()[decided.alert_id]["outcome"] == "filled"


async def test_a_stop_loss_the_journal_cannot_take_is_not_sent_and_the_fill_is_kept(
    tmp_path: Path,
):
    async with FakeBinance() as fake, LiveDesk(tmp_path, fake) as desk:
        with closing(sqlite3.connect(desk.paths.journal_file)) as conn:
            conn.execute(  # a write the journal refuses, like a full disk, for the stop only
                "CREATE TRIGGER no_stops BEFORE INSERT ON orders WHEN NEW.order_type ="
                " 'stop_loss' BEGIN SELECT RAISE(ABORT, 'disk full (test)'); END"
            )
            conn.commit()

        decided = await desk.trade(qty="0.01", price="50000", stop_loss="45000")

        assert decided.outcome == "filled", decided.reason
        assert "; stop-loss not placed: the journal refused a write" in decided.reason
        assert [o["status"] for o in desk.orders(decided.alert_id)] == ["filled"]
        assert [o.type for o in fake.created()] == ["MARKET"]  # the stop never went out
        assert (await desk.position())["qty"] == D("0.00999")


async def test_an_alert_accepted_in_paper_is_never_sent_live_after_a_switch(tmp_path: Path):
    async with FakeBinance() as fake:
        paper = replace(live_settings(fake.url), mode="paper")
        async with LiveDesk(tmp_path, fake, paper) as desk:
            await desk.engine.worker.stop()  # queued, as when tvdesk stops before running it
            status, reply = await desk.post(qty="0.01", price="50000")
            assert status == 200
        async with LiveDesk(tmp_path, fake) as desk:  # started again, live this time
            decided = await desk.outcome(reply["alert_id"])
            assert decided.outcome == "rejected"
            assert decided.reason == (
                "accepted while tvdesk was in paper mode, and it is live now: not sent to "
                "the exchange (send the alert again to trade it live)"
            )
            assert fake.created() == []
            live = await desk.trade(qty="0.01", price="50000")  # one accepted live trades
            assert live.outcome == "filled", live.reason


async def test_open_live_orders_are_still_followed_after_a_restart_in_paper_mode(tmp_path: Path):
    async with FakeBinance() as fake:
        async with LiveDesk(tmp_path, fake) as desk:
            resting = await desk.trade(qty="0.01", price="49000", order_type="limit")
            assert resting.outcome == "open"
        paper = replace(live_settings(fake.url), mode="paper")
        async with LiveDesk(tmp_path, fake, paper) as desk:
            assert desk.engine.settings.mode == "paper"
            fake.set_price("BTCUSDT", "48900")  # the exchange fills it meanwhile
            await until(desk, lambda: desk.orders(resting.alert_id)[0]["status"] == "filled")
            assert desk.export()[resting.alert_id]["outcome"] == "filled"
            assert (await desk.position())["qty"] == D("0.00999")


async def test_live_balances_are_the_exchanges(tmp_path: Path):
    async with FakeBinance() as fake, LiveDesk(tmp_path, fake) as desk:
        assert await desk.engine.balances("live") == []  # nothing read yet
        await desk.trade(qty="0.01", price="50000")
        rows = {r["currency"]: r for r in await desk.engine.balances("live")}
        assert rows["BTC"]["free"] == fake.free["BTC"]  # as the exchange holds it
        assert rows["USDT"]["free"] == fake.free["USDT"]
        assert all(r["exchange"] == "binance" for r in rows.values())


async def test_a_limit_entry_gets_its_stop_loss_when_it_fills(tmp_path: Path):
    async with FakeBinance() as fake, LiveDesk(tmp_path, fake) as desk:
        decided = await desk.trade(qty="0.01", price="49000", order_type="limit", stop_loss="45000")
        assert decided.outcome == "open"
        assert len(fake.created()) == 1

        fake.set_price("BTCUSDT", "48900")
        await until(desk, lambda: [o["status"] for o in desk.orders(decided.alert_id)] == [
            "filled", "open"
        ])  # fmt: skip
        trail = [t["detail"] for t in desk.export()[decided.alert_id]["trail"]]
        assert any(t.startswith("live stop-loss sell 0.00999 BTC/USDT @ 45000 open") for t in trail)
        assert fake.created()[-1].type == "STOP_LOSS"


@pytest.mark.parametrize("secret", [API_SECRET, WRONG_SECRET], ids=["right", "wrong"])
async def test_api_keys_never_reach_logs_events_the_journal_or_messages(
    tmp_path: Path, caplog, secret: str
):
    caplog.set_level(logging.DEBUG)  # ccxt logs request headers at DEBUG
    async with FakeBinance() as fake:
        desk = LiveDesk(tmp_path, fake, secret=secret)
        check = await desk.engine.check_live()
        async with desk:
            fake.fault("POST", "/api/v3/order", "slow", delay_s=1.5)
            fake.fault("GET", "/api/v3/order", "status", status=503)
            await desk.trade(qty="0.001")
            fake.fault("POST", "/api/v3/order", "status", status=503)
            await desk.trade(qty="0.001")
            status = await desk.engine.status()
        seen = "\n".join(
            [
                caplog.text,
                str(check),
                json.dumps(status, default=str),
                json.dumps(desk.export(), default=str),
                *(json.dumps(e.to_dict()) for e in desk.events),
                repr(desk.engine.live.clients.get("binance")),
                repr(desk.engine.live.credentials("binance")),
            ]
        )
        assert API_KEY in fake.api_key  # the fake did get it, in the header
        for secret_text in (API_KEY, secret):
            assert secret_text not in seen
