"""What the venue helpers left open (issue 16), checked through ccxt with its transport replaced.

An OKX stop-loss / take-profit is an algo order: it must carry tvdesk's id in
``algoClOrdId``, where OKX's ``/api/v5/trade/order-algo`` takes it and the lookup asks for
it, or a stop whose reply is lost is placed twice (Gate's price orders, which keep no client
order id: test_checked_gate_stops.py). Bybit's ``retMsg`` and OKX's per-order ``sMsg``
reach the trader as words, not raw JSON.
"""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import ccxt
import pytest

from tests.brokers.test_perp_resend import swap_market
from tests.kit.capture import ALERT, CID, STOP_CID, captured, spot_market
from tests.kit.clock import FakeClock
from tests.kit.fake_okx import API_KEY, API_PASSWORD, API_SECRET, FakeOkx
from tests.kit.live import FAST
from tvdesk.brokers.errors import ExchangeError, FundsError, OrderRefused
from tvdesk.brokers.exchange import Credentials, ExchangeClient, LiveTuning, OrderState
from tvdesk.brokers.ledger import LiveOrder
from tvdesk.brokers.protect import plan
from tvdesk.brokers.retry import CircuitBreaker
from tvdesk.brokers.sender import OrderSender
from tvdesk.brokers.venues import venue_for
from tvdesk.store.journal import Journal
from tvdesk.support.clock import SystemClock

ALGO = "/api/v5/trade/order-algo"
FILLED = OrderState("1", "filled", Decimal("0.02"), Decimal(50000), None, None, True)


def entry(exchange: str, symbol: str) -> LiveOrder:
    """An alert's buy that filled 0.02 BTC at 50000."""
    return LiveOrder(CID, ALERT, exchange, symbol, "buy", "market", Decimal("0.02"), None)


class OkxAlgo:
    """OKX's algo orders as its v5 API keeps them: by ``algoId``, found by ``algoClOrdId``."""

    def __init__(self, clock: FakeClock, lose_first_reply: bool = False) -> None:
        self.clock = clock
        self.orders: list[dict[str, Any]] = []
        self.lose = lose_first_reply

    def answer(self, method: str, path: str, fields: dict[str, Any]) -> tuple[int, Any] | None:
        if method == "POST" and path == ALGO:
            algo = {
                "algoId": str(700 + len(self.orders)),
                "algoClOrdId": fields.get("algoClOrdId", ""),
                "clOrdId": "",
                "sCode": "0",
                "sMsg": "",
            }
            self.orders.append({**fields, **algo, "state": "live", "cTime": str(ms())})
            if self.lose:  # OKX made it; its reply never arrives
                self.lose = False
                raise ccxt.RequestTimeout(f"okx POST {path} request timeout")
            return 200, {"code": "0", "msg": "", "data": [algo]}
        if method == "GET" and path in (ALGO, "/api/v5/trade/order"):
            # Asking takes OKX's 30 s request lifetime: a None afterwards is final.
            self.clock.advance(31)
            wanted = fields.get("algoClOrdId")
            mine = [o for o in self.orders if wanted and o["algoClOrdId"] == wanted]
            if path == ALGO and mine:
                return 200, {"code": "0", "msg": "", "data": mine[:1]}
            return 200, {"code": "51603", "msg": "Order does not exist", "data": []}
        return None


def ms() -> int:
    return int(time.time() * 1000)


OKX_MARKETS = {
    "spot": ("BTC/USDT", lambda: spot_market("BTC/USDT", "BTC-USDT")),
    "swap": ("BTC/USDT:USDT", swap_market),
}


@pytest.mark.parametrize("kind", list(OKX_MARKETS))
async def test_an_okx_stop_loss_carries_tvdesks_id_in_algoclordid(kind: str):
    symbol, market = OKX_MARKETS[kind]
    okx = OkxAlgo(FakeClock())
    client, capture = await captured("okx", [market()], okx.answer)
    try:
        stop, take = plan(client, entry("okx", symbol), FILLED, Decimal(45000), Decimal(55000))
        for p in (stop, take):
            assert p.order is not None, p.refusal
            await client.create(
                symbol, "market", "sell", p.order.qty, None, p.order.client_order_id, p.params
            )
        found = await client.find(STOP_CID, symbol, time.time())
    finally:
        await client.close()
    sent_stop, sent_take = [s.fields for s in capture.to(ALGO, "POST")]
    assert sent_stop["algoClOrdId"] == STOP_CID and sent_stop["slTriggerPx"] == "45000"
    assert sent_take["algoClOrdId"] == STOP_CID[:-1] + "2"
    assert STOP_CID not in (sent_stop.get("clOrdId"), sent_take.get("clOrdId"))
    assert found is not None and found["id"] == "700"  # the lookup finds it by that id


