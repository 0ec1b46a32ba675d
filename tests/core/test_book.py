"""The paper broker's book (DESIGN.md, "Paper trading works offline" and the position rule)."""

from decimal import Decimal as D

import pytest

from tvdesk.core.book import Balance, Fill, PaperBook, PaperOrder, PaperRejected, Position

T0 = 1_700_000_000.0
FEE = D("0.001")
SLIP = D(5)  # bps


def book(slippage_bps: D = SLIP, fee_rate: D = FEE, **balances: str) -> PaperBook:
    held = balances or {"USDT": "100000"}
    return PaperBook(
        {cur: Balance(D(v)) for cur, v in held.items()},
        fee_rate=fee_rate,
        slippage_bps=slippage_bps,
    )


_ids = iter(range(1_000_000))


def order(
    side: str,
    qty: str,
    price: str,
    *,
    kind: str = "market",
    cid: str | None = None,
    symbol: str = "BTC/USDT",
    at: float = T0,
    expires_at: float | None = None,
) -> PaperOrder:
    base, quote = symbol.split("/")
    return PaperOrder(
        client_order_id=cid or f"tvd{next(_ids)}",
        symbol=symbol,
        base=base,
        quote=quote,
        side=side,
        order_type=kind,
        qty=D(qty),
        price=D(price),
        created_at=at,
        expires_at=expires_at,
    )


def free(b: PaperBook, cur: str) -> D:
    return b.balances[cur].free


def used(b: PaperBook, cur: str) -> D:
    return b.balances[cur].used


# ---------------------------------------------------------------- market orders


def test_market_buy_fills_above_the_alert_price_and_pays_the_fee_in_quote():
    b = book()
    fill = b.place(order("buy", "1", "20000", cid="tvdA"), T0 + 1)
    assert fill == Fill(
        client_order_id="tvdA",
        symbol="BTC/USDT",
        side="buy",
        qty=D(1),
        price=D("20010"),  # 20000 * (1 + 5/10000)
        fee=D("20.01"),  # 1 * 20010 * 0.001
        fee_currency="USDT",
        realized_pnl=D(0),
        at=T0 + 1,
        maker=False,
    )
    assert free(b, "USDT") == D("79969.99")  # 100000 - 20010 - 20.01
    assert free(b, "BTC") == D(1)  # BTC was not held: missing currencies count as 0
    assert used(b, "USDT") == 0


def test_market_sell_fills_below_the_alert_price_and_pays_the_fee_in_quote():
    b = book(BTC="2", USDT="0")
    fill = b.place(order("sell", "0.5", "20000"), T0)
    assert fill is not None
    assert (fill.price, fill.fee, fill.fee_currency) == (D("19990"), D("9.995"), "USDT")
    assert free(b, "BTC") == D("1.5")
    assert free(b, "USDT") == D("9985.005")  # 0.5 * 19990 - 9.995


def test_zero_slippage_fills_at_the_alert_price():
    b = book(slippage_bps=D(0))
    fill = b.place(order("buy", "2", "100"), T0)
    assert fill is not None and fill.price == D(100) and fill.fee == D("0.2")


def test_insufficient_quote_is_refused_with_the_numbers_and_the_fix():
    b = book(slippage_bps=D(0), USDT="1000")
    with pytest.raises(PaperRejected) as caught:
        b.place(order("buy", "1", "1048.95"), T0)
    message = str(caught.value)
    assert message.startswith(
        "insufficient USDT: the order needs 1,050.00 USDT (incl. fee 1.05), 1,000.00 is free"
    )
    assert "lower the qty" in message
    assert free(b, "USDT") == D(1000) and "BTC" not in b.balances


def test_a_buy_that_spends_exactly_the_free_balance_passes():
    b = book(slippage_bps=D(0), USDT="100.1")
    assert b.place(order("buy", "1", "100"), T0) is not None
    assert free(b, "USDT") == 0


def test_insufficient_base_is_refused():
    b = book(BTC="0.25")
    with pytest.raises(PaperRejected) as caught:
        b.place(order("sell", "0.5", "20000"), T0)
    assert str(caught.value).startswith(
        "insufficient BTC: the order sells 0.5 BTC, 0.25 is free: lower the qty"
    )
    with pytest.raises(PaperRejected, match="insufficient ETH: the order sells 1 ETH, 0 is free"):
        b.place(order("sell", "1", "2000", symbol="ETH/USDT"), T0)


