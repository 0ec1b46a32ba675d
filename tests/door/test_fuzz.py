"""Whatever arrives at the webhook door, the reply is one the contract lists, in JSON.

One real engine serves every example: hypothesis drives requests through its own event
loop, so the engine, its journal and its lockout state live across examples just as they
would under a stream of strangers' requests.
"""

from __future__ import annotations

import asyncio
import json
import string
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.kit.door import NOW, SECRET, Door, Reply, hmac_hex, leaked, tvdesk_signature
from tvdesk.config.schema import ListenerSettings, Settings

LIMIT = 4096
ERRORS = {
    200: None,
    400: "invalid_json",
    401: "unauthorized",
    409: "duplicate",
    413: "too_large",
    422: "invalid_alert",
    429: "rate_limited",
}
JOURNALED = {200, 409, 422}  # the replies that carry an alert_id

FIELD_NAMES = [
    *("symbol", "ticker", "exchange", "side", "action"),
    *("qty", "quantity", "size", "amount", "contracts", "notional", "qty_pct"),
    *("position_size", "target_position", "market_position", "order_type", "type", "price"),
    *("stop_loss", "take_profit", "client_ref", "id", "client_id", "order_id"),
    *("timestamp", "time", "timenow", "confidence", "strategy", "comment", "signal", "test"),
    *("secret", "token", "passphrase", "apiKey", "api_key", "apiSecret", "api_secret"),
]
WORDS = [
    *("buy", "sell", "LONG", "short", "flat", "limit", "Market", "BINANCE:BTCUSDT.P", "BTC/USDT"),
    *("0.5", "-1", "1e999999", "NaN", "Infinity", "{{close}}", "{{timenow}}", "", " "),
    *("2023-11-14T22:14:00Z", "2023-11-14T22:14:00+14:00", "9999-12-31T23:59:59Z"),
    *(SECRET, "tv-{{timenow}}-" + SECRET, f"BINANCE:{SECRET}", SECRET.upper()),
]
SIGNATURE_HEADERS = [
    *("X-Signature", "x-signature-256", "X-Webhook-Signature", "X-TVDesk-Signature"),
    "X-TVDESK-SIGNATURE",
]
HEADER_TEXT = string.ascii_letters + string.digits + string.punctuation + " "

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**300, max_value=10**4000),
    st.integers(min_value=int(NOW) - 900, max_value=int(NOW) + 900),
    st.integers(min_value=int(NOW) * 1000 - 900_000, max_value=int(NOW) * 1000 + 900_000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(WORDS),
)
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
keys = st.one_of(
    st.sampled_from(FIELD_NAMES),
    st.sampled_from(FIELD_NAMES).map(str.upper),
    st.text(max_size=12),
)
valid = {"symbol": "BTCUSDT", "side": "buy", "qty": "0.01"}


@st.composite
def alert_bodies(draw: st.DrawFn) -> bytes:
    fields: dict[str, Any] = dict(valid) if draw(st.booleans()) else {}
    fields.update(draw(st.dictionaries(keys, values, max_size=10)))
    if draw(st.booleans()):
        fields["secret"] = SECRET
    return json.dumps(fields).encode()


def with_comment(escapes: list[str]) -> bytes:
    """An authenticated alert whose comment is spelled with raw JSON escapes."""
    fields = {"secret": SECRET, "symbol": "BTCUSDT", "side": "buy", "qty": 1, "comment": "@"}
    return json.dumps(fields).replace('"@"', '"' + "".join(escapes) + '"').encode()


