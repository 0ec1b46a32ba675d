"""The webhook's field table (DESIGN.md, "Webhook: POST /webhook") made executable."""

import json
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tvdesk.core.alert.canonical import body_hash, canonical_json
from tvdesk.core.alert.fields import (
    SECRET_FIELDS,
    Alert,
    BodyError,
    InvalidAlert,
    alert_from_dict,
    alert_to_dict,
)
from tvdesk.core.alert.json_body import load_body
from tvdesk.core.alert.parse import parse_alert
from tvdesk.core.alert.redact import redact, scrub_runs

SECRET = "whsec_current_0123456789abcdef"
NOW = 1_700_000_000.0  # 2023-11-14T22:13:20Z
BASE: dict[str, Any] = {"symbol": "BTCUSDT", "side": "buy", "qty": 1}


def parse(obj: dict[str, Any], **kw: Any) -> Alert:
    kw.setdefault("webhook_secrets", (SECRET,))
    return parse_alert(obj, now=NOW, max_age_s=300, max_skew_s=60, **kw)


def problems(obj: dict[str, Any], **kw: Any) -> dict[str, str]:
    with pytest.raises(InvalidAlert) as caught:
        parse(obj, **kw)
    return caught.value.fields


def casings(name: str) -> list[str]:
    return sorted({name, name.upper(), name.title(), name.capitalize()})


# ---------------------------------------------------------------- aliases

SIZING = ("qty", "quantity", "size", "amount", "contracts", "notional", "qty_pct")
# (alias, value sent, Alert attribute, expected, other fields to send)
ALIASES: list[tuple[str, Any, str, Any, dict[str, Any]]] = [
    ("symbol", " BINANCE:BTCUSDT.P ", "symbol", "BINANCE:BTCUSDT.P", {"side": "buy", "qty": 1}),
    ("ticker", "BTC-USDT", "symbol", "BTC-USDT", {"side": "buy", "qty": 1}),
    ("side", " SELL ", "side", "sell", {"symbol": "X", "qty": 1}),
    ("action", "Long", "side", "buy", {"symbol": "X", "qty": 1}),
    *[(a, "0.5", "qty", Decimal("0.5"), {"symbol": "X", "side": "buy"}) for a in SIZING[:5]],
    ("notional", 250, "notional", Decimal(250), {"symbol": "X", "side": "buy"}),
    ("qty_pct", "12.5", "qty_pct", Decimal("12.5"), {"symbol": "X", "side": "buy"}),
    ("position_size", -2, "target_position", Decimal(-2), {"symbol": "X"}),
    ("target_position", "3", "target_position", Decimal(3), {"symbol": "X"}),
    ("market_position", "FLAT", "target_position", Decimal(0), {"symbol": "X"}),
    ("exchange", "BINANCE", "exchange", "binance", BASE),
    ("order_type", "LIMIT", "order_type", "limit", {**BASE, "price": 10}),
    ("type", "Market", "order_type", "market", BASE),
    ("price", "42000.5", "price", Decimal("42000.5"), BASE),
    ("stop_loss", 41000, "stop_loss", Decimal(41000), BASE),
    ("take_profit", Decimal("43000.0"), "take_profit", Decimal(43000), BASE),
    ("client_ref", " tv-1 ", "client_ref", "tv-1", BASE),
    ("client_id", "abc", "client_ref", "abc", BASE),
    ("idempotency_key", 12345, "client_ref", "12345", BASE),
    ("timestamp", "2023-11-14T22:13:00Z", "timestamp", NOW - 20, BASE),
    ("time", int(NOW) * 1000, "timestamp", NOW, BASE),
    ("timenow", str(int(NOW)), "timestamp", NOW, BASE),
    ("confidence", "0.85", "confidence", Decimal("0.85"), BASE),
    ("strategy", "rsi-break", "strategy", "rsi-break", BASE),
    ("comment", 42, "comment", "42", BASE),
    ("signal", "BUY", "signal", "BUY", BASE),
    ("test", "TRUE", "test", True, BASE),
]


@pytest.mark.parametrize(
    ("key", "value", "attr", "expected", "others"),
    [(k, v, a, e, o) for alias, v, a, e, o in ALIASES for k in casings(alias)],
)
def test_every_alias_in_every_case(key, value, attr, expected, others):
    alert = parse({**others, key: value})
    assert getattr(alert, attr) == expected


def test_unknown_fields_are_ignored_and_listed():
    alert = parse({**BASE, "signature": "abc", "nested": {"a": [1]}})
    assert alert.ignored == ("signature", "nested")
    assert alert.dialect == "json-generic"
    assert replace(alert, ignored=(), dialect="json-tvdesk") == parse(BASE)


def test_an_unknown_field_that_would_change_the_trade_is_refused():
    assert "marginMode" in problems({**BASE, "marginMode": "isolated"})


def test_leverage_is_read_and_checked():
    assert parse({**BASE, "leverage": "5x"}).leverage == Decimal(5)
    assert "1 or more" in problems({**BASE, "leverage": "0.5"})["leverage"]