@pytest.mark.parametrize(
    ("qty", "price", "words"),
    [
        ("0", "100", "qty must be more than 0, not 0"),
        ("-1", "100", "qty must be more than 0, not -1"),
        ("NaN", "100", "qty must be more than 0, not NaN"),
        ("1", "0", "price must be more than 0, not 0"),
        ("1", "-5", "price must be more than 0, not -5"),
        ("1", "Infinity", "price must be more than 0, not Infinity"),
    ],
)
def test_qty_and_price_must_be_positive(qty, price, words):
    b = book()
    for kind in ("market", "limit"):
        with pytest.raises(PaperRejected, match=words):
            b.place(order("buy", qty, price, kind=kind), T0)
    assert free(b, "USDT") == D(100000) and not b.resting


def test_side_and_order_type_are_checked():
    with pytest.raises(PaperRejected, match='side must be "buy" or "sell", not "long"'):
        book().place(order("long", "1", "100"), T0)
    with pytest.raises(PaperRejected, match='order type must be "market" or "limit"'):
        book().place(order("buy", "1", "100", kind="stop"), T0)


def test_a_duplicate_client_order_id_is_refused():
    b = book()
    b.place(order("buy", "1", "100", cid="tvdSAME"), T0)
    with pytest.raises(PaperRejected, match="client order id tvdSAME was already used"):
        b.place(order("buy", "1", "100", cid="tvdSAME"), T0)
    b.place(order("buy", "1", "90", kind="limit", cid="tvdREST"), T0)
    with pytest.raises(PaperRejected, match="tvdREST was already used"):
        b.place(order("buy", "1", "100", cid="tvdREST"), T0)
    assert b.position("BTC/USDT").qty == D(1)


def test_a_restored_resting_order_id_counts_as_used():
    resting = order("buy", "1", "90", kind="limit", cid="tvdOLD")
    b = PaperBook(
        {"USDT": Balance(D("910"), D("90.09"))}, fee_rate=FEE, slippage_bps=SLIP, resting=[resting]
    )
    with pytest.raises(PaperRejected, match="tvdOLD was already used"):
        b.place(order("buy", "1", "90", kind="limit", cid="tvdOLD"), T0)


def test_the_callers_objects_are_not_changed():
    balances = {"USDT": Balance(D(1000))}
    positions = {"BTC/USDT": Position(D(1), D(100))}
    b = PaperBook(balances, fee_rate=FEE, slippage_bps=SLIP, positions=positions)
    b.place(order("buy", "1", "100"), T0)
    assert balances == {"USDT": Balance(D(1000))}
    assert positions == {"BTC/USDT": Position(D(1), D(100))}


# ---------------------------------------------------------------- positions and P&L


def test_position_average_cost_includes_fees():
    b = book(slippage_bps=D(0))
    b.place(order("buy", "1", "100"), T0)  # cost 100 + fee 0.1
    b.place(order("buy", "3", "200"), T0)  # cost 600 + fee 0.6
    position = b.position("BTC/USDT")
    assert position.qty == D(4)
    assert position.avg_price == D("175.175")  # (100.1 + 600.6) / 4
    assert position.realized_pnl == 0


def test_realised_pnl_is_net_of_fees_on_a_partial_and_then_a_full_close():
    b = book(slippage_bps=D(0))
    b.place(order("buy", "2", "100"), T0)  # avg (200 + 0.2) / 2 = 100.1
    partial = b.place(order("sell", "0.5", "120"), T0)  # fee 0.06
    assert partial is not None
    assert partial.realized_pnl == D("9.89")  # (120 - 100.1) * 0.5 - 0.06
    assert b.position("BTC/USDT") == Position(D("1.5"), D("100.1"), D("9.89"))
    full = b.place(order("sell", "1.5", "90"), T0)  # fee 0.135
    assert full is not None
    assert full.realized_pnl == D("-15.285")  # (90 - 100.1) * 1.5 - 0.135
    assert b.position("BTC/USDT") == Position(D(0), D(0), D("-5.395"))
    # Round trip: everything paid and received nets to the realised P&L.
    assert free(b, "USDT") - D(100000) == D("-5.395")


def test_realised_pnl_with_slippage():
    b = book()
    b.place(order("buy", "1", "20000"), T0)  # fill 20010, fee 20.01: avg 20030.01
    fill = b.place(order("sell", "0.4", "25000"), T0)  # fill 24987.5, fee 9.995
    assert fill is not None
    assert fill.realized_pnl == D("1973.001")  # (24987.5 - 20030.01) * 0.4 - 9.995


def test_selling_coins_held_before_tvdesk_realises_nothing():
    b = book(BTC="5", USDT="0")
    fill = b.place(order("sell", "2", "100"), T0)
    assert fill is not None and fill.realized_pnl == 0
    assert b.position("BTC/USDT") == Position()
    assert free(b, "USDT") == D("199.7001")  # 2 * 99.95 less the fee 0.1999


