"""Paper perpetuals (DESIGN.md "Perpetual futures"): shorts, adds, reductions, reversals,
fees, margin and P&L, every number worked out by hand in the comments."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tvdesk.core.book import Balance, PaperBook, PaperOrder, PaperRejected
from tvdesk.core.perp_book import PerpPosition

PERP = "BTC/USDT:USDT"
T0 = 1_700_000_000.0
_ids = iter(range(1_000_000))


def book(usdt: str = "10000", slippage_bps: str = "0") -> PaperBook:
    return PaperBook({"USDT": Balance(D(usdt))}, fee_rate=D("0.001"), slippage_bps=D(slippage_bps))


def order(
    side: str, qty: str, price: str, *, leverage: str | None = None, kind: str = "market"
) -> PaperOrder:
    return PaperOrder(
        client_order_id=f"tvd{next(_ids)}",
        symbol=PERP,
        base="BTC",
        quote="USDT",
        side=side,
        order_type=kind,
        qty=D(qty),
        price=D(price),
        created_at=T0,
        leverage=D(leverage) if leverage is not None else None,
    )


def usdt(b: PaperBook) -> tuple[D, D]:
    return b.balances["USDT"].free, b.balances["USDT"].used


def test_a_sell_from_flat_opens_a_short_holding_its_margin_and_paying_its_fee():
    b = book()
    fill = b.place(order("sell", "0.1", "50000", leverage="5"), T0)
    assert fill is not None
    # notional 5,000: fee 5, margin 5,000 / 5 = 1,000
    assert (fill.price, fill.fee, fill.fee_currency, fill.realized_pnl) == (50000, 5, "USDT", -5)
    short = b.perp(PERP)
    assert (short.side, short.qty, short.entry, short.leverage, short.margin) == (
        "short",
        D("-0.1"),
        50000,
        5,
        1000,
    )
    assert usdt(b) == (D("8995"), D("1000"))  # 10,000 − 1,000 margin − 5 fee
    assert "BTC" not in b.balances  # no coins are borrowed or sold: it is a contract
    assert short.unrealized(D("48000")) == 200  # (48,000 − 50,000) × −0.1
    assert short.unrealized(D("51000")) == -100
    # (50,000 + 1,000 / 0.1) / 1.005
    assert short.liquidation() == D("60000") / D("1.005")


def test_add_reduce_and_reverse_realise_the_hand_worked_pnl_and_move_the_margin():
    b = book()
    b.place(order("sell", "0.1", "50000", leverage="5"), T0)  # free 8,995, used 1,000

    add = b.place(order("sell", "0.1", "52000"), T0)  # leverage kept: 5×
    short = b.perp(PERP)
    # entry (5,000 + 5,200) / 0.2 = 51,000; margin 0.2 × 51,000 / 5 = 2,040 (+1,040); fee 5.2
    assert (short.qty, short.entry, short.leverage, short.margin) == (D("-0.2"), 51000, 5, 2040)
    assert add is not None and add.realized_pnl == D("-5.2")
    assert usdt(b) == (D("7949.8"), D("2040"))

    reduce = b.place(order("buy", "0.05", "49000"), T0)
    # closes 0.05 of a short at 51,000: (51,000 − 49,000) × 0.05 = 100, fee 2.45
    assert reduce is not None and reduce.realized_pnl == D("97.55")
    short = b.perp(PERP)
    # 2,040 × 0.15 / 0.2 = 1,530 held, 510 given back
    assert (short.qty, short.entry, short.margin) == (D("-0.15"), 51000, 1530)
    assert usdt(b) == (D("8557.35"), D("1530"))  # 7,949.8 + 510 + 97.55

    reverse = b.place(order("buy", "0.25", "50000"), T0)
    # closes 0.15: (51,000 − 50,000) × 0.15 = 150; fee on all 0.25: 12.5
    assert reverse is not None and reverse.realized_pnl == D("137.5")
    long = b.perp(PERP)
    # opens 0.1 long at 50,000, still 5×: margin 1,000 (530 less than the short held)
    assert (long.side, long.qty, long.entry, long.leverage, long.margin) == (
        "long",
        D("0.1"),
        50000,
        5,
        1000,
    )
    assert usdt(b) == (D("9224.85"), D("1000"))  # 8,557.35 + 530 + 137.5
    # −5 − 5.2 + 97.55 + 137.5: and free + used = 10,000 + that, nothing lost or made up
    assert long.realized_pnl == D("224.85")
    assert sum(usdt(b)) == 10000 + long.realized_pnl
    assert long.liquidation() == D("40000") / D("0.995")  # (50,000 − 10,000) / 0.995

    close = b.place(order("sell", "0.1", "51000"), T0)
    # (51,000 − 50,000) × 0.1 = 100, fee 5.1; all margin back
    assert close is not None and close.realized_pnl == D("94.9")
    flat = b.perp(PERP)
    assert (flat.side, flat.qty, flat.margin, flat.liquidation()) == ("flat", 0, 0, None)
    assert usdt(b) == (D("10319.75"), D("0"))  # 10,000 + 224.85 + 94.9


def test_slippage_goes_against_a_short_too():
    b = book(slippage_bps="10")
    fill = b.place(order("sell", "0.1", "50000"), T0)
    assert fill is not None and fill.price == D("49950")  # sells receive 0.1% less
    assert b.perp(PERP).leverage == 1  # no leverage asked: 1×
    assert b.perp(PERP).margin == D("4995")


def test_an_order_needing_more_margin_than_is_free_is_refused_with_the_numbers():
    b = book(usdt="100")
    with pytest.raises(PaperRejected) as refused:
        b.place(order("sell", "0.01", "50000"), T0)
    assert str(refused.value) == (
        "insufficient USDT margin: sell 0.01 BTC/USDT:USDT at 1× holds 500.00 USDT margin plus "
        "a fee of 0.50, 100.00 USDT is free: lower the qty, raise the leverage, or add USDT to "
        "the paper balances"
    )
    assert usdt(b) == (D("100"), D("0")) and b.perp(PERP).qty == 0
    fill = b.place(order("sell", "0.01", "50000", leverage="10"), T0)  # 50 margin + 0.5 fee
    assert fill is not None and usdt(b) == (D("49.5"), D("50"))


def test_a_reversal_counts_what_its_closing_part_gives_back_before_refusing():
    b = book(usdt="600")
    b.place(order("buy", "0.01", "50000"), T0)  # 500 margin, 0.5 fee: free 99.5
    # closing 0.01 at 55,000 gives 500 + 50 back; opening 0.01 short needs 550 + fees 1.1
    fill = b.place(order("sell", "0.02", "55000"), T0)
    assert fill is not None and b.perp(PERP).qty == D("-0.01")
    # too big: opening 0.02 more needs 1,100 margin
    with pytest.raises(PaperRejected, match=r"insufficient USDT margin: buy 0\.03"):
        b.place(order("buy", "0.03", "55000"), T0)


def test_a_one_x_long_is_never_liquidated_and_a_leveraged_one_is_estimated():
    assert PerpPosition(D("1"), D("100"), D("1"), D("100")).liquidation() is None
    # 2×: margin 50 per coin; (100 − 50) / 0.995
    assert PerpPosition(D("1"), D("100"), D("2"), D("50")).liquidation() == D(50) / D("0.995")


def test_paper_perpetuals_fill_market_orders_only_and_linear_ones_only():
    b = book()
    with pytest.raises(PaperRejected, match="paper perpetuals fill market orders only"):
        b.place(order("sell", "0.1", "50000", kind="limit"), T0)
    inverse = PaperOrder("tvdinv", "BTC/USD:BTC", "BTC", "USD", "sell", "market", D(1), D(5), T0)
    with pytest.raises(PaperRejected, match="inverse perpetual"):
        b.place(inverse, T0)


def test_the_equity_counts_a_short_at_the_mark():
    b = book()
    b.place(order("sell", "0.1", "50000", leverage="5"), T0)
    # 8,995 free + 1,000 margin + (48,000 − 50,000) × −0.1
    assert b.equity_in("USDT", {PERP: D("48000")}) == D("10195")