def test_defaults():
    alert = parse(BASE)
    assert alert.order_type == "market"
    assert alert.test is False
    assert alert.exchange is None
    assert alert.sizing == "qty"


def test_null_and_blank_values_count_as_not_given():
    alert = parse({**BASE, "price": None, "stop_loss": "  ", "size": "", "exchange": ""})
    assert (alert.price, alert.stop_loss, alert.exchange, alert.qty) == (None, None, None, 1)


# ---------------------------------------------------------------- conflicts


@pytest.mark.parametrize(
    ("extra", "names"),
    [
        ({"qty": "0.1", "size": "0.2"}, ("qty", "size")),
        ({"side": "buy", "action": "sell"}, ("side", "action")),
        ({"symbol": "BTCUSDT", "ticker": "ETHUSDT"}, ("symbol", "ticker")),
        ({"Qty": 1, "qty": 2}, ("Qty", "qty")),
        ({"client_id": "a", "client_ref": "b"}, ("client_id", "client_ref")),
        ({"time": int(NOW), "timenow": int(NOW) - 60}, ("time", "timenow")),
    ],
)
def test_aliases_that_disagree_are_named_together(extra, names):
    fields = problems({**BASE, **extra})
    for name in names:
        assert "disagree" in fields[name]
        assert all(other in fields[name] for other in names)
        assert "send only one" in fields[name]


def test_disagreement_message_shows_both_values():
    fields = problems({**BASE, "qty": Decimal("0.1"), "size": Decimal("0.2")})
    assert fields["qty"] == "qty and size disagree (0.1 vs 0.2): send only one"
    assert fields["size"] == fields["qty"]


@pytest.mark.parametrize(
    "extra",
    [
        {"qty": Decimal("0.1"), "size": "0.10"},
        {"side": "BUY", "action": "long"},
        {"QTY": 1, "qty": 1},
        {"time": int(NOW) * 1000, "timestamp": "2023-11-14T22:13:20Z"},
        {"client_ref": 7, "client_id": "7"},
    ],
)
def test_aliases_that_agree_are_fine(extra):
    parse({**BASE, **extra})


def test_three_aliases_disagreeing():
    fields = problems({**BASE, "qty": 1, "size": 2, "amount": 3})
    assert fields["amount"] == "qty, size and amount disagree (1 vs 2 vs 3): send only one"


# ---------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        ("0.5", Decimal("0.5")),
        (" 1e-3 ", Decimal("0.001")),
        ("+2", Decimal(2)),
        (".25", Decimal("0.25")),
        (3, Decimal(3)),
        (Decimal("0.1"), Decimal("0.1")),
        ("123456789012345.123456789012345", Decimal("123456789012345.123456789012345")),
        ("9999999999999999", Decimal("9999999999999999")),
        ("1e-18", Decimal("1e-18")),
    ],
)
def test_numbers_and_numeric_strings(sent, expected):
    assert parse({**BASE, "qty": sent}).qty == expected


@pytest.mark.parametrize(
    ("sent", "words"),
    [
        (True, "must be a number"),
        ("abc", "must be a number"),
        ("1,5", "must be a number"),
        ("1_000", "must be a number"),
        ([1], "must be a number"),
        ("NaN", "not a finite number"),
        ("-inf", "not a finite number"),
        (Decimal("Infinity"), "not a finite number"),
        (0, "greater than 0"),
        ("-1", "greater than 0"),
    ],
)
def test_bad_quantities(sent, words):
    assert words in problems({**BASE, "qty": sent})["qty"]


@pytest.mark.parametrize("sent", ["1e999999999", "1e16", 10**16, "1e-19", "1e-999999999"])
def test_absurd_numbers_are_out_of_range(sent):
    assert problems({**BASE, "qty": sent}) == {"qty": "qty is out of range: send a plain number"}
    fields = problems({"symbol": "X", "position_size": sent})
    assert fields == {"position_size": "position_size is out of range: send a plain number"}


def test_a_zero_with_a_huge_exponent_is_still_zero():
    assert parse({"symbol": "X", "position_size": "0e999999999"}).target_position == 0


@pytest.mark.parametrize(
    ("field", "sent", "ok"),
    [
        ("qty_pct", "100", True),
        ("qty_pct", "0.01", True),
        ("qty_pct", 0, False),
        ("qty_pct", "100.5", False),
        ("confidence", 0, True),
        ("confidence", 1, True),
        ("confidence", "1.01", False),
        ("confidence", "-0.1", False),
        ("price", "0", False),
        ("stop_loss", -5, False),
        ("take_profit", "1e3", True),
        ("notional", "-10", False),
    ],
)
def test_ranges(field, sent, ok):
    obj = {**BASE, field: sent}
    if field in ("qty_pct", "notional"):
        del obj["qty"]
    if ok:
        parse(obj)
    else:
        assert field in problems(obj)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"symbol":"BTCUSDT","side":"buy","qty":NaN}', "qty"),
        (b'{"symbol":"BTCUSDT","side":"buy","qty":1,"price":Infinity}', "price"),
        (b'{"symbol":"BTCUSDT","side":"buy","qty":1,"stop_loss":-Infinity}', "stop_loss"),
        (b'{"symbol":"BTCUSDT","position_size":NaN}', "position_size"),
        (b'{"symbol":"BTCUSDT","side":"buy","qty":1,"confidence":NaN}', "confidence"),
    ],
)
def test_nan_and_infinity_are_invalid_alerts(body, field):
    obj = load_body(body)
    assert "not a finite number" in problems(obj)[field]