def test_a_sell_beyond_the_position_closes_it_and_stops_at_zero():
    b = book(slippage_bps=D(0), BTC="3", USDT="1000")
    b.place(order("buy", "1", "100"), T0)  # tvdesk position 1 @ 100.1; 4 BTC held
    fill = b.place(order("sell", "4", "110"), T0)  # fee 0.44; a quarter of it is tvdesk's
    assert fill is not None
    assert fill.realized_pnl == D("9.79")  # (110 - 100.1) * 1 - 0.44 * 1/4
    assert b.position("BTC/USDT") == Position(D(0), D(0), D("9.79"))
    assert free(b, "BTC") == 0
    fill = b.place(order("buy", "1", "50"), T0)
    assert b.position("BTC/USDT").avg_price == D("50.05")  # a fresh start after flat


def test_positions_are_per_market_symbol():
    b = book(slippage_bps=D(0))
    b.place(order("buy", "1", "100"), T0)
    b.place(order("buy", "2", "10", symbol="ETH/USDT"), T0)
    assert b.position("BTC/USDT").qty == 1 and b.position("ETH/USDT").qty == 2
    assert b.position("SOL/USDT") == Position()
    assert "SOL/USDT" not in b.positions


# ---------------------------------------------------------------- limit orders


def test_a_limit_buy_rests_and_reserves_quote_including_its_fee():
    b = book()
    assert b.place(order("buy", "2", "100", kind="limit", cid="tvdL"), T0) is None
    assert list(b.resting) == ["tvdL"]
    assert used(b, "USDT") == D("200.2")  # 2 * 100 * 1.001
    assert free(b, "USDT") == D("99799.8")
    assert b.position("BTC/USDT") == Position()


def test_a_limit_sell_rests_and_reserves_base():
    b = book(BTC="3")
    assert b.place(order("sell", "2", "100", kind="limit"), T0) is None
    assert (free(b, "BTC"), used(b, "BTC")) == (D(1), D(2))
    with pytest.raises(PaperRejected, match="insufficient BTC: the order sells 2 BTC, 1 is free"):
        b.place(order("sell", "2", "100", kind="limit"), T0)


def test_a_limit_buy_without_the_funds_is_refused():
    b = book(USDT="200")
    with pytest.raises(PaperRejected) as caught:
        b.place(order("buy", "2", "100", kind="limit"), T0)
    assert str(caught.value).startswith(
        "insufficient USDT: the order needs 200.20 USDT (incl. fee 0.20), 200.00 is free"
    )
    assert (free(b, "USDT"), b.balances["USDT"].used, b.resting) == (D(200), 0, {})


def test_reserved_funds_are_not_free_for_the_next_order():
    b = book(slippage_bps=D(0), USDT="300")
    b.place(order("buy", "2", "100", kind="limit"), T0)  # 200.2 reserved, 99.8 free
    with pytest.raises(PaperRejected, match=r"99\.80 is free"):
        b.place(order("buy", "1", "100"), T0)


@pytest.mark.parametrize(("price", "fills"), [("101", False), ("100", True), ("95", True)])
def test_a_limit_buy_fills_when_the_price_crosses_at_the_limit(price, fills):
    b = book()
    b.place(order("buy", "2", "100", kind="limit", cid="tvdL"), T0)
    result = b.on_price("BTC/USDT", D(price), T0 + 60)
    if not fills:
        assert result == [] and "tvdL" in b.resting and used(b, "USDT") == D("200.2")
        return
    assert result == [
        Fill(
            client_order_id="tvdL",
            symbol="BTC/USDT",
            side="buy",
            qty=D(2),
            price=D(100),  # the limit, no slippage, even when the price fell further
            fee=D("0.2"),
            fee_currency="USDT",
            realized_pnl=D(0),
            at=T0 + 60,
            maker=True,
        )
    ]
    assert b.resting == {}
    assert (free(b, "USDT"), used(b, "USDT")) == (D("99799.8"), D(0))  # reserve consumed exactly
    assert free(b, "BTC") == D(2)
    assert b.position("BTC/USDT") == Position(D(2), D("100.1"))


@pytest.mark.parametrize(("price", "fills"), [("99", False), ("100", True), ("130", True)])
def test_a_limit_sell_fills_when_the_price_crosses_at_the_limit(price, fills):
    b = book(slippage_bps=D(0), USDT="1000")
    b.place(order("buy", "2", "90"), T0)  # position 2 @ 90.09
    b.place(order("sell", "2", "100", kind="limit"), T0)
    result = b.on_price("BTC/USDT", D(price), T0 + 1)
    if not fills:
        assert result == [] and used(b, "BTC") == D(2)
        return
    (fill,) = result
    assert (fill.price, fill.fee, fill.maker) == (D(100), D("0.2"), True)
    assert fill.realized_pnl == D("19.62")  # (100 - 90.09) * 2 - 0.2
    assert (free(b, "BTC"), used(b, "BTC")) == (D(0), D(0))
    assert free(b, "USDT") == D("1019.62")  # 1000 - 180.18 + 199.8


