"""A live perpetual short is a position: the live ledger keeps it signed, as paper does.

Fills are written by the ledger's own functions (``insert_submitting`` then ``record``, as
when the exchange reports them) on a real SQLite journal, and read back as the window and
flatten read positions (store ``Queries.positions``). Then a running live engine on the
loopback OKX flattens such a short with a reduce-only buy, through ccxt's signed request
(the fake OKX matches spot orders only, so the request it received is what is checked).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.brokers.test_live_positions import PERP, OkxDesk, read_once_more
from tests.kit.fake_okx_positions import FakeOkxPositions
from tests.kit.live import until
from tvdesk.brokers import ledger
from tvdesk.brokers.exchange import OrderState
from tvdesk.config.paths import resolve_paths
from tvdesk.store.journal import Journal
from tvdesk.store.queries import Queries

SPOT = "BTC/USDT"


class LiveJournal:
    """A journal in ``tmp_path`` whose orders fill as the exchange would report them."""

    def __init__(self, data_dir: Path) -> None:
        paths = resolve_paths(data_dir)
        paths.ensure()
        self.journal = Journal(paths.journal_file)
        self.journal.open()
        self.queries = Queries(paths.journal_file)
        self._n = 0

    def close(self) -> None:
        self.queries.close()
        self.journal.close()

    def order(self, side: str, qty: str, price: str, symbol: str = PERP) -> ledger.LiveOrder:
        self._n += 1
        return ledger.LiveOrder(
            f"TVD{self._n}SHORTS", f"01SHORTS{self._n}", "okx", symbol, side, "market",
            Decimal(qty), Decimal(price),
        )  # fmt: skip

    def report(
        self, order: ledger.LiveOrder, filled: str, average: str, fee: str, ccy: str
    ) -> ledger.FillDelta | None:
        """The exchange's word on ``order`` so far (cumulative, as ccxt gives it)."""
        state = OrderState(
            "42", "filled" if Decimal(filled) == order.qty else "partially_filled",
            Decimal(filled), Decimal(average), Decimal(fee), ccy, True,
        )  # fmt: skip

        def write(conn: Any) -> ledger.FillDelta | None:
            ledger.insert_submitting(conn, order, 1.0)
            return ledger.record(conn, order.client_order_id, state, 2.0)

        return self.journal.run_sync(write)

    def fill(
        self, side: str, qty: str, price: str, fee: str = "0", **kw: Any
    ) -> ledger.FillDelta | None:
        ccy = kw.pop("ccy", "USDT")
        return self.report(self.order(side, qty, price, **kw), qty, price, fee, ccy)

    async def position(self, symbol: str = PERP) -> dict[str, Any]:
        (row,) = [p for p in await self.queries.positions("live") if p["symbol"] == symbol]
        return row


def open_journal(tmp_path: Path) -> LiveJournal:
    return LiveJournal(tmp_path)


@pytest.fixture
async def fake() -> AsyncIterator[FakeOkxPositions]:
    prices = {"BTC-USDT": "50000", "BTC-USDT-SWAP": "50000"}
    async with FakeOkxPositions(prices=prices) as exchange:
        yield exchange


async def test_a_sell_from_flat_on_a_perpetual_opens_a_short_at_its_price(tmp_path):
    book = open_journal(tmp_path)
    try:
        delta = book.fill("sell", "0.01", "50000", fee="0.25")
        row = await book.position()
    finally:
        book.close()
    assert (row["side"], row["qty"], row["avg_price"]) == ("short", Decimal("-0.01"), 50000)
    # As on paper: the entry holds no fee, the fee is realised at once.
    assert delta.realized_pnl == Decimal("-0.25")
    assert row["realized_pnl"] == Decimal("-0.25")


async def test_buying_back_half_a_short_realises_entry_minus_exit_net_of_the_fee(tmp_path):
    book = open_journal(tmp_path)
    try:
        book.fill("sell", "0.01", "50000")
        delta = book.fill("buy", "0.005", "49000", fee="0.1225")
        half = await book.position()
        book.fill("buy", "0.005", "51000", fee="0.1275")
        closed = await book.position()
    finally:
        book.close()
    # (50,000 − 49,000) × 0.005 = 5, less the 0.1225 fee.
    assert delta.realized_pnl == Decimal("4.8775")
    assert (half["side"], half["qty"], half["avg_price"]) == ("short", Decimal("-0.005"), 50000)
    assert half["realized_pnl"] == Decimal("4.8775")
    # The rest bought back above the entry loses (51,000 − 50,000) × 0.005 = 5 and its fee.
    assert (closed["side"], closed["qty"], closed["avg_price"]) == ("flat", 0, 0)
    assert closed["realized_pnl"] == Decimal("4.8775") - 5 - Decimal("0.1275")