def test_nan_in_a_field_tvdesk_does_not_read_is_ignored():
    assert parse(load_body(b'{"symbol":"X","side":"buy","qty":1,"rsi":NaN}')).qty == 1


# ---------------------------------------------------------------- placeholders


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("symbol", "{{ticker}}"),
        ("qty", "{{strategy.order.contracts}}"),
        ("side", "{{strategy.order.action}}"),
        ("price", "{{close}}"),
        ("client_ref", "tv_{{timenow}}_{{strategy.order.id}}"),
        ("timestamp", "{{timenow}}"),
        ("comment", "{{strategy.order.comment}}"),
    ],
)
def test_unreplaced_placeholders(field, value):
    message = problems({**BASE, field: value})[field]
    assert "TradingView did not replace the placeholder" in message
    assert "strategy alerts" in message


def test_load_body_explains_an_unquoted_placeholder():
    with pytest.raises(BodyError) as caught:
        load_body(b'{"symbol": "BTCUSDT", "side": "buy", "qty": {{strategy.position_size}}}')
    assert "placeholder" in str(caught.value)


# ---------------------------------------------------------------- sizing and side


@pytest.mark.parametrize(
    ("sizing_fields", "sizing", "attr", "expected"),
    [
        ({"qty": 2}, "qty", "qty", Decimal(2)),
        ({"notional": "100"}, "notional", "notional", Decimal(100)),
        ({"qty_pct": 50}, "qty_pct", "qty_pct", Decimal(50)),
        ({"position_size": "1.5"}, "target", "target_position", Decimal("1.5")),
        ({"target_position": -1}, "target", "target_position", Decimal(-1)),
        ({"market_position": "flat"}, "target", "target_position", Decimal(0)),
        ({"market_position": "flat", "position_size": 0}, "target", "target_position", 0),
        ({"market_position": "short", "position_size": 2}, "target", "target_position", -2),
        ({"market_position": "short", "position_size": -2}, "target", "target_position", -2),
        ({"market_position": "long", "position_size": 2}, "target", "target_position", 2),
        ({"market_position": "long", "qty": 1}, "qty", "market_position", "long"),
    ],
)
def test_each_way_of_sizing(sizing_fields, sizing, attr, expected):
    alert = parse({"symbol": "BTCUSDT", "side": "buy", **sizing_fields})
    assert alert.sizing == sizing
    assert getattr(alert, attr) == expected


def test_negating_a_short_target_keeps_every_digit():
    size = "1234567890.12345678901234567890123"
    alert = parse({"symbol": "X", "market_position": "short", "position_size": size})
    assert alert.target_position == Decimal("-" + size)
    assert str(alert.target_position) == "-" + size


def test_a_target_needs_no_side_but_keeps_one():
    assert parse({"symbol": "X", "position_size": 1}).side is None
    assert parse({"symbol": "X", "position_size": 1, "action": "sell"}).side == "sell"


def test_no_sizing_at_all():
    fields = problems({"symbol": "X", "side": "buy"})
    assert set(fields) == {"qty"}
    for way in ("qty", "quantity", "size", "amount", "contracts", "notional", "qty_pct"):
        assert way in fields["qty"]
    assert "position_size" in fields["qty"]


def test_an_empty_quantity_says_empty():
    assert problems({"symbol": "X", "side": "buy", "size": ""})["size"].startswith("size is empty")


@pytest.mark.parametrize(
    "sizing_fields",
    [
        {"qty": 1, "notional": 10},
        {"size": 1, "qty_pct": 10},
        {"notional": 10, "position_size": 1},
        {"qty_pct": 1, "market_position": "flat"},
        {"qty": 1, "notional": 10, "qty_pct": 5, "target_position": 0},
    ],
)
def test_more_than_one_way_of_sizing_names_each(sizing_fields):
    fields = problems({"symbol": "X", "side": "buy", **sizing_fields})
    assert set(fields) == set(sizing_fields)
    for name in sizing_fields:
        assert "send only one" in fields[name]


@pytest.mark.parametrize(
    "target", [{"market_position": "flat"}, {"position_size": "0.5"}, {"target_position": 0}]
)
def test_a_quantity_beside_the_resulting_position_trades_to_the_target(target):
    # TradingView's {{strategy.order.contracts}} beside {{strategy.position_size}}.
    alert = parse({"symbol": "X", "side": "sell", "contracts": 2, **target})
    assert alert.sizing == "target" and alert.qty is None
    assert f"contracts 2 not used: trading to the target position {alert.target_position}" in (
        alert.notes
    )