def test_a_price_for_another_symbol_fills_nothing():
    b = book()
    b.place(order("buy", "1", "100", kind="limit"), T0)
    assert b.on_price("ETH/USDT", D(1), T0) == []
    assert len(b.resting) == 1


def test_crossed_orders_fill_in_created_order_and_uncrossed_ones_stay():
    b = book(slippage_bps=D(0))
    b.place(order("buy", "1", "100", kind="limit", cid="tvdLATE", at=T0 + 5), T0 + 5)
    b.place(order("buy", "1", "90", kind="limit", cid="tvdLOW", at=T0 + 1), T0 + 1)
    b.place(order("buy", "1", "95", kind="limit", cid="tvdEARLY", at=T0), T0)
    fills = b.on_price("BTC/USDT", D(94), T0 + 10)
    assert [f.client_order_id for f in fills] == ["tvdEARLY", "tvdLATE"]
    assert list(b.resting) == ["tvdLOW"]
    assert used(b, "USDT") == D("90.09")


def test_an_expired_order_never_fills():
    b = book()
    b.place(order("buy", "1", "100", kind="limit", expires_at=T0 + 60), T0)
    assert b.on_price("BTC/USDT", D(50), T0 + 60) == []


def test_cancel_releases_the_reservation_exactly():
    b = book()
    b.place(order("buy", "3", "33.33", kind="limit", cid="tvdB"), T0)
    cancelled = b.cancel("tvdB")
    assert cancelled.client_order_id == "tvdB"
    assert (free(b, "USDT"), used(b, "USDT")) == (D(100000), D(0))
    assert b.resting == {}
    with pytest.raises(KeyError):
        b.cancel("tvdB")


def test_cancelling_a_limit_sell_returns_the_base():
    b = book(BTC="1.5")
    b.place(order("sell", "1.25", "100", kind="limit", cid="tvdS"), T0)
    b.cancel("tvdS")
    assert (free(b, "BTC"), used(b, "BTC")) == (D("1.5"), D(0))


def test_expire_cancels_due_orders_and_releases_their_funds():
    b = book(BTC="1", USDT="1000")
    b.place(order("buy", "1", "100", kind="limit", cid="tvdDUE", expires_at=T0 + 60), T0)
    b.place(order("sell", "1", "200", kind="limit", cid="tvdSDUE", expires_at=T0 + 30), T0)
    b.place(order("buy", "1", "90", kind="limit", cid="tvdLATER", expires_at=T0 + 61), T0)
    b.place(order("buy", "1", "80", kind="limit", cid="tvdGTC"), T0)
    assert [o.client_order_id for o in b.expire(T0 + 29)] == []
    assert [o.client_order_id for o in b.expire(T0 + 60)] == ["tvdDUE", "tvdSDUE"]
    assert sorted(b.resting) == ["tvdGTC", "tvdLATER"]
    assert used(b, "USDT") == D("90.09") + D("80.08")
    assert (free(b, "BTC"), used(b, "BTC")) == (D(1), D(0))
    assert b.expire(T0 + 60) == []


def test_a_restored_book_fills_its_resting_orders():
    resting = order("buy", "1", "100", kind="limit", cid="tvdOLD")
    b = PaperBook(
        {"USDT": Balance(D("899.9"), D("100.1"))},
        fee_rate=FEE,
        slippage_bps=SLIP,
        resting=[resting],
    )
    (fill,) = b.on_price("BTC/USDT", D(99), T0)
    assert fill.client_order_id == "tvdOLD"
    assert (free(b, "USDT"), used(b, "USDT"), free(b, "BTC")) == (D("899.9"), D(0), D(1))


# ---------------------------------------------------------------- equity


def test_equity_counts_quote_free_and_reserved_plus_positions_at_prices():
    b = book(slippage_bps=D(0), USDT="1000")
    b.place(order("buy", "1", "100"), T0)  # 899.9 free, position 1 @ 100.1
    b.place(order("buy", "1", "50", kind="limit"), T0)  # 50.05 reserved
    assert b.equity_in("USDT", {"BTC/USDT": D(120)}) == D("899.9") + 120
    assert b.equity_in("USDT", {}) == D("899.9") + D("100.1")  # no price: at cost
    assert b.equity_in("EUR", {}) == 0
