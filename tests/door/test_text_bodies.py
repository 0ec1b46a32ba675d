"""Text alerts from other bridges reach a real engine as the trader meant (issue 14).

TradingView posts a message that is not JSON as text/plain; each syntax carries the webhook
secret in its own slot. Bodies are copied from ../shared/alerts/corpus.json.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.kit.paper import SECRET, PaperDesk

TEXT_ALERTS = {
    "pineconnector": f"{SECRET},buy,BTCUSDT,risk=0.01",
    "autoview": f"e=binance s=BTCUSDT b=buy q=0.01 t=market secret={SECRET}",
    "octobot": f"EXCHANGE=BINANCE\nSYMBOL=BTCUSDT\nSIGNAL=BUY\nVOLUME=0.01\nTOKEN={SECRET}",
    "octobot-semicolons": f"EXCHANGE=BINANCE;SYMBOL=BTCUSDT;SIGNAL=BUY;VOLUME=0.01;TOKEN={SECRET}",
}


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[PaperDesk]:
    async with PaperDesk(tmp_path / "data") as opened:
        yield opened


async def post_text(desk: PaperDesk, text: str) -> tuple[int, dict[str, Any]]:
    assert desk._session is not None
    async with desk._session.post(
        f"{desk.engine.local_url}/webhook",
        data=text.encode(),
        headers={"Content-Type": "text/plain; charset=utf-8"},
    ) as reply:
        return reply.status, await reply.json()


@pytest.mark.parametrize("name", sorted(TEXT_ALERTS))
async def test_a_text_alert_is_read_in_its_own_syntax(desk: PaperDesk, name: str):
    status, reply = await post_text(desk, TEXT_ALERTS[name])

    assert status == 200, reply
    await desk.outcome(reply["alert_id"])
    record = desk.export()[reply["alert_id"]]
    assert (record["side"], record["qty"]) == ("buy", "0.01")
    assert "BTCUSDT" in record["symbol"]
    # The format has no price: paper refuses it naming the price, never guesses one.
    if record["outcome"] != "filled":
        assert "price" in record["reason"]
    assert SECRET not in str(record)


async def test_tradingviews_default_message_with_the_secret_on_the_first_line(desk: PaperDesk):
    text = (
        f"{SECRET}\nMy Strategy (20, 2): order buy @ 0.01 filled on BTCUSDT. "
        "New strategy position is 0.01"
    )
    status, reply = await post_text(desk, text)

    assert status == 200, reply
    decided = await desk.outcome(reply["alert_id"])
    record = desk.export()[reply["alert_id"]]
    assert record["side"] == "buy"
    assert decided.outcome in ("filled", "rejected")


async def test_a_text_alert_with_the_wrong_secret_in_its_slot_is_401(desk: PaperDesk):
    status, reply = await post_text(desk, "x" * 20 + ",buy,BTCUSDT,risk=0.01")

    assert status == 401, reply
    assert reply["error"] == "unauthorized"


async def test_a_price_notification_is_not_an_order(desk: PaperDesk):
    status, reply = await post_text(desk, f"{SECRET}\nBINANCE:BTCUSDT, price = 64250.5, vol = 1")

    assert status == 422, reply
    assert "side" in reply["message"] or "not an order" in reply["message"]


async def test_text_that_is_no_known_form_says_which_forms_are_read(desk: PaperDesk):
    status, reply = await post_text(desk, "hello there")

    assert status == 400, reply
    assert reply["error"] == "invalid_json"
    assert "PineConnector" in reply["message"] and "KEY=VALUE" in reply["message"]


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"side": "cancel", "qty": None}, "cancel"),
        ({"qty_unit": "contracts"}, "perpetual"),
    ],
)
async def test_what_tvdesk_reads_but_does_not_execute_yet_is_refused_with_the_reason(
    desk: PaperDesk, fields: dict[str, Any], words: str
):
    status, reply = await desk.post(**fields)
    assert status == 200, reply

    decided = await desk.outcome(reply["alert_id"])
    assert decided.outcome == "rejected"
    assert words in decided.reason
    assert await desk.position() is None