@pytest.mark.parametrize(
    "target",
    [
        {"market_position": "flat", "position_size": 1},
        {"market_position": "long", "position_size": -1},
        {"market_position": "long", "position_size": 0},
        {"market_position": "short", "position_size": 0},
    ],
)
def test_contradictory_targets(target):
    assert "position_size" in problems({"symbol": "X", **target})


def test_market_position_must_be_long_short_or_flat():
    fields = problems({**BASE, "market_position": "sideways"})
    assert "long or short or flat" in fields["market_position"]


@pytest.mark.parametrize("side", ["hold", "b", 1, True, "exit now"])
def test_bad_sides(side):
    assert "buy or sell" in problems({**BASE, "side": side})["side"]


@pytest.mark.parametrize("word", ["close", "EXIT", "flat", "closelong", "exit_short", "Close-Long"])
def test_a_close_word_as_side_closes_the_position(word):
    alert = parse({"symbol": "X", "action": word})
    assert (alert.side, alert.market_position, alert.target_position) == (None, "flat", 0)
    assert alert.sizing == "target"


def test_hold_as_side_gets_no_closing_hint():
    assert "market_position" not in problems({**BASE, "side": "hold"})["side"]


def test_missing_side_and_symbol():
    fields = problems({"qty": 1})
    assert set(fields) == {"symbol", "side"}
    assert '"side": "buy" or "sell"' in fields["side"]


# ---------------------------------------------------------------- other fields


def test_limit_needs_price():
    fields = problems({**BASE, "order_type": "limit"})
    assert "needs a price" in fields["price"]
    assert parse({**BASE, "order_type": "limit", "price": 5}).order_type == "limit"


@pytest.mark.parametrize("order_type", ["stop", "stop_loss", "take_profit", 1])
def test_other_order_types_are_refused(order_type):
    assert "market or limit" in problems({**BASE, "type": order_type})["type"]


@pytest.mark.parametrize(
    ("symbol", "words"),
    [(123, "must be text"), ("X" * 65, "longer than 64"), (" ", "is empty"), ({}, "text")],
)
def test_bad_symbols(symbol, words):
    assert words in problems({**BASE, "symbol": symbol})["symbol"]


def test_symbol_of_64_characters_is_fine():
    assert parse({**BASE, "symbol": "X" * 64}).symbol == "X" * 64


def test_exchange_must_be_text():
    assert "exchange" in problems({**BASE, "exchange": 5})


@pytest.mark.parametrize("ref", [True, 1.5, Decimal("2.0"), "x" * 129, ["a"]])
def test_bad_client_refs(ref):
    assert "client_ref" in problems({**BASE, "client_ref": ref})


def test_client_ref_of_128_characters_is_fine():
    assert parse({**BASE, "client_ref": "x" * 128}).client_ref == "x" * 128


@pytest.mark.parametrize(
    ("sent", "expected"),
    [(True, True), (False, False), ("false", False), ("True", True), (1, True), (0, False)],
)
def test_test_flag(sent, expected):
    assert parse({**BASE, "test": sent}).test is expected


@pytest.mark.parametrize("sent", ["yes", 2, [True]])
def test_bad_test_flags(sent):
    assert "true or false" in problems({**BASE, "test": sent})["test"]


def test_free_text_is_kept_and_numbers_become_text():
    alert = parse({**BASE, "strategy": 7, "comment": Decimal("1.50"), "signal": " Buy! "})
    assert (alert.strategy, alert.comment, alert.signal) == ("7", "1.50", " Buy! ")
    # An object is TradingView's strategy placeholders, flattened (test_dialects.py).
    assert parse({**BASE, "strategy": {"a": 1}}).ignored == ("strategy.a",)


# ---------------------------------------------------------------- timestamps


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        ("2023-11-14T22:13:20Z", NOW),
        ("2023-11-14T23:13:20+01:00", NOW),
        ("2023-11-14T22:13:19.5Z", NOW - 0.5),
        ("2023-11-14 22:13:20", NOW),  # naive means UTC
        ("2023-11-14t22:13:20.000000001z", NOW),
        (int(NOW), NOW),
        (Decimal("1700000000.25"), NOW + 0.25),
        (str(int(NOW)), NOW),
        (int(NOW) * 1000, NOW),
        (str(int(NOW) * 1000 + 500), NOW + 0.5),
    ],
)
def test_timestamp_forms(sent, expected):
    assert parse({**BASE, "timestamp": sent}).timestamp == pytest.approx(expected)


@pytest.mark.parametrize("sent", ["yesterday", "2023-13-40T00:00:00Z", True, 0, -5, [1], "1e400"])
def test_unparseable_timestamps(sent):
    assert "timestamp" in problems({**BASE, "timestamp": sent})