async def test_an_okx_stop_whose_reply_is_lost_is_found_not_placed_twice(tmp_path: Path):
    clock = FakeClock()
    okx = OkxAlgo(clock, lose_first_reply=True)
    client, capture = await captured("okx", [swap_market()], okx.answer)
    journal = Journal(tmp_path / "journal.sqlite3")
    journal.open()
    tuning = LiveTuning(rate_limit=False, retries=1, backoff_base_s=0, backoff_max_s=0)
    sender = OrderSender(journal, clock, tuning, CircuitBreaker(5, 60, clock.time, lambda *_: 0))
    try:
        (stop,) = plan(client, entry("okx", "BTC/USDT:USDT"), FILLED, Decimal(45000), None)
        assert stop.order is not None, stop.refusal
        state, notes = await sender.place(client, stop.order, stop.params)
    finally:
        await client.close()
        journal.close()
    assert len(capture.to(ALGO, "POST")) == 1, notes
    assert len(okx.orders) == 1
    assert (state.exchange_order_id, state.status) == ("700", "open")


async def test_on_the_fake_okx_a_stop_held_past_the_timeout_is_placed_once(tmp_path: Path):
    """The same through OKX's signed v5 protocol (``tests/kit/fake_okx``)."""
    async with FakeOkx() as fake:
        client = ExchangeClient(
            "okx", Credentials(API_KEY, API_SECRET, API_PASSWORD), url=fake.url, tuning=FAST
        )
        await client.load_markets()
        journal = Journal(tmp_path / "journal.sqlite3")
        journal.open()
        clock = SystemClock()  # OKX's 30 s lifetime, as it runs
        sender = OrderSender(journal, clock, FAST, CircuitBreaker(5, 60, clock.time, lambda *_: 0))
        # OKX makes the stop; its reply comes after tvdesk stopped waiting.
        fake.fault("POST", ALGO, "slow", delay_s=FAST.request_timeout_s + 0.5)
        try:
            (stop,) = plan(client, entry("okx", "BTC/USDT"), FILLED, Decimal(45000), None)
            assert stop.order is not None, stop.refusal
            state, notes = await sender.place(client, stop.order, stop.params)
        finally:
            await client.close()
            journal.close()
        assert "did not answer in time" in notes[0]  # the reply was lost, then looked up
        assert len(fake.algos) == 1, notes  # placed once
        (algo,) = fake.algos
        assert algo["algoClOrdId"] == STOP_CID and fake.placed(STOP_CID) == 1
        assert (algo["ordType"], algo["side"], algo["slTriggerPx"]) == (
            "conditional",
            "sell",
            "45000",
        )
        assert (state.exchange_order_id, state.status) == (algo["algoId"], "open")


# -- the exchange's words -----------------------------------------------------------------------


async def refused(exchange: str, symbol: str, markets: list[Any], body: Any) -> ExchangeError:
    """What tvdesk says when the exchange answers a limit sell with ``body``."""

    def answer(method: str, path: str, fields: dict[str, Any]) -> tuple[int, Any] | None:
        if "query-api" in path:  # ccxt asks Bybit whether the account is unified
            return 200, {"retCode": 0, "retMsg": "OK", "result": {"unified": 1, "uta": 1}}
        if "account/info" in path:
            return 200, {"retCode": 0, "retMsg": "OK", "result": {"unifiedMarginStatus": 4}}
        return 200, body

    client, _ = await captured(exchange, markets, answer)
    try:
        with pytest.raises(ExchangeError) as caught:
            await client.create(symbol, "limit", "sell", Decimal("0.002"), Decimal(60000), CID)
    finally:
        await client.close()
    return caught.value


async def test_bybits_retmsg_reaches_the_trader_as_words():
    body = {
        "retCode": 170131, "retMsg": "Insufficient balance.", "result": {},
        "retExtInfo": {}, "time": ms(),
    }  # fmt: skip
    error = await refused("bybit", "BTC/USDT", [spot_market("BTC/USDT", "BTCUSDT")], body)
    assert isinstance(error, FundsError)
    assert str(error) == "bybit: insufficient funds: Insufficient balance. (code 170131)"


def okx_failed(code: str, words: str) -> dict[str, Any]:
    """OKX's answer when the one order in the request failed: its reason is per order."""
    failed = {"clOrdId": CID, "ordId": "", "sCode": code, "sMsg": words, "tag": ""}
    return {"code": "1", "msg": "All operations failed", "data": [failed]}


async def test_okxs_per_order_smsg_reaches_the_trader_as_words():
    markets = [spot_market("BTC/USDT", "BTC-USDT")]
    words = "Order failed. Insufficient USDT balance in account."
    error = await refused("okx", "BTC/USDT", markets, okx_failed("51008", words))
    assert isinstance(error, FundsError)
    assert str(error) == f"okx: insufficient funds: {words} (code 51008)"

    # Read, OKX's own "duplicate" is seen: the order is looked up, never sent again.
    dup = await refused("okx", "BTC/USDT", markets, okx_failed("51016", "Duplicated clOrdId"))
    assert isinstance(dup, OrderRefused) and dup.duplicate
    assert str(dup) == "okx refused the order: Duplicated clOrdId (code 51016)"


def test_client_order_ids_stay_what_they_were_for_every_exchange():
    uuid_like = venue_for("krakenfutures").client_order_id(CID)
    assert len(uuid_like) == 36 and uuid_like == venue_for("kraken").client_order_id(CID)
    assert venue_for("gateio").client_order_id(CID) == venue_for("gate").client_order_id(CID)
    assert venue_for("gate").client_order_id(CID) == "t-" + CID[4:]
    for exchange in ("binance", "bybit", "okx", "kucoin", "bitget", "mexc"):
        assert venue_for(exchange).client_order_id(CID) == CID
