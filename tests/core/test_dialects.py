"""Every real alert format (tests/core/alert_corpus.json, a copy of ../shared/alerts/
corpus.json) read as the trader meant or refused naming the field; and each rule of
DESIGN.md "Webhook" that makes it so: names, containers, units, stops, text syntaxes."""

import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tvdesk.core.alert.canonical import canonical_json
from tvdesk.core.alert.fields import (
    Alert,
    BodyError,
    InvalidAlert,
    alert_from_dict,
    alert_to_dict,
)
from tvdesk.core.alert.parse import parse_alert
from tvdesk.core.alert.redact import redact
from tvdesk.core.alert.text_forms import load_alert_body
from tvdesk.core.auth import WebhookSecrets, verify_body_secret

SECRET = "whsec_current_0123456789abcdef"
NOW = 1_700_000_000.0
ISO_NOW = datetime.fromtimestamp(NOW, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
CORPUS = json.loads((Path(__file__).parent / "alert_corpus.json").read_text())["entries"]
BASE: dict[str, Any] = {"symbol": "BTCUSDT", "side": "buy", "qty": "0.01"}
SIZED: dict[str, Any] = {"symbol": "BTCUSDT", "qty": "0.01"}  # no side


def render(body: Any) -> bytes:
    text = body if isinstance(body, str) else json.dumps(body)
    return text.replace("SECRET", SECRET).replace("{{timenow}}", ISO_NOW).encode()


def parse(obj: dict[str, Any]) -> Alert:
    return parse_alert(obj, now=NOW, max_age_s=300, max_skew_s=60, webhook_secrets=(SECRET,))


def parse_raw(raw: bytes) -> Alert:
    return parse(load_alert_body(raw))


def problems(obj: dict[str, Any] | bytes) -> dict[str, str]:
    with pytest.raises(InvalidAlert) as caught:
        parse_raw(obj) if isinstance(obj, bytes) else parse(obj)
    return caught.value.fields


def market(symbol: str) -> str:
    """BTC/USDT:USDT, BTCUSDT.P and BTC-USDT-SWAP all name BTCUSDT (mapping is not parsing)."""
    symbol = symbol.upper().split(":")[0].removesuffix(".P").removesuffix("-SWAP")
    return re.sub(r"[^A-Z]", "", symbol)


def dec(value: Any) -> Decimal:
    return Decimal(str(value))


def assert_meant(alert: Alert, meant: dict[str, Any]) -> None:
    assert market(alert.symbol) == market(meant["symbol"])
    if alert.exchange is not None:
        assert alert.exchange == meant.get("exchange", "binance")
    assert alert.order_type == meant["order_type"]
    for name in ("price", "stop_loss", "take_profit", "notional", "qty_pct"):
        expected = dec(meant[name]) if name in meant else None
        assert getattr(alert, name) == expected, name
    if meant.get("close"):
        assert (alert.market_position, alert.target_position) == ("flat", 0)
    elif "qty" in meant and alert.sizing == "target":
        # A quantity beside the resulting position: the target (from flat) is the quantity.
        assert alert.target_position == dec(meant["qty"])
        assert any("not used: trading to the target position" in n for n in alert.notes)
        assert alert.side == meant["side"]
    else:
        assert alert.qty == (dec(meant["qty"]) if "qty" in meant else None)
        assert alert.side == meant["side"]
    assert (
        alert.client_ref is None
        or "Long" not in alert.client_ref.split("-")[:1]
        or (alert.dialect == "json-tvdesk")
    )


@pytest.mark.parametrize("entry", CORPUS, ids=[e["id"] for e in CORPUS])
def test_corpus_entry_reads_as_meant_or_is_refused_naming_the_field(entry):
    raw = render(entry["body"])
    obj = load_alert_body(raw)
    assert verify_body_secret(obj, WebhookSecrets(SECRET), NOW).ok
    for value in entry.get("never_stored", ()):
        assert value not in canonical_json(redact(obj, [SECRET]))
    meant = entry["meant"]
    if "refuse" in meant:
        with pytest.raises(InvalidAlert) as caught:
            parse(obj)
        said = caught.value.message + " " + " ".join(caught.value.fields.values())
        assert re.search(meant["refuse_pattern"], said), said
        return
    alert = parse(obj)
    assert_meant(alert, meant)
    assert alert.dialect.split("-")[:2] == entry["dialect"].split("-")[:2]
    assert alert_from_dict(json.loads(json.dumps(alert_to_dict(alert)))) == alert
    for then in entry.get("then", ()):
        assert_meant(parse_raw(render(then["body"])), then["meant"])


def test_the_corpus_dialects_are_named_in_the_trail():
    named = {
        e["id"]: parse_raw(render(e["body"])).dialect for e in CORPUS if "refuse" not in e["meant"]
    }
    assert named["traderspost-strategy-template"] == "json-traderspost"
    assert named["3commas-signal-bot-strategy"] == "json-3commas"
    assert named["okx-signal-bot-enter-long"] == "json-okx-signal-bot"
    assert named["octobot-basic"] == "text-kv-lines-octobot"
    assert named["pineconnector-buy"] == "text-comma-pineconnector"
    assert named["tradingview-default-strategy-message"] == "text-tradingview-default"


# ---------------------------------------------------------------- names


@pytest.mark.parametrize("name", ["stopLoss", "stop_loss", "STOP-LOSS", "Stop Loss", "stop.loss"])
def test_names_ignore_case_and_separators(name):
    assert parse({**BASE, name: "60000"}).stop_loss == 60000


@pytest.mark.parametrize("name", ["id", "order_id", "orderId", "ID"])
def test_id_and_order_id_are_free_text_never_the_dedupe_key(name):
    alert = parse({**BASE, name: "Long", "client_ref": "tv-1"})
    assert alert.client_ref == "tv-1" and alert.ignored == (name,)


@pytest.mark.parametrize(
    ("name", "value", "attr", "expected"),
    [
        ("instrument", "ETHUSDT", "symbol", "ETHUSDT"),
        ("tv_exchange", "BYBIT", "exchange", "bybit"),
        ("order_action", "sell", "side", "sell"),
        ("signalPrice", "10", "price", 10),
        ("trigger_price", "10", "price", 10),
        ("source_timestamp", ISO_NOW, "timestamp", NOW),
        ("idempotencyKey", "k-1", "client_ref", "k-1"),
        ("sentiment", "bullish", "market_position", "long"),
    ],
)
def test_other_products_aliases(name, value, attr, expected):
    base = {k: v for k, v in BASE.items() if k != attr}
    assert getattr(parse({**base, name: value}), attr) == expected


def test_an_unknown_field_is_listed_a_trade_changing_one_refused():
    assert parse({**BASE, "interval": "15", "maxLag": 60}).ignored == ("interval", "maxLag")
    for name in ("marginMode", "trailing_offset", "reduceOnly", "risk", "stopPrice"):
        assert name in problems({**BASE, name: 5})
    assert parse({**BASE, "reduce_only": False}).ignored == ("reduce_only",)


# ---------------------------------------------------------------- actions


@pytest.mark.parametrize(("word", "side"), [("ENTER_LONG", "buy"), ("enter-short", "sell")])
def test_enter_words(word, side):
    assert parse({**SIZED, "action": word}).side == side


@pytest.mark.parametrize("word", ["exit", "CLOSE", "flat", "exit_long", "EXIT_SHORT"])
def test_a_close_without_a_size_trades_to_flat(word):
    alert = parse({"symbol": "BTCUSDT", "action": word})
    assert (alert.side, alert.target_position, alert.sizing) == (None, 0, "target")
    assert any("close the position" in note for note in alert.notes)


def test_exit_long_or_short_with_a_size_trades_that_size():
    assert parse({**SIZED, "action": "exit_long"}).side == "sell"
    assert parse({**SIZED, "action": "exit_short"}).side == "buy"
    assert "closes the whole position" in problems({**SIZED, "action": "exit"})["action"]


def test_cancel_carries_no_size():
    alert = parse({"symbol": "BTCUSDT", "action": "cancel", "quantity": "1"})
    assert (alert.side, alert.sizing, alert.qty, alert.ignored) == (
        "cancel",
        "cancel",
        None,
        ("quantity",),
    )


# ---------------------------------------------------------------- containers


def test_a_strategy_object_of_placeholders_is_flattened():
    alert = parse(
        {
            "ticker": "BTCUSDT",
            "strategy": {
                "order_action": "sell",
                "position_size": -0.02,
                "market_position_size": 0.02,
            },
        }
    )
    assert (alert.side, alert.target_position) == ("sell", Decimal("-0.02"))
    assert alert.ignored == ("strategy.market_position_size",)


def test_market_position_size_stands_in_for_the_position_size():
    body = {"ticker": "X", "strategy_info": {"market_position": "short", "market_position_size": 2}}
    assert parse(body).target_position == -2


def test_aliases_in_a_container_that_disagree_are_refused():
    fields = problems({**BASE, "order": {"amount": "0.02"}})
    assert "disagree" in fields["order.amount"]


# ---------------------------------------------------------------- units


@pytest.mark.parametrize(
    ("unit", "attr"),
    [
        ("base", "qty"),
        ("fixed_quantity", "qty"),
        ("dollar_amount", "notional"),
        ("QUOTE", "notional"),
        ("usdt", "notional"),
        ("percentage", "qty_pct"),
        ("percent_of_balance", "qty_pct"),
        ("contracts", "qty"),
    ],
)
@pytest.mark.parametrize("field", ["quantityType", "currency_type", "investmentType", "unit"])
def test_a_unit_field_says_what_the_quantity_counts(unit, attr, field):
    alert = parse({"symbol": "BTCUSDT", "side": "buy", "quantity": "25", field: unit})
    assert getattr(alert, attr) == 25
    assert alert.qty_unit == ("contracts" if unit == "contracts" else "base")


def test_an_unknown_unit_is_refused_listing_the_supported_ones():
    fields = problems({**BASE, "quantityType": "percent_of_equity"})
    assert "dollar_amount" in fields["quantityType"] and "percentage" in fields["quantityType"]


def test_a_percent_of_the_position_is_a_sell_only():
    sell = parse({**BASE, "side": "sell", "quantityType": "percent_of_position", "qty": 50})
    assert sell.qty_pct == 50
    assert "sell only" in problems({**BASE, "quantityType": "percent_of_position"})["quantityType"]


# ---------------------------------------------------------------- stop-loss / take-profit


def test_percent_and_amount_from_the_entry_mirrored_for_a_sell():
    stops = {"stopLoss": {"percent": 5}, "takeProfit": {"amount": "100.5"}}
    buy = parse({**BASE, "price": "1000", **stops})
    sell = parse({**BASE, "side": "sell", "price": "1000", **stops})
    assert (buy.stop_loss, buy.take_profit) == (Decimal(950), Decimal("1100.5"))
    assert (sell.stop_loss, sell.take_profit) == (Decimal(1050), Decimal("899.5"))


def test_a_stop_from_the_entry_needs_an_entry_price():
    fields = problems({**BASE, "stopLoss": {"percent": 5}})
    assert "entry price" in fields["stopLoss.percent"]


def test_a_stop_price_in_the_object_and_a_limit_price_as_the_entry():
    alert = parse({**BASE, "limitPrice": "100", "stopLoss": {"stopPrice": "90", "type": "stop"}})
    assert (alert.order_type, alert.price, alert.stop_loss) == ("limit", 100, 90)


@pytest.mark.parametrize(
    "extra",
    [
        {"stopLoss": {"type": "trailing_stop", "trailAmount": 5}},
        {"stopLoss": {"trailPercent": 1}},
        {"trail_offset": 10},
    ],
)
def test_a_trailing_stop_is_refused(extra):
    assert any(
        "trailing stop-loss is not supported" in p for p in problems({**BASE, **extra}).values()
    )


# ---------------------------------------------------------------- limit price


def test_a_limit_price_with_order_type_market_is_refused_naming_both():
    fields = problems({**BASE, "orderType": "market", "limitPrice": 10})
    assert set(fields) == {"orderType", "limitPrice"}


# ---------------------------------------------------------------- text bodies


def test_semicolon_separated_key_values_with_prices():
    alert = parse_raw(
        f"SYMBOL=BTCUSDT;SIGNAL=SELL;VOLUME=0.5;ORDER_TYPE=LIMIT;PRICE=100;STOP_PRICE=110;"
        f"TAKE_PROFIT_PRICE=90;TOKEN={SECRET}".encode()
    )
    assert (alert.side, alert.qty, alert.order_type, alert.price) == (
        "sell",
        Decimal("0.5"),
        "limit",
        100,
    )
    assert (alert.stop_loss, alert.take_profit) == (110, 90)


def test_an_unknown_key_in_a_command_syntax_is_refused():
    assert "LEVERAGE" in problems(
        f"SYMBOL=X\nSIGNAL=BUY\nQTY=1\nLEVERAGE=5\nTOKEN={SECRET}".encode()
    )
    assert "x" in problems(f"s=X b=buy q=1 t=market x=1 secret={SECRET}".encode())


def test_autoview_percent_and_default_type():
    alert = parse_raw(f"s=BTCUSDT b=sell q=10% t=market secret={SECRET}".encode())
    assert alert.qty_pct == 10 and alert.qty is None
    assert "t" in problems(f"s=BTCUSDT b=buy q=1 secret={SECRET}".encode())
    assert parse_raw(f"s=X b=buy q=1 p=5 secret={SECRET}".encode()).order_type == "limit"


def test_pineconnector_commands_and_options():
    alert = parse_raw(f"{SECRET},closelong,BTCUSDT".encode())
    assert alert.target_position == 0
    buy = parse_raw(f"{SECRET},buy,BTCUSDT,risk=0.2,sl=60000,tp=70000".encode())
    assert (buy.qty, buy.stop_loss, buy.take_profit) == (Decimal("0.2"), 60000, 70000)
    assert any("risk=0.2 read as a quantity" in note for note in buy.notes)
    assert "betrailing" in problems(f"{SECRET},buy,BTCUSDT,risk=1,betrailing=5".encode())
    assert "buylimit" in problems(f"{SECRET},buylimit,BTCUSDT,risk=1".encode())["side"]


def test_tradingview_default_message_of_a_short():
    raw = f"{SECRET}\nS: order sell @ 0.02 filled on BTCUSDT.P. New strategy position is -0.02"
    alert = parse_raw(raw.encode())
    assert (alert.symbol, alert.target_position, alert.strategy) == (
        "BTCUSDT.P",
        Decimal("-0.02"),
        "S",
    )


@pytest.mark.parametrize("text", ["buy BTCUSDT now", "hello", "BTCUSDT, price = 1", "123"])
def test_an_unrecognisable_text_is_400_naming_the_forms_tvdesk_reads(text):
    with pytest.raises(BodyError, match="KEY=VALUE lines"):
        load_alert_body(text.encode())


def test_broken_json_stays_a_json_error():
    with pytest.raises(BodyError, match="not JSON") as caught:
        load_alert_body(b'{"symbol": ')
    assert "KEY=VALUE" not in str(caught.value)


def test_a_text_body_replays_from_its_journaled_form():
    alert = parse_raw(f"{SECRET},buy,BTCUSDT,risk=0.01".encode())
    journaled = canonical_json(
        redact(load_alert_body(f"{SECRET},buy,BTCUSDT,risk=0.01".encode()), [SECRET])
    )
    assert SECRET not in journaled
    assert parse_raw(journaled.encode()) == alert


def test_an_alert_journaled_before_these_fields_still_loads():
    old = {
        k: v
        for k, v in alert_to_dict(parse(BASE)).items()
        if k not in ("dialect", "ignored", "qty_unit")
    }
    alert = alert_from_dict(old)
    assert (alert.dialect, alert.ignored, alert.qty_unit) == ("", (), "base")


# ---------------------------------------------------------------- property

UNIT_NAMES = ["quantityType", "currency_type", "investmentType", "unit", "qty_unit"]
UNITS = ["base", "coin", "dollar_amount", "quote", "usd", "percentage", "percent", "contracts"]
UNITS += ["percent_of_position", "margin", "lots", "", "BASE", "Dollar-Amount"]
WORDS = ["buy", "SELL", "long", "exit", "ENTER_LONG", "closeall", "cancel", "hold", "10%"]
WORDS += ["0.01", "1e3", "-1", "NaN", "{{close}}", SECRET, "", "market", "limit", "BTCUSDT"]
KEYS = ["SYMBOL", "SIGNAL", "VOLUME", "QTY", "PRICE", "TOKEN", "ORDER_TYPE", "STOP_PRICE"]
KEYS += ["e", "s", "b", "q", "t", "p", "c", "secret", "risk", "sl", "tp", "trail", "x"]
words = st.sampled_from(WORDS) | st.text(max_size=6)
pairs = st.lists(st.tuples(st.sampled_from(KEYS), words), max_size=6)
text_bodies = st.one_of(
    pairs.map(lambda ps: "\n".join(f"{k}={v}" for k, v in ps)),
    pairs.map(lambda ps: ";".join(f"{k}={v}" for k, v in ps)),
    pairs.map(lambda ps: " ".join(f"{k}={v}" for k, v in ps)),
    st.tuples(words, words, words, pairs).map(
        lambda t: ",".join([t[0], t[1], t[2], *(f"{k}={v}" for k, v in t[3])])
    ),
    st.tuples(words, words, words, words).map(
        lambda t: (
            f"{SECRET}\nS: order {t[0]} @ {t[1]} filled on {t[2]}. New strategy position is {t[3]}"
        )
    ),
    st.tuples(words, st.text(max_size=30)).map(lambda t: f"{t[0]}\n{t[1]}"),
)
json_bodies = st.fixed_dictionaries(
    {"symbol": words, "action": words, "quantity": words},
    optional={
        "units": st.tuples(st.sampled_from(UNIT_NAMES), st.sampled_from(UNITS)),
        "price": words,
        "stopLoss": st.dictionaries(
            st.sampled_from(["percent", "amount", "type", "trailPercent"]), words
        ),
        "strategy": st.dictionaries(
            st.sampled_from(["position_size", "order_contracts", "x"]), words
        ),
        "limitPrice": words,
        "sentiment": words,
    },
).map(
    lambda d: {
        **{k: v for k, v in d.items() if k != "units"},
        **dict([d.get("units", ("", 0))][: "units" in d]),
    }
)


@settings(max_examples=300, deadline=None)
@given(body=text_bodies.map(str.encode) | json_bodies.map(lambda d: json.dumps(d).encode()))
def test_no_body_in_any_dialect_raises_anything_else_nor_reads_a_unit_as_coins(body):
    try:
        obj = load_alert_body(body)
        alert = parse(obj)
    except (BodyError, InvalidAlert):
        return
    assert alert_from_dict(alert_to_dict(alert)) == alert
    units = {k: v for k, v in obj.items() if k in UNIT_NAMES and v.strip()}
    says_base = all(v.lower() in ("base", "coin") for v in units.values())
    says_contracts = all(v == "contracts" for v in units.values())
    if units and alert.qty is not None:
        assert says_base or (says_contracts and alert.qty_unit == "contracts")