def test_stale_timestamp_explains_time_and_timenow():
    sent = datetime(2019, 8, 27, 9, 56, tzinfo=UTC).timestamp()
    alert = {**BASE, "time": "2019-08-27T09:56:00Z"}
    assert parse_alert(alert, now=sent + 300, max_age_s=300, max_skew_s=60).timestamp == sent
    with pytest.raises(InvalidAlert) as caught:
        parse_alert(alert, now=sent + 412, max_age_s=300, max_skew_s=60)
    assert caught.value.fields == {
        "time": "time 2019-08-27T09:56:00Z is 412 s old (limit 300 s). In TradingView use "
        "{{timenow}} (when the alert fired); {{time}} is the bar's open time"
    }
    assert caught.value.message == caught.value.fields["time"]


def test_future_timestamp_mentions_the_clock():
    message = problems({**BASE, "timestamp": int(NOW) + 61})["timestamp"]
    assert "61 s in the future (limit 60 s)" in message
    assert "clock" in message
    parse({**BASE, "timestamp": int(NOW) + 60})


def test_age_limit_is_inclusive():
    parse({**BASE, "timestamp": int(NOW) - 300})
    assert "timestamp" in problems({**BASE, "timestamp": int(NOW) - 301})


def test_replays_skip_the_age_check():
    alert = parse({**BASE, "timestamp": "2019-08-27T09:56:00Z"}, check_age=False)
    assert alert.timestamp == datetime(2019, 8, 27, 9, 56, tzinfo=UTC).timestamp()


def test_missing_timestamp_is_noted():
    assert parse(BASE).notes == ("no timestamp in the alert: age not checked",)
    assert parse({**BASE, "timestamp": int(NOW)}).notes == ()


# ---------------------------------------------------------------- secrets and credentials


# Named every way bridges name them: matched by what the normalised name contains.
CREDENTIAL_NAMES = (
    *("apikey", "api_key", "api-key", "apiKey", "apisecret", "api_secret", "apiSecret"),
    *("api_password", "password", "Password", "PASSWD", "api_passphrase", "secret_key"),
    *("private_key", "privateKey", "api_secret_key", "binance_api_key", "BYBIT-API-SECRET"),
    *("access_token", "accessKey", "auth_token", "api_token", "mnemonic", "seed_phrase"),
    *("client_secret", "wallet_private_key", "exchange_credentials"),
)
CREDENTIAL_FIX = (
    "tvdesk never takes exchange credentials in alerts: put API keys in the Secrets tab "
    "(tvdesk keeps them in the OS keyring)"
)


@pytest.mark.parametrize("key", [c for name in CREDENTIAL_NAMES for c in casings(name)])
def test_exchange_credentials_are_refused(key):
    obj = {**BASE, key: "live-key-value"}
    fields = problems(obj)
    assert fields[key] == f"remove {key}: {CREDENTIAL_FIX}"
    assert redact(obj, [SECRET]) == BASE


@pytest.mark.parametrize(
    "key", ["api_secret_key", "apiSecret", "private_key", "Password", "binance_api_key"]
)
def test_credential_names_seen_in_the_wild_are_refused_and_dropped(key):
    obj = {**BASE, "strategy": "s", key: "Zq8vLm2Np4Rt6Xw0"}
    fields = problems(obj)
    assert set(fields) == {key}
    assert "Zq8vLm2Np4Rt6Xw0" not in json.dumps(fields)
    assert "Zq8vLm2Np4Rt6Xw0" not in canonical_json(redact(obj, [SECRET]))


def test_a_credential_nested_in_a_container_is_refused_by_its_path():
    obj = {**BASE, "order": {"symbol": "BTCUSDT", "api_secret_key": "TRgXYMOOVUBzQVb7"}}
    fields = problems(obj)
    assert fields == {"order.api_secret_key": f"remove order.api_secret_key: {CREDENTIAL_FIX}"}
    assert "TRgXYMOOVUBzQVb7" not in canonical_json(redact(obj, [SECRET]))


@pytest.mark.parametrize("key", ["strategy", "comment", "signal", "keyword", "tokenizer"])
def test_ordinary_names_are_not_credentials(key):
    assert parse({**BASE, key: "text", "secret": SECRET}).symbol == "BTCUSDT"


def test_runs_of_the_secret_are_cut_out_of_authenticated_values():
    piece = SECRET[5:15]  # ten characters of the secret, not the whole of it
    obj = {**BASE, "comment": f"see {piece} here", "secret": SECRET}
    clean = redact(obj, [SECRET])
    assert clean["comment"] == "see [redacted] here"
    alert = parse(obj)
    assert alert.comment == "see [redacted] here"
    assert piece[:8] not in json.dumps(alert_to_dict(alert))
    # Seven characters in a row are not a run: ordinary text stays as it is.
    assert redact({"comment": SECRET[5:12]}, [SECRET]) == {"comment": SECRET[5:12]}


def test_a_number_sharing_digits_with_a_hand_made_secret_still_reads_as_sent():
    # SECRET holds "0123456789": the kept copy loses them, the trade does not.
    obj = {**BASE, "qty": "0.0123456789", "secret": SECRET}
    assert parse(obj).qty == Decimal("0.0123456789")
    assert "01234567" not in canonical_json(redact(obj, [SECRET]))


