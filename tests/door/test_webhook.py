"""The webhook door (DESIGN.md, "Webhook: POST /webhook") through a real engine over HTTP.

Each test starts the engine the app runs on ephemeral loopback ports with a real SQLite
journal in a temp dir, sends real requests, and checks what a trader would see: the
status, the reply's words, and what `tvdesk export` shows afterwards.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.kit.door import (
    NOW,
    SECRET,
    Door,
    Reply,
    alert,
    encode,
    hmac_hex,
    leaked,
    open_door,
    tvdesk_signature,
)
from tvdesk import __version__
from tvdesk.config.schema import AuthSettings, ListenerSettings, Settings
from tvdesk.engine.errors import EngineError
from tvdesk.support.logs import EventLogger, setup_logging, stop_logging

AUTH_FORMS = ("body", "x-signature", "tvdesk")


@pytest.fixture
async def door(tmp_path: Path) -> AsyncIterator[Door]:
    async with open_door(tmp_path / "data") as opened:
        yield opened


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def assert_refused(reply: Reply, status: int, error: str) -> dict[str, Any]:
    assert reply.status == status, reply.text
    assert reply.is_json
    body = reply.json
    assert body["status"] == "rejected"
    assert body["error"] == error
    assert body["message"]
    return body


# ---------------------------------------------------------------- 200 accepted


async def test_an_accepted_alert_is_journaled_before_the_reply(door: Door):
    reply = await door.send(alert(client_ref="tv-1", qty="0.25", side="SELL"))

    assert reply.status == 200
    body = reply.json
    assert body["status"] == "accepted"
    assert set(body) == {"status", "alert_id"}
    # Read straight away, through a connection of our own: no waiting for the engine.
    conn = sqlite3.connect(f"file:{door.paths.journal_file}?mode=ro", uri=True)
    try:
        row = conn.execute(
            "SELECT status, symbol, side, qty FROM alerts WHERE alert_id = ?", (body["alert_id"],)
        ).fetchone()
    finally:
        conn.close()
    assert row == ("accepted", "BTCUSDT", "sell", "0.25")
    record = door.record(body["alert_id"])
    assert record["client_ref"] == "tv-1"
    assert record["status"] == "accepted"
    assert record["error"] is None
    assert record["received_at"] == iso(NOW)


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "text/plain; charset=utf-8", "application/json", "application/octet-stream"],
)
async def test_text_plain_and_json_content_types_are_both_accepted(door: Door, content_type):
    # TradingView sends text/plain unless the message parses as JSON.
    reply = await door.send(alert(), content_type=content_type)

    assert reply.status == 200, reply.text
    assert door.record(reply.json["alert_id"])["status"] == "accepted"


async def test_fifty_alerts_at_one_bar_close_are_all_accepted(door: Door):
    replies = await asyncio.gather(*(door.send(alert()) for _ in range(50)))

    assert [r.status for r in replies] == [200] * 50
    ids = {r.json["alert_id"] for r in replies}
    assert len(ids) == 50
    assert {r["alert_id"] for r in door.records() if r["status"] == "accepted"} == ids


# ---------------------------------------------------------------- every seed dialect

SEEDS: list[tuple[dict[str, Any], tuple[str, str, str]]] = [
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
        ("BTCUSDT", "buy", "0.001"),
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
        ("BTC/USDT", "buy", "0.1"),
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
        ("BTCUSDT", "sell", "0.25"),
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
        ("AAPL", "buy", "10"),
    ),
    (
        {"secret": SECRET, "symbol": "BTCUSDT", "side": "buy", "qty": 0.5},
        ("BTCUSDT", "buy", "0.5"),
    ),
]


@pytest.mark.parametrize("how", ["secret added", "signed"])
@pytest.mark.parametrize(("payload", "expected"), SEEDS, ids=[f"seed{i}" for i in range(5)])
async def test_every_seed_dialect_is_accepted_over_http(door: Door, payload, expected, how):
    has_secret = any(key in payload for key in ("secret", "token"))
    if how == "signed":
        body = json.dumps(payload, indent=2).encode()
        reply = await door.post(body, door.signature_headers(body, "tvdesk", SECRET))
    elif has_secret:
        reply = await door.post(json.dumps(payload).encode(), content_type="text/plain")
    else:
        reply = await door.post({**payload, "secret": SECRET}, content_type="text/plain")

    assert reply.status == 200, reply.text
    record = door.record(reply.json["alert_id"])
    assert (record["symbol"], record["side"], record["qty"]) == expected


# ---------------------------------------------------------------- authentication


@pytest.mark.parametrize("key", ["secret", "token", "passphrase", "SECRET", "Token", "PassPhrase"])
async def test_the_secret_in_the_body_authenticates_under_every_name(door: Door, key):
    reply = await door.post({**alert(), key: SECRET})

    assert reply.status == 200, reply.text
    assert door.record(reply.json["alert_id"])["status"] == "accepted"


@pytest.mark.parametrize(
    ("header", "prefix", "upper"),
    [
        ("X-Signature", "", False),
        ("X-Signature-256", "", False),
        ("X-Webhook-Signature", "", False),
        ("X-Signature", "sha256=", False),
        ("X-Signature-256", "sha256=", True),
        ("x-webhook-signature", "SHA256=", False),
    ],
)
async def test_an_hmac_signature_header_authenticates(door: Door, header, prefix, upper):
    body = encode(alert())
    digest = hmac_hex(SECRET, body)

    reply = await door.post(body, {header: prefix + (digest.upper() if upper else digest)})

    assert reply.status == 200, reply.text


async def test_an_x_tvdesk_signature_authenticates(door: Door):
    body = encode(alert())

    reply = await door.post(body, {"X-TVDesk-Signature": tvdesk_signature(SECRET, body, int(NOW))})

    assert reply.status == 200, reply.text


async def test_no_secret_is_401_and_says_where_to_put_one(door: Door):
    reply = await door.post(alert())

    body = assert_refused(reply, 401, "unauthorized")
    assert "alert_id" not in body
    assert '"secret"' in body["message"]
    assert "X-Signature" in body["message"]


async def test_a_wrong_secret_is_401(door: Door):
    reply = await door.send(alert(), secret="whsec_not_the_one")

    body = assert_refused(reply, 401, "unauthorized")
    assert "alert_id" not in body
    assert "secret in the alert is wrong" in body["message"]
    assert "copy the current one" in body["message"]


@pytest.mark.parametrize("auth", ["x-signature", "tvdesk"])
async def test_a_signature_made_with_the_wrong_secret_is_401(door: Door, auth):
    reply = await door.send(alert(), auth=auth, secret="whsec_not_the_one")

    body = assert_refused(reply, 401, "unauthorized")
    assert "alert_id" not in body
    assert "does not match" in body["message"]


async def test_a_signature_over_another_body_is_401(door: Door):
    signed = encode(alert(qty="1"))
    sent = encode(alert(qty="100"))

    reply = await door.post(sent, {"X-Signature": hmac_hex(SECRET, signed)})

    assert "does not match" in assert_refused(reply, 401, "unauthorized")["message"]


@pytest.mark.parametrize(
    ("age", "words"), [(301, "stale: signed 301 s ago"), (-301, "from the future")]
)
async def test_an_x_tvdesk_signature_outside_five_minutes_is_401(door: Door, age, words):
    body = encode(alert())
    signature = tvdesk_signature(SECRET, body, int(NOW) - age)

    reply = await door.post(body, {"X-TVDesk-Signature": signature})

    assert words in assert_refused(reply, 401, "unauthorized")["message"]


@pytest.mark.parametrize("value", ["", " "])
async def test_an_empty_signature_header_leaves_the_body_secret_to_authenticate(door: Door, value):
    # Some relays forward an empty X-Signature header with every request.
    reply = await door.send(alert(), headers={"X-Signature": value})

    assert reply.status == 200, reply.text


async def test_a_wrong_signature_header_wins_over_a_right_body_secret(door: Door):
    # The header is checked first; a body secret cannot rescue a bad signature.
    reply = await door.post({**alert(), "secret": SECRET}, {"X-Signature": "0" * 64})

    assert_refused(reply, 401, "unauthorized")


async def test_a_wrong_signature_on_a_body_that_is_not_json_is_401_not_400(door: Door):
    reply = await door.post(b"BUY BTCUSDT", {"X-Signature": hmac_hex("whsec_nope", b"x")})

    assert_refused(reply, 401, "unauthorized")


@pytest.mark.parametrize("auth", AUTH_FORMS)
async def test_a_wrong_secret_on_an_alert_with_bad_fields_is_401_not_422(door: Door, auth):
    # Authentication comes before validation: a stranger learns nothing about the fields.
    reply = await door.send(alert(side="hold", qty="-1"), auth=auth, secret="whsec_not_the_one")

    body = assert_refused(reply, 401, "unauthorized")
    assert "fields" not in body


@pytest.mark.parametrize("auth", AUTH_FORMS)
async def test_the_old_secret_works_for_the_grace_window_after_a_rotation(door: Door, auth):
    grace = door.settings.auth.rotation_grace_s
    old = door.secret
    new = door.rotate_secret()
    assert new != old

    door.clock.advance(grace - 1)
    assert (await door.send(alert(), auth=auth, secret=old)).status == 200
    assert (await door.send(alert(), auth=auth, secret=new)).status == 200

    door.clock.advance(2)
    late = await door.send(alert(), auth=auth, secret=old)
    assert_refused(late, 401, "unauthorized")
    assert "rotated?" in late.json["message"]
    assert (await door.send(alert(), auth=auth, secret=new)).status == 200


# ---------------------------------------------------------------- 400 invalid_json


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"BUY BTCUSDT 0.01", "the body is not JSON"),
        (b'[{"symbol": "BTCUSDT"}]', "not an object (got a list)"),
        (b"", "the body is empty"),
        (b'{"symbol": "BTCUSDT", "price": {{close}}}', "placeholder like {{close}}"),
    ],
)
async def test_a_body_that_is_not_a_json_object_is_400(door: Door, body, words):
    reply = await door.post(body, content_type="text/plain")

    refused = assert_refused(reply, 400, "invalid_json")
    assert words in refused["message"]
    assert "send the alert message as a JSON object" in refused["message"]
    assert "alert_id" not in refused


async def test_a_signed_body_that_is_not_json_is_400(door: Door):
    body = b'["buy", "BTCUSDT"]'

    reply = await door.post(body, {"X-Signature": hmac_hex(SECRET, body)})

    assert "not an object" in assert_refused(reply, 400, "invalid_json")["message"]
    await door.settle()
    assert [r["error"] for r in door.records()] == ["invalid_json"]


async def test_unsigned_bodies_that_are_not_json_count_as_failed_authentication(door: Door):
    limit = door.settings.auth.lockout_failures
    for _ in range(limit):
        assert_refused(await door.post(b"not json"), 400, "invalid_json")

    assert_refused(await door.post(b"not json"), 429, "rate_limited")


async def test_signed_bodies_that_are_not_json_do_not_lock_the_sender_out(door: Door):
    body = b"not json"
    headers = {"X-Signature": hmac_hex(SECRET, body)}
    for _ in range(door.settings.auth.lockout_failures + 5):
        assert_refused(await door.post(body, headers), 400, "invalid_json")


async def test_a_repeated_key_is_400_naming_it(door: Door):
    body = b'{"symbol": "BTCUSDT", "side": "buy", "qty": "0.01", "side": "sell"}'

    reply = await door.post(body, {"X-Signature": hmac_hex(SECRET, body)})

    refused = assert_refused(reply, 400, "invalid_json")
    assert refused["message"] == (
        'the key "side" appears twice in one object: send it once — send the alert message '
        'as a JSON object, e.g. {"symbol": "BTCUSDT", ...}'
    )


@pytest.mark.parametrize("escape", [r"\ud800", r"\udfff", r"x\ud83d"])
async def test_a_half_character_escape_is_400_not_a_crash(door: Door, escape):
    raw = '{"secret": "%s", "symbol": "BTCUSDT", "side": "buy", "qty": 1, "comment": "%s"}'
    reply = await door.post((raw % (SECRET, escape)).encode())

    assert "lone surrogate" in assert_refused(reply, 400, "invalid_json")["message"]
    # An escaped pair is one real character and fine.
    ok = await door.post((raw % (SECRET, r"\ud83d\ude00")).encode())
    assert ok.status == 200, ok.text


# ---------------------------------------------------------------- 409 duplicate


# Not id / order_id: bridges fill them with {{strategy.order.id}} ("Long") on every trade.
@pytest.mark.parametrize("alias", ["client_ref", "client_id", "idempotency_key", "CLIENT_REF"])
async def test_a_repeated_client_ref_is_409_naming_the_first_alert(door: Door, alias):
    first = await door.send(alert(client_ref="tv-long-42"))
    assert first.status == 200
    first_id = first.json["alert_id"]

    fields = {**alert(client_ref=None, qty="3"), alias: "tv-long-42"}
    again = await door.send(fields)

    body = assert_refused(again, 409, "duplicate")
    assert body["alert_id"] == first_id
    assert "tv-long-42" in body["message"]
    assert first_id in body["message"]
    records = door.records()
    assert [r["status"] for r in records] == ["accepted", "duplicate"]
    assert records[1]["duplicate_of"] == first_id
    # Refused before any exchange was contacted: export says "rejected", with the reason.
    assert records[1]["outcome"] == "rejected" and first_id in records[1]["reason"]


async def test_a_client_ref_is_a_duplicate_forever_even_after_a_restart(door: Door):
    first = await door.send(alert(client_ref="tv-restart"))
    assert first.status == 200

    await door.restart()
    door.clock.advance(30 * 86400)
    again = await door.send(alert(client_ref="tv-restart"), auth="tvdesk")

    assert assert_refused(again, 409, "duplicate")["alert_id"] == first.json["alert_id"]


async def test_the_same_body_without_client_ref_is_a_duplicate_only_within_the_window(door: Door):
    window = door.settings.auth.dedupe_window_s
    fields = alert(client_ref=None)
    first = await door.send(fields)
    assert first.status == 200

    door.clock.advance(window)
    repeat = await door.send(fields, auth="x-signature")  # signed differently, same alert
    body = assert_refused(repeat, 409, "duplicate")
    assert body["alert_id"] == first.json["alert_id"]
    assert "client_ref" in body["message"]

    door.clock.advance(1)
    later = await door.send(fields)
    assert later.status == 200
    assert later.json["alert_id"] != first.json["alert_id"]


async def test_a_refused_alert_does_not_use_up_its_client_ref(door: Door):
    wrong = await door.send(alert(client_ref="tv-fix-me", side="hold"))
    assert_refused(wrong, 422, "invalid_alert")

    fixed = await door.send(alert(client_ref="tv-fix-me"))
    assert fixed.status == 200, fixed.text
    again = await door.send(alert(client_ref="tv-fix-me"))
    assert assert_refused(again, 409, "duplicate")["alert_id"] == fixed.json["alert_id"]


# A signature proves who sent a body, not when: an attacker who captured one signed request
# (TLS ends at the tunnel, logs, a proxy) must never get it executed again.


@pytest.mark.parametrize("auth", ["x-signature", "tvdesk"])
async def test_a_signed_body_is_taken_once_even_an_hour_later(door: Door, auth):
    body = encode(alert(client_ref=None))  # no client_ref: today's window rule alone
    captured = door.signature_headers(body, auth, door.secret)
    first = await door.post(body, captured)
    assert first.status == 200, first.text
    first_id = first.json["alert_id"]

    door.clock.advance(3600)
    replies = [await door.post(body, door.signature_headers(body, auth, door.secret))]
    if auth == "x-signature":  # the header holds no time: the captured one is still good
        replies.append(await door.post(body, captured))

    for reply in replies:
        refused = assert_refused(reply, 409, "duplicate")
        assert refused["alert_id"] == first_id
        assert "signed body was already received" in refused["message"]
        assert first_id in refused["message"]
    records = door.records()
    assert [r["status"] for r in records] == ["accepted"] + ["duplicate"] * len(replies)
    assert all(r["duplicate_of"] == first_id for r in records[1:])
    assert all(r["outcome"] == "rejected" for r in records[1:])


async def test_a_captured_x_tvdesk_signature_is_refused_within_its_five_minutes(door: Door):
    body = encode(alert(client_ref=None))
    captured = door.signature_headers(body, "tvdesk", door.secret)
    first = await door.post(body, captured)
    assert first.status == 200, first.text

    door.clock.advance(door.settings.auth.dedupe_window_s + 60)
    replayed = await door.post(body, captured)

    assert assert_refused(replayed, 409, "duplicate")["alert_id"] == first.json["alert_id"]


async def test_a_signed_body_is_taken_once_across_a_restart(door: Door):
    body = encode(alert(client_ref=None))
    captured = door.signature_headers(body, "x-signature", door.secret)
    first = await door.post(body, captured)
    assert first.status == 200, first.text

    await door.restart()
    door.clock.advance(30 * 86400)
    replayed = await door.post(body, captured)

    assert assert_refused(replayed, 409, "duplicate")["alert_id"] == first.json["alert_id"]


async def test_a_signed_body_refused_as_from_the_future_is_not_taken_when_its_time_comes(
    door: Door,
):
    ahead = NOW + 600
    body = encode(alert(client_ref=None, timestamp=int(ahead)))
    captured = door.signature_headers(body, "x-signature", door.secret)
    early = await door.post(body, captured)
    assert_refused(early, 422, "invalid_alert")

    door.clock.advance(600)  # now the alert's time is current: replayed, it must not trade
    replayed = await door.post(body, captured)

    assert assert_refused(replayed, 409, "duplicate")["alert_id"] == early.json["alert_id"]


async def test_unsigned_alerts_keep_the_window_rule_and_signed_ones_are_told_apart(door: Door):
    fields = alert(client_ref=None)
    first = await door.send(fields)  # the secret in the body: TradingView's way
    door.clock.advance(3600)
    again = await door.send(fields)  # TradingView resends identical bodies only as retries
    other = await door.send(alert(client_ref=None, qty="0.02"), auth="x-signature")

    assert [r.status for r in (first, again, other)] == [200, 200, 200]


# ---------------------------------------------------------------- 413 too_large


async def test_a_body_over_the_limit_is_413_before_anything_else(door: Door):
    limit = door.settings.listener.max_body_bytes
    body = json.dumps({**alert(), "secret": SECRET, "comment": "x" * limit}).encode()

    reply = await door.post(body, {"X-Signature": hmac_hex(SECRET, body)})

    refused = assert_refused(reply, 413, "too_large")
    assert "alert_id" not in refused
    assert f"the limit is {limit} bytes" in refused["message"]
    assert "listener.max_body_bytes" in refused["message"]
    await door.settle()
    assert [(r["status"], r["error"]) for r in door.records()] == [("rejected", "too_large")]


async def test_a_body_over_the_limit_is_413_even_with_a_wrong_signature(door: Door):
    limit = door.settings.listener.max_body_bytes
    body = json.dumps({**alert(), "comment": "x" * limit}).encode()

    reply = await door.post(body, {"X-Signature": hmac_hex("whsec_not_the_one", body)})

    assert_refused(reply, 413, "too_large")


async def test_a_chunked_body_over_the_limit_is_413(door: Door):
    limit = door.settings.listener.max_body_bytes

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"comment": "'
        for _ in range(limit // 4096 + 1):
            yield b"x" * 4096
        yield b'"}'

    reply = await door.post(chunks())

    assert f"the limit is {limit} bytes" in assert_refused(reply, 413, "too_large")["message"]


async def test_a_body_of_exactly_the_limit_is_accepted(door: Door):
    limit = door.settings.listener.max_body_bytes
    body = encode({**alert(), "secret": SECRET})
    body += b" " * (limit - len(body))

    reply = await door.post(body)

    assert reply.status == 200, reply.text


# ---------------------------------------------------------------- 422 invalid_alert


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (alert(symbol=None), {"symbol": 'symbol is missing: add "symbol"'}),
        (alert(side="hold"), {"side": "side must be buy or sell"}),
        (
            alert(notional=100),
            {"qty": "send only one of a quantity", "notional": "send only one"},
        ),
        (
            alert(qty=1, size=2),
            {"qty": "qty and size disagree (1 vs 2)", "size": "qty and size disagree"},
        ),
        (alert(price="{{close}}"), {"price": "TradingView did not replace the placeholder"}),
        (alert(confidence=2), {"confidence": "confidence must be between 0 and 1"}),
        (alert(qty="-1"), {"qty": "qty must be greater than 0"}),
        (alert(order_type="limit"), {"price": "a limit order needs a price"}),
        (alert(qty="1e999999999"), {"qty": "qty is out of range: send a plain number"}),
    ],
    ids=[
        "missing-symbol",
        "bad-side",
        "two-sizings",
        "qty-vs-size",
        "placeholder",
        "confidence",
        "negative-qty",
        "limit-no-price",
        "absurd-qty",
    ],
)
async def test_a_wrong_field_is_422_naming_it(door: Door, fields, expected):
    reply = await door.send(fields)

    body = assert_refused(reply, 422, "invalid_alert")
    assert set(body["fields"]) == set(expected)
    for name, words in expected.items():
        assert words in body["fields"][name]
        assert name in body["message"]
    record = door.record(body["alert_id"])
    assert (record["status"], record["error"]) == ("rejected", "invalid_alert")
    assert record["fields"] == body["fields"]


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity"])
async def test_a_non_finite_quantity_is_422(door: Door, number):
    raw = f'{{"secret": "{SECRET}", "symbol": "BTCUSDT", "side": "buy", "qty": {number}}}'

    reply = await door.post(raw.encode())

    body = assert_refused(reply, 422, "invalid_alert")
    assert "not a finite number" in body["fields"]["qty"]


@pytest.mark.parametrize(
    ("offset", "words"),
    [(-301, "is 301 s old (limit 300 s)"), (61, "is 61 s in the future (limit 60 s)")],
    ids=["stale", "future"],
)
async def test_a_stale_or_future_timestamp_is_422_and_explains_timenow(door: Door, offset, words):
    reply = await door.send(alert(timestamp=int(NOW) + offset))

    body = assert_refused(reply, 422, "invalid_alert")
    assert set(body["fields"]) == {"timestamp"}
    assert words in body["message"]
    assert "{{timenow}}" in body["message"]


async def test_an_alert_without_a_timestamp_is_accepted(door: Door):
    reply = await door.send(alert(timestamp=None))

    assert reply.status == 200


async def test_exchange_credentials_are_refused_and_never_journaled(door: Door):
    api_key = "AKdoorTEST5f3e2d1c0b9a"
    api_secret = "apisecret-door-9d8c7b6a5f4e"

    with_keys = await door.send(alert(apiKey=api_key, api_secret=api_secret))
    seed_style = await door.post({**alert(), "token": SECRET, "secret": api_secret})

    body = assert_refused(with_keys, 422, "invalid_alert")
    assert set(body["fields"]) == {"apiKey", "api_secret"}
    assert "remove apiKey" in body["fields"]["apiKey"]
    assert "OS keyring" in body["fields"]["apiKey"]
    seed_body = assert_refused(seed_style, 422, "invalid_alert")
    assert set(seed_body["fields"]) == {"secret"}
    assert "not the webhook secret" in seed_body["fields"]["secret"]
    for reply in (with_keys, seed_style):
        assert not leaked(api_key, reply.text) and not leaked(api_secret, reply.text)
    await door.settle()
    assert [r["error"] for r in door.records()] == ["invalid_alert", "invalid_alert"]
    for path, content in door.files().items():
        assert not leaked(api_key, content), path
        assert not leaked(api_secret, content), path


async def test_blank_credential_fields_of_a_template_are_not_refused(door: Door):
    reply = await door.post({**alert(), "secret": SECRET, "apiKey": "", "token": None})

    assert reply.status == 200, reply.text


@pytest.mark.parametrize(
    "key", ["api_secret_key", "apiSecret", "private_key", "Password", "binance_api_key"]
)
async def test_a_credential_field_named_any_way_is_422_and_its_value_never_kept(door: Door, key):
    value = "TRgXYMOOVUBzQVb7m38PZ1ze59UrQC1K"

    reply = await door.send(alert(**{key: value}))

    body = assert_refused(reply, 422, "invalid_alert")
    assert set(body["fields"]) == {key}
    assert f"remove {key}" in body["fields"][key]
    assert "tvdesk never takes exchange credentials in alerts" in body["fields"][key]
    assert "Secrets tab" in body["fields"][key]
    assert not leaked(value, reply.text)
    await door.settle()
    exported = json.dumps(door.records())  # what `tvdesk export` prints
    assert key in exported and not leaked(value, exported)
    for path, content in door.files().items():
        assert not leaked(value, content), path


@pytest.mark.parametrize("auth", AUTH_FORMS)
async def test_part_of_the_secret_in_an_authenticated_alert_is_not_kept(door: Door, auth):
    piece = SECRET[10:20]  # ten characters: not the secret, but most of a guess at it

    reply = await door.send(alert(comment=f"pasted {piece} by mistake"), auth=auth)

    assert reply.status == 200, reply.text
    await door.settle()
    assert door.record(reply.json["alert_id"])["status"] == "accepted"
    runs = [piece[i : i + 8].encode() for i in range(len(piece) - 7)]
    for path, content in door.files().items():
        assert not any(run in content for run in runs), path
    # What is kept of the alert (its body and its parsed fields) says where the cut was.
    kept = await door.engine.journal.run(
        lambda conn: conn.execute(
            "SELECT raw, alert FROM alerts WHERE alert_id = ?", (reply.json["alert_id"],)
        ).fetchone()
    )
    assert all("pasted [redacted] by mistake" in column for column in kept)


async def test_every_problem_is_reported_at_once(door: Door):
    reply = await door.send(alert(symbol=None, side="hold", qty="lots"))

    body = assert_refused(reply, 422, "invalid_alert")
    assert set(body["fields"]) == {"symbol", "side", "qty"}
    assert "the alert has 3 problems" in body["message"]


# ---------------------------------------------------------------- 429 rate_limited


async def fail_times(door: Door, n: int, **kw: Any) -> None:
    for _ in range(n):
        reply = await door.send(alert(), secret="whsec_guess", **kw)
        assert_refused(reply, 401, "unauthorized")


async def test_a_client_that_keeps_failing_is_locked_out_but_its_good_alerts_still_pass(
    door: Door,
):
    await fail_times(door, door.settings.auth.lockout_failures)

    locked = await door.send(alert(), secret="whsec_guess")
    body = assert_refused(locked, 429, "rate_limited")
    retry_after = locked.headers["Retry-After"]
    assert re.fullmatch(r"[1-9][0-9]*", retry_after)
    assert int(retry_after) <= 60
    assert f"try again in {retry_after} s" in body["message"]
    assert "127.0.0.1" in body["message"]
    # TradingView sends everyone's alerts from four addresses: good ones are never held up.
    good = await asyncio.gather(*(door.send(alert(), auth=a) for a in AUTH_FORMS * 10))
    assert [r.status for r in good] == [200] * 30
    assert_refused(await door.post(b"junk"), 429, "rate_limited")

    door.clock.advance(int(retry_after))
    assert_refused(await door.send(alert(), secret="whsec_guess"), 401, "unauthorized")


async def test_a_lower_lockout_setting_takes_effect(tmp_path: Path):
    settings = Settings(listener=ListenerSettings(port=0), auth=AuthSettings(lockout_failures=3))
    async with open_door(tmp_path / "data", settings=settings) as door:
        await fail_times(door, 3)
        assert_refused(await door.send(alert(), secret="x"), 429, "rate_limited")


async def test_behind_the_tunnel_each_forwarded_client_is_locked_out_on_its_own(door: Door):
    limit = door.settings.auth.lockout_failures
    mallory = {"X-Forwarded-For": "203.0.113.7"}
    await fail_times(door, limit, headers=mallory, tunnel=True)

    locked = await door.send(alert(), secret="x", headers=mallory, tunnel=True)
    assert "203.0.113.7" in assert_refused(locked, 429, "rate_limited")["message"]
    # Prepending an address does not help: ngrok appends the real one last.
    spoofed = {"X-Forwarded-For": "198.51.100.1, 203.0.113.7"}
    assert_refused(
        await door.send(alert(), secret="x", headers=spoofed, tunnel=True), 429, "rate_limited"
    )

    other = {"X-Forwarded-For": "198.51.100.20"}
    assert_refused(
        await door.send(alert(), secret="x", headers=other, tunnel=True), 401, "unauthorized"
    )
    # The main port's own client (127.0.0.1) is someone else again.
    assert_refused(await door.send(alert(), secret="x"), 401, "unauthorized")
    good = await door.send(alert(), headers=mallory, tunnel=True)
    assert good.status == 200


async def test_the_main_port_ignores_x_forwarded_for(door: Door):
    limit = door.settings.auth.lockout_failures
    for n in range(limit):
        spoof = {"X-Forwarded-For": f"192.0.2.{n}"}
        assert_refused(await door.send(alert(), secret="x", headers=spoof), 401, "unauthorized")

    fresh = {"X-Forwarded-For": "192.0.2.200"}
    locked = await door.send(alert(), secret="x", headers=fresh)
    body = assert_refused(locked, 429, "rate_limited")
    assert "127.0.0.1" in body["message"]
    assert "192.0.2.200" not in body["message"]


async def test_an_unauthenticated_flood_is_summarised_not_stored_row_by_row(door: Door):
    for _ in range(200):
        reply = await door.send(alert(), secret="whsec_guess")
        assert reply.status in (401, 429)
        door.clock.advance(0.1)
    await door.settle()

    records = door.records()
    assert len(records) <= 10
    assert sum(r.get("count", 1) for r in records) == 200
    summaries = [r for r in records if "count" in r]
    assert summaries
    for summary in summaries:
        assert summary["first_seen"] < summary["last_seen"]
        assert summary["first_seen"].startswith("2023-11-14T22:14:")
        assert "summarised" in summary["message"]
    assert max(r["count"] for r in summaries) >= 200 - door.settings.auth.lockout_failures - 3


# ---------------------------------------------------------------- 503 unavailable


async def test_an_alert_the_journal_cannot_take_is_503_and_the_resend_succeeds(tmp_path: Path):
    async with open_door(tmp_path / "data", journal_busy_timeout_ms=50) as door:
        fields = alert(client_ref="tv-retry")
        blocker = sqlite3.connect(door.paths.journal_file, isolation_level=None)
        try:
            blocker.execute("BEGIN IMMEDIATE")
            reply = await door.send(fields)
            blocker.execute("ROLLBACK")
        finally:
            blocker.close()

        body = assert_refused(reply, 503, "unavailable")
        assert "alert_id" not in body
        assert "could not save the alert" in body["message"]
        assert "nothing was executed" in body["message"]
        assert "resend" in body["message"]
        assert door.records() == []

        # TradingView resends the same alert: it is new to the journal, not a duplicate.
        resent = await door.send(fields)
        assert resent.status == 200, resent.text
        records = door.records()
        assert [(r["alert_id"], r["client_ref"]) for r in records] == [
            (resent.json["alert_id"], "tv-retry")
        ]


# ---------------------------------------------------------------- the port


async def test_a_second_engine_on_a_port_in_use_fails_to_start_and_says_why(
    door: Door, tmp_path: Path
):
    port = door.engine.port
    taken = Settings(listener=ListenerSettings(host="127.0.0.1", port=port))
    second = Door(tmp_path / "second", settings=taken)

    with pytest.raises(EngineError, match=rf"cannot listen on 127\.0\.0\.1:{port} .*--port"):
        await second.start()
    assert not second.paths.engine_file.exists()
    # The first engine keeps the port and still answers.
    assert (await door.request("GET", "/health")).status == 200


# ---------------------------------------------------------------- health and other paths


@pytest.mark.parametrize("tunnel", [False, True], ids=["main", "tunnel"])
async def test_health_reports_mode_version_and_tunnel_and_nothing_secret(door: Door, tunnel):
    reply = await door.request("GET", "/health", tunnel=tunnel)

    assert reply.status == 200
    body = reply.json
    assert body["status"] == "ok"
    assert body["mode"] == "paper"
    assert body["version"] == __version__
    assert body["tunnel"]["state"] == "off"
    assert not leaked(SECRET, reply.text)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/", 404),
        ("POST", "/other", 404),
        ("POST", "/webhook/", 404),
        ("GET", "/webhook", 405),
        ("PUT", "/webhook", 405),
        ("POST", "/health", 405),
    ],
)
@pytest.mark.parametrize("tunnel", [False, True], ids=["main", "tunnel"])
async def test_nothing_else_is_served(door: Door, method, path, status, tunnel):
    reply = await door.request(method, path, data=encode(alert()), tunnel=tunnel)

    assert reply.status == status
    assert not leaked(SECRET, reply.text)


# ---------------------------------------------------------------- secrets never leak


async def test_secrets_never_reach_a_file_or_a_reply(door: Door):
    api_key = "AKleakTEST0a1b2c3d4e5f"
    api_secret = "apisecret-leak-6f7e8d9c0b"
    guess = SECRET[:-1] + "X"  # one character off the real secret
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    setup_logging(door.paths.log_file, console=False)  # as headless mode does
    door.bus.subscribe(EventLogger())
    try:
        sent = [
            (200, await door.send(alert())),
            (200, await door.send(alert(), auth="x-signature")),
            (200, await door.send(alert(), auth="tvdesk")),
            (401, await door.send(alert(), secret=guess)),
            (401, await door.post(alert())),
            (422, await door.send(alert(apiKey=api_key, apiSecret=api_secret))),
            (422, await door.post({**alert(), "token": SECRET, "secret": api_secret})),
            # A secret pasted into the wrong field, or into a client_ref template.
            (200, await door.send(alert(client_ref=f"tv-{SECRET}-1", comment=f"k {SECRET}"))),
            (409, await door.send(alert(client_ref=f"tv-{SECRET}-1"), auth="tvdesk")),
            (422, await door.send(alert(symbol=SECRET, side="hold"))),
            # A secret slot of another product's format (DESIGN: webhook_secret).
            (200, await door.post({**alert(), "webhook_secret": SECRET})),
            # Nearly the secret, under names that do not say it is one.
            (401, await door.post({**alert(), "webhook_secret": guess})),
            (401, await door.post({**alert(), "note": f"was {SECRET[3:30]}?"})),
            (422, await door.send(alert(password=api_secret))),
            (401, await door.post({**alert(), "api-key": api_key})),
            (200, await door.post({**alert(), "secret ": SECRET})),  # separators don't count
            # Quoted back in a 422's message, which shortens long values.
            (422, await door.send(alert(qty=SECRET))),
            (422, await door.send(alert(client_ref="{{timenow}}-" + SECRET))),
        ]
        old = door.secret
        new = door.rotate_secret()
        sent += [
            (200, await door.send(alert(), secret=old)),
            (200, await door.send(alert(comment=old), secret=new)),
        ]
        await door.settle()
        running = door.files()
        await door.stop()
    finally:
        stop_logging()
        root.handlers[:], root.level = saved

    assert [reply.status for _, reply in sent] == [status for status, _ in sent]
    replies = [reply for _, reply in sent]
    stopped = door.files()
    assert any(path.name == "journal.sqlite3-wal" for path in running)
    assert door.paths.log_file in stopped
    assert b"AlertRejected" in stopped[door.paths.log_file]
    for value in (SECRET, new, api_key, api_secret, guess, SECRET[3:30]):
        for reply in replies:
            assert not leaked(value, reply.text), reply.text
        for files in (running, stopped):
            for path, content in files.items():
                assert not leaked(value, content), f"{value} leaked into {path}"


async def test_settings_changes_apply_to_the_next_request(door: Door):
    smaller = replace(door.settings, listener=replace(door.settings.listener, max_body_bytes=100))
    door.engine.update_settings(smaller, persist=False)

    reply = await door.send(alert(comment="x" * 100))

    assert "the limit is 100 bytes" in assert_refused(reply, 413, "too_large")["message"]


# ---------------------------------------------------------------- ASCII digits only

ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


@pytest.mark.parametrize(
    ("field", "sent"),
    [
        ("qty", "١٢٣"),
        ("qty", "０.０１"),
        ("price", "٣٫٥"),
        ("timestamp", str(int(NOW)).translate(FULL_WIDTH)),
    ],
    ids=["arabic-indic-qty", "full-width-qty", "arabic-decimal-price", "full-width-time"],
)
@pytest.mark.parametrize("auth", AUTH_FORMS)
async def test_a_number_in_other_digits_is_422_asking_for_ascii(door: Door, auth, field, sent):
    reply = await door.send(alert(**{field: sent}), auth=auth)

    body = assert_refused(reply, 422, "invalid_alert")
    assert set(body["fields"]) == {field}
    assert f"{field} must be written with ASCII digits 0-9" in body["fields"][field]
    assert field in body["message"]
    record = door.record(body["alert_id"])
    assert (record["status"], record["error"]) == ("rejected", "invalid_alert")


async def test_a_signature_time_in_other_digits_is_refused(door: Door):
    body = encode(alert())
    t = str(int(door.clock.time()))
    # Signed over the ASCII time, as int() would read the Arabic-Indic one: still refused.
    digest = hmac_hex(SECRET, f"{t}.".encode() + body)
    header = f"t={t.translate(ARABIC_INDIC)},v1={digest}"

    reply = await door.post(body, {"X-TVDesk-Signature": header})

    refused = assert_refused(reply, 401, "unauthorized")
    assert "ASCII digits 0-9" in refused["message"]