async def test_a_short_added_to_in_partial_fills_keeps_the_average_entry(tmp_path):
    book = open_journal(tmp_path)
    try:
        book.fill("sell", "0.01", "50000")
        order = book.order("sell", "0.03", "0")
        book.report(order, "0.01", "52000", "0.26", "USDT")  # first part of the order
        book.report(order, "0.03", "51000", "0.765", "USDT")  # the rest: 0.02 @ 50,500
        row = await book.position()
    finally:
        book.close()
    # (0.01 × 50,000 + 0.01 × 52,000 + 0.02 × 50,500) / 0.04
    assert (row["qty"], row["avg_price"]) == (Decimal("-0.04"), Decimal("50750"))
    assert row["realized_pnl"] == Decimal("-0.765")  # only the fees: nothing was closed


async def test_a_fee_not_in_the_settle_currency_stays_out_of_the_pnl(tmp_path):
    book = open_journal(tmp_path)
    try:
        book.fill("sell", "0.01", "50000", fee="0.0004", ccy="BNB")
        delta = book.fill("buy", "0.01", "49000", fee="0.0004", ccy="BNB")
        row = await book.position()
    finally:
        book.close()
    assert delta.realized_pnl == Decimal("10")
    assert (row["qty"], row["realized_pnl"]) == (0, Decimal("10"))


async def test_a_spot_sell_from_flat_still_records_no_position(tmp_path):
    book = open_journal(tmp_path)
    try:
        delta = book.fill("sell", "0.01", "50000", fee="0.5", symbol=SPOT)
        row = await book.position(SPOT)
    finally:
        book.close()
    # Coins the trader held before tvdesk bought them are no position of tvdesk's.
    assert (row["side"], row["qty"]) == ("flat", 0)
    assert delta.realized_pnl == 0


async def test_flatten_closes_a_live_short_with_a_reduce_only_buy(tmp_path, fake: FakeOkxPositions):
    book = open_journal(tmp_path)
    try:
        book.fill("sell", "0.01", "50000")
    finally:
        book.close()
    fake.hold("-1", entry="50000", mark="50000")
    async with OkxDesk(tmp_path, fake) as desk:
        before = await desk.perp()
        (alert_id,) = await desk.engine.flatten()
        await desk.outcome(alert_id)
        trail = [t["detail"] for t in desk.export()[alert_id]["trail"]]

    assert (before["side"], before["qty"]) == ("short", Decimal("-0.01"))
    (sent,) = [r["params"] for r in fake.received]
    # One contract (0.01 BTC) bought back on the perpetual, reduce-only: it can only close.
    assert (sent["instId"], sent["side"], sent["sz"]) == ("BTC-USDT-SWAP", "buy", "1")
    assert sent["reduceOnly"] in (True, "true")
    assert "target 0, held -0.01 → buy 0.01" in trail
    assert "perpetual: reduce-only" in trail


async def test_a_live_short_shows_the_exchange_mark_its_loss_and_no_made_up_liquidation(
    tmp_path, fake: FakeOkxPositions
):
    book = open_journal(tmp_path)
    try:
        book.fill("sell", "0.01", "50000")
    finally:
        book.close()
    fake.hold("-1", entry="50000", mark="50500", liquidation="")  # none reported
    async with OkxDesk(tmp_path, fake) as desk:
        await until(desk, lambda: fake.position_requests)
        await read_once_more(desk, fake)
        row = await desk.perp()

    assert (row["side"], row["qty"], row["contracts"]) == ("short", Decimal("-0.01"), -1)
    assert row["mark"] == Decimal("50500")
    assert row["unrealized_pnl"] == Decimal("-5")  # (50,500 − 50,000) × −0.01
    assert row["exchange_note"] is None  # the exchange holds what tvdesk's fills built
    # Not tvdesk's 1× estimate (entry × 2): live, the leverage and margin are the exchange's.
    assert row["liquidation"] is None