def test_scrub_runs_cuts_each_stretch_of_runs_once():
    text = f"a{SECRET[0:9]}b{SECRET[10:30]}c{SECRET[:7]}"
    assert scrub_runs(text, [SECRET]) == f"a[redacted]b[redacted]c{SECRET[:7]}"


@pytest.mark.parametrize("key", [c for name in SECRET_FIELDS for c in casings(name)])
def test_a_secret_field_carrying_the_webhook_secret_is_fine(key):
    parse({**BASE, key: SECRET})


def test_a_secret_that_is_not_the_webhook_secret_looks_like_an_exchange_secret():
    fields = problems({**BASE, "token": SECRET, "secret": "binance-api-secret"})
    assert set(fields) == {"secret"}
    assert fields["secret"] == (
        "remove secret: it is not the webhook secret, so it looks like an exchange "
        f"credential; {CREDENTIAL_FIX}"
    )
    assert "binance-api-secret" not in fields["secret"]


def test_secret_fields_need_a_webhook_secret_to_compare_with():
    assert "secret" in problems({**BASE, "secret": SECRET}, webhook_secrets=())
    assert "passphrase" in problems({**BASE, "passphrase": 12345})


@pytest.mark.parametrize(
    "blank", [{"apiKey": ""}, {"passphrase": ""}, {"token": None}, {"api_secret": "  "}]
)
def test_blank_credential_and_secret_fields_count_as_not_given(blank):
    obj = {**BASE, "secret": SECRET, **blank}
    assert parse(obj).qty == 1
    assert redact(obj, [SECRET]) == BASE


def test_previous_secret_accepted_when_passed():
    parse({**BASE, "secret": "old"}, webhook_secrets=(SECRET, "old"))


def test_no_secret_in_any_message():
    obj = {
        "secret": SECRET,
        "symbol": SECRET,
        "qty": SECRET,
        "size": 2,
        "client_ref": "tv_" + SECRET,
        "passphrase": "exchange-passphrase",
        "apiSecret": "exchange-api-secret",
    }
    with pytest.raises(InvalidAlert) as caught:
        parse(obj)
    text = caught.value.message + json.dumps(caught.value.fields)
    for secret in (SECRET, "exchange-passphrase", "exchange-api-secret"):
        assert secret not in text


def test_summary_message_names_each_field():
    with pytest.raises(InvalidAlert) as caught:
        parse({"qty": 1})
    assert caught.value.message.startswith("the alert has 2 problems: symbol, side")
    assert str(caught.value) == caught.value.message


# ---------------------------------------------------------------- seed dialects

SEEDS: list[tuple[dict[str, Any], dict[str, Any]]] = [
    (
        {
            "symbol": "BTCUSDT",
            "exchange": "binance",
            "strategy": "rsi-break",
            "signal": "BUY",
            "side": "BUY",
            "price": 42000.0,
            "size": 0.001,
            "client_ref": "tv_2023-11-14T22:13:20Z_Long",
        },
        {"side": "buy", "qty": Decimal("0.001"), "price": Decimal(42000), "signal": "BUY"},
    ),
    (
        {
            "symbol": "BTC/USDT",
            "side": "buy",
            "order_type": "market",
            "quantity": 0.1,
            "confidence": 0.85,
            "stop_loss": 66000.0,
            "take_profit": 69000.0,
            "timestamp": int(NOW * 1000) - 1500,
            "signature": "hmac_sha256_signature",
        },
        {"symbol": "BTC/USDT", "qty": Decimal("0.1"), "timestamp": NOW - 1.5},
    ),
    (
        {
            "token": SECRET,
            "exchange": "BINANCE",
            "symbol": "BTCUSDT",
            "side": "sell",
            "amount": "0.25",
            "price": "42000.5",
        },
        {"exchange": "binance", "qty": Decimal("0.25"), "price": Decimal("42000.5")},
    ),
    (
        {
            "ticker": "AAPL",
            "action": "BUY",
            "quantity": 10,
            "order_type": "MARKET",
            "timestamp": "2023-11-14T22:12:30Z",
            "signature": "",
        },
        {"symbol": "AAPL", "side": "buy", "qty": Decimal(10), "order_type": "market"},
    ),
    (
        {"secret": SECRET, "symbol": "BTCUSDT", "side": "buy", "qty": 0.5},
        {"qty": Decimal("0.5"), "sizing": "qty"},
    ),
]


@pytest.mark.parametrize(("payload", "expected"), SEEDS)
def test_seed_dialects_parse_unchanged(payload, expected):
    alert = parse(load_body(json.dumps(payload, indent=2).encode()))
    for attr, value in expected.items():
        assert getattr(alert, attr) == value


def test_seed_with_exchange_keys_in_the_alert_is_refused():
    payload = {
        "token": SECRET,
        "exchange": "BINANCE",
        "apiKey": "your_api_key",
        "secret": "your_api_secret",
        "symbol": "BTCUSDT",
        "side": "buy",
        "amount": "0.25",
        "price": "42000.5",
    }
    assert set(problems(payload)) == {"apiKey", "secret"}