escaped_comments = st.lists(
    st.sampled_from([r"\ud800", r"\udfff", r"\ud83d\ude00", r"\u0000", r"\"", "a", "é"]),
    max_size=6,
).map(with_comment)
odd_bodies = st.sampled_from(
    [
        b"",
        b"[]",
        b"null",
        b'"x"',
        b"1e999999",
        b'{"qty": 1',
        b"\xef\xbb\xbf{}",
        b'{"a":' * 40 + b"1" + b"}" * 40,
        b"[" * 4000,
        b"9" * 4090,
        b'{"qty": 1e99999999999999999999}',
    ]
)
bodies = st.one_of(
    alert_bodies(),
    st.binary(max_size=300),
    st.text(max_size=200).map(str.encode),
    escaped_comments,
    odd_bodies,
    st.integers(min_value=1, max_value=100).map(lambda n: b" " * (LIMIT + n)),
)
# How a signature header is filled in once the body and the time are known.
signature_values = st.one_of(
    st.sampled_from(["valid", "valid sha256=", "wrong secret", "stale"]),
    st.text(HEADER_TEXT, max_size=80).map(lambda text: "literal:" + text),
)


@dataclass(frozen=True)
class Knock:
    body: bytes
    signatures: tuple[tuple[str, str], ...]
    content_type: str
    forwarded_for: str | None
    tunnel: bool
    wait_s: float


knocks = st.builds(
    Knock,
    body=bodies,
    signatures=st.lists(
        st.tuples(st.sampled_from(SIGNATURE_HEADERS), signature_values),
        max_size=2,
        unique_by=lambda pair: pair[0].lower(),
    ).map(tuple),
    content_type=st.sampled_from(
        ["application/json", "text/plain", "text/plain; charset=utf-8", "application/x-junk"]
    ),
    forwarded_for=st.none() | st.text("0123456789abcdef.:, ", max_size=40),
    tunnel=st.booleans(),
    wait_s=st.sampled_from([0, 0, 0, 0.5, 11, 61, 601]),
)


def signature(name: str, how: str, body: bytes, now: int) -> str:
    if how.startswith("literal:"):
        return how.removeprefix("literal:")
    secret = "whsec_wrong" if how == "wrong secret" else SECRET
    if name.lower() == "x-tvdesk-signature":
        return tvdesk_signature(secret, body, now - 301 if how == "stale" else now)
    digest = hmac_hex(secret, body)
    return "sha256=" + digest if how == "valid sha256=" else digest


async def knock(door: Door, k: Knock) -> Reply:
    door.clock.advance(k.wait_s)
    now = int(door.clock.time())
    headers = {name: signature(name, how, k.body, now) for name, how in k.signatures}
    if k.forwarded_for is not None:
        headers["X-Forwarded-For"] = k.forwarded_for
    return await door.post(k.body, headers, tunnel=k.tunnel, content_type=k.content_type)


def check(reply: Reply) -> None:
    assert reply.status in ERRORS, (reply.status, reply.text)
    assert reply.is_json, reply.headers
    body = reply.json
    assert body["status"] == ("accepted" if reply.status == 200 else "rejected")
    assert body.get("error") == ERRORS[reply.status]
    if reply.status != 200:
        assert body["message"]
    assert ("alert_id" in body) == (reply.status in JOURNALED), body
    assert ("fields" in body) == (reply.status == 422), body
    if reply.status == 422:
        assert body["fields"]
    if reply.status == 429:
        assert reply.headers["Retry-After"].isdigit()
    assert not leaked(SECRET, reply.text), reply.text


def test_the_door_answers_every_request_by_the_contract(tmp_path: Path):
    base = Settings(listener=ListenerSettings(port=0))
    door = Door(
        tmp_path / "data",
        settings=replace(base, listener=replace(base.listener, max_body_bytes=LIMIT)),
    )
    loop = asyncio.new_event_loop()
    loop.run_until_complete(door.start())
    seen: set[int] = set()
    try:

        @settings(
            max_examples=150,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(k=knocks)
        def answers_by_the_contract(k: Knock) -> None:
            reply = loop.run_until_complete(knock(door, k))
            seen.add(reply.status)
            check(reply)

        answers_by_the_contract()
        loop.run_until_complete(door.settle())
        records = door.records()
    finally:
        loop.run_until_complete(door.stop())
        loop.close()

    assert {200, 400, 401, 413, 422} <= seen
    assert records
    assert {r["status"] for r in records} <= {"accepted", "rejected", "duplicate"}
    for path, content in door.files().items():
        assert not leaked(SECRET, content), f"the webhook secret leaked into {path}"