# ---------------------------------------------------------------- load_body


def test_load_body_numbers():
    obj = load_body(b'\xef\xbb\xbf{"a": 1, "b": 1.50, "c": 1e3, "d": [NaN, -Infinity]}')
    assert obj["a"] == 1 and type(obj["a"]) is int
    assert obj["b"] == Decimal("1.50") and type(obj["b"]) is Decimal
    assert obj["c"] == Decimal(1000)
    assert obj["d"][0].is_nan() and obj["d"][1] == Decimal("-Infinity")


@pytest.mark.parametrize(
    ("raw", "where"),
    [
        (b'{"symbol": "X", "side": "buy", "qty": 1, "side": "sell"}', "top level"),
        (b'{"symbol": "X", "meta": {"side": "buy", "n": 1.5, "side": NaN}}', "nested"),
        (b'{"symbol": "X", "list": [{"side": 1}, {"side": 2, "side": 3}]}', "in a list"),
    ],
)
def test_load_body_refuses_a_repeated_key(raw, where):
    with pytest.raises(BodyError) as caught:
        load_body(raw)
    assert str(caught.value) == (
        'the key "side" appears twice in one object: send it once — send the alert message as '
        'a JSON object, e.g. {"symbol": "BTCUSDT", ...}'
    ), where


def test_a_repeated_long_key_is_not_quoted():
    # It could be a pasted secret, and a BodyError's message is not scrubbed.
    with pytest.raises(BodyError) as caught:
        load_body(f'{{"{SECRET}": 1, "{SECRET}": 2}}'.encode())
    assert str(caught.value).startswith("a key appears twice in one object: send it once — ")
    assert SECRET[:8] not in str(caught.value)


def test_the_same_key_in_different_objects_or_cases_is_not_repeated():
    obj = load_body(b'{"side": "buy", "meta": {"side": "sell"}, "Qty": 1.5, "qty": 2}')
    assert obj["meta"] == {"side": "sell"} and obj["Qty"] == Decimal("1.5")
    assert "disagree" in problems({**obj, "symbol": "X"})["Qty"]


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b"", "the body is empty"),
        (b"  \n", "the body is empty"),
        (b"BUY BTCUSDT", "the body is not JSON: Expecting value at line 1 column 1 — send"),
        (b'{"a": 1', "the body is not JSON"),
        (b"[1, 2]", "the body is JSON but not an object (got a list)"),
        (b'"text"', "not an object (got a string)"),
        (b"42", "not an object (got a number)"),
        (b"null", "not an object (got null)"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b"[" * 5000 + b"]" * 5000, "the body is"),
        (b'{"a": ' * 40 + b"1" + b"}" * 40, "nested more than 32 levels"),
        (b'{"a": ' + b"9" * 5000 + b"}", "not usable JSON"),
        (b'{"a": 1e99999999999999999999}', "not usable JSON"),
    ],
)
def test_load_body_refusals(raw, words):
    with pytest.raises(BodyError) as caught:
        load_body(raw)
    assert words in str(caught.value)
    assert "JSON object" in str(caught.value)


# ---------------------------------------------------------------- redact, canonical JSON, hash


def test_redact_removes_secrets_at_any_depth():
    obj = {
        "Secret": SECRET,
        "symbol": "X",
        "meta": {"TOKEN": "t", "list": [{"apiKey": "k", "passphrase": "p", "keep": SECRET}]},
        "client_ref": f"tv_{SECRET}_1",
        "tuple": (SECRET, 1),
        "api_password": "pw",
    }
    clean = redact(obj, [SECRET, ""])
    assert clean == {
        "symbol": "X",
        "meta": {"list": [{"keep": "[redacted]"}]},
        "client_ref": "tv_[redacted]_1",
        "tuple": ("[redacted]", 1),
    }
    assert obj["Secret"] == SECRET  # a copy, the original is untouched


def test_redact_ignores_empty_secrets():
    assert redact({"a": "x", "b": ""}, ["", ""]) == {"a": "x", "b": ""}


def test_canonical_json():
    obj = {"b": Decimal("0.10"), "a": [1, True, None, "é"], "c": Decimal("1E+2")}
    text = canonical_json(obj)
    assert text == '{"a":[1,true,null,"é"],"b":0.10,"c":1E+2}'
    assert json.loads(text, parse_float=Decimal) == obj


def test_canonical_json_non_finite_numbers_follow_pythons_json():
    obj = {"n": Decimal("NaN"), "i": Decimal("Infinity"), "m": Decimal("-Infinity"), "f": 0.5}
    assert canonical_json(obj) == '{"f":0.5,"i":Infinity,"m":-Infinity,"n":NaN}'
    back = json.loads(canonical_json(obj), parse_float=Decimal, parse_constant=Decimal)
    assert back["i"] == obj["i"] and back["n"].is_nan()


def test_body_hash_ignores_key_order_and_whitespace():
    a = load_body(b'{"symbol": "X", "qty": 1.0}')
    b = load_body(b'{\n  "qty":1.0,"symbol":"X"}')
    assert body_hash(a) == body_hash(b)
    assert len(body_hash(a)) == 64
    assert body_hash(a) != body_hash(load_body(b'{"symbol": "X", "qty": 1.5}'))


# ---------------------------------------------------------------- alert_to_dict / alert_from_dict

ROUND_TRIP = [
    {**BASE},
    {
        "symbol": "BINANCE:BTCUSDT.P",
        "side": "sell",
        "exchange": "Binance",
        "notional": "100.50",
        "order_type": "limit",
        "price": "42000.1",
        "stop_loss": 41000,
        "take_profit": "1e5",
        "client_ref": 99,
        "timestamp": "2023-11-14T22:13:19.25Z",
        "confidence": "0.9",
        "strategy": "s",
        "comment": "c",
        "signal": "x",
        "test": True,
    },
    {"symbol": "X", "market_position": "short", "position_size": 3},
    {"symbol": "X", "side": "buy", "qty_pct": "25"},
]


@pytest.mark.parametrize("payload", ROUND_TRIP)
def test_alert_dict_round_trip(payload):
    alert = parse(payload)
    d = alert_to_dict(alert)
    back = alert_from_dict(json.loads(json.dumps(d)))
    assert back == alert
    assert all(type(getattr(back, k)) is type(getattr(alert, k)) for k in d)


def test_alert_to_dict_keeps_none_and_writes_decimals_as_text():
    d = alert_to_dict(parse({**BASE, "qty": "0.50"}))
    assert d["qty"] == "0.50" and d["price"] is None
    assert d["notes"] == ["no timestamp in the alert: age not checked"]


# ---------------------------------------------------------------- property: only the two errors

FIELD_NAMES = sorted(
    {"symbol", "ticker", "side", "action", "qty", "quantity", "size", "amount", "contracts"}
    | {"notional", "qty_pct", "position_size", "target_position", "market_position", "type"}
    | {"order_type", "price", "stop_loss", "take_profit", "client_ref", "id", "time", "timenow"}
    | {"timestamp", "confidence", "strategy", "comment", "signal", "test", "exchange"}
    | {*SECRET_FIELDS, *CREDENTIAL_NAMES, "QTY", "Side"}
)
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**15), max_value=10**15),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["buy", "SELL", "long", "flat", "limit", "{{close}}", "0.5", " 1e-3 "]),
    st.sampled_from(["2023-11-14T22:13:20Z", "1700000000000", "NaN", "-Infinity", SECRET]),
)
json_values = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=10,
)
objects = st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=8), json_values)
# A valid alert with a few fields changed reaches the later checks (and sometimes passes).
near_valid = st.dictionaries(st.sampled_from(FIELD_NAMES), json_values, max_size=2).map(
    lambda changes: {**BASE, **changes}
)
bodies = st.one_of(
    st.one_of(objects, near_valid, json_values).map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=64),
)


@settings(max_examples=200, deadline=None)
@given(body=bodies)
def test_parsing_anything_raises_only_body_error_or_invalid_alert(body):
    try:
        alert = parse(load_body(body))
    except InvalidAlert as e:
        assert e.fields and SECRET not in e.message + "".join(e.fields.values())
    except BodyError:
        pass
    else:
        assert alert_from_dict(alert_to_dict(alert)) == alert
    try:
        obj = load_body(body)
    except BodyError:
        return
    clean = redact(obj, [SECRET])
    assert SECRET not in canonical_json(clean)
    assert len(body_hash(clean)) == 64


# ---------------------------------------------------------------- ASCII digits only

# int() and Decimal() read the digits of every script; an alert's numbers are 0-9 only.
OTHER_DIGITS = ["١٢٣", "１２３", "٣٫٥", "٣.٥", "1２", "+١", "۱۲۳", "१२३", "½", "１e2"]
NUMBER_FIELDS = ["qty", "notional", "price", "stop_loss", "take_profit", "confidence"]


@pytest.mark.parametrize("sent", OTHER_DIGITS)
@pytest.mark.parametrize("field", NUMBER_FIELDS)
def test_numbers_in_other_scripts_name_the_field_and_ask_for_ascii(field, sent):
    # notional is a way of sizing: sent instead of the quantity, not beside it.
    sizing = {"side": "buy"} if field == "notional" else BASE
    shown = json.dumps(sent, ensure_ascii=False)
    wanted = f"{field} must be written with ASCII digits 0-9; got {shown}"
    assert problems({"symbol": "X", **sizing, field: sent})[field] == wanted


@pytest.mark.parametrize("sent", ["١٧٠٠٠٠٠٠٠٠", "１７００００００００", "2023-11-14T22:1３:20Z"])
def test_a_timestamp_in_other_digits_asks_for_ascii(sent):
    fields = problems({**BASE, "timestamp": sent})
    assert "timestamp must be written with ASCII digits 0-9" in fields["timestamp"]


def test_a_target_position_in_other_digits_asks_for_ascii():
    fields = problems({"symbol": "X", "position_size": "-٢"})
    assert "position_size must be written with ASCII digits 0-9" in fields["position_size"]
