"""Webhook authentication: body secret, X-Signature family and X-TVDesk-Signature."""

import hashlib
import hmac

import pytest

from tvdesk.core.alert.names import body_secrets
from tvdesk.core.alert.text_forms import load_alert_body
from tvdesk.core.auth import (
    SIGNATURE_HEADERS,
    SIGNATURE_MAX_AGE_S,
    TVDESK_SIGNATURE_HEADER,
    AuthResult,
    WebhookSecrets,
    find_signature,
    hmac_hex,
    sign_tvdesk,
    verify_body_secret,
    verify_signature,
)

CURRENT = "whsec_current_0123456789"
PREVIOUS = "whsec_previous_9876543210"
NOW = 1_700_000_000.0
ROTATED = WebhookSecrets(CURRENT, PREVIOUS, previous_expires_at=NOW + 600)
EXPIRED = WebhookSecrets(CURRENT, PREVIOUS, previous_expires_at=NOW)
BODY = b'{"symbol":"BTCUSDT","side":"buy","qty":1}'


def assert_refused(result: AuthResult, *words: str) -> None:
    assert not result.ok
    assert not result.used_previous
    for word in words:
        assert word in result.reason
    for secret in (CURRENT, PREVIOUS):
        assert secret not in result.reason


# ---------------------------------------------------------------- secrets and signing


def test_accepted_secrets():
    assert ROTATED.accepted(NOW) == (CURRENT, PREVIOUS)
    assert ROTATED.accepted(NOW + 599.9) == (CURRENT, PREVIOUS)
    assert ROTATED.accepted(NOW + 600) == (CURRENT,)
    assert WebhookSecrets(CURRENT, PREVIOUS).accepted(NOW) == (CURRENT,)
    assert WebhookSecrets(CURRENT).accepted(NOW) == (CURRENT,)
    assert WebhookSecrets("").accepted(NOW) == ()


def test_hmac_hex_is_hmac_sha256():
    expected = "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    assert hmac_hex("key", b"The quick brown fox jumps over the lazy dog") == expected


def test_sign_tvdesk_format():
    t = 1_700_000_123
    expected = hmac.new(CURRENT.encode(), b"1700000123." + BODY, hashlib.sha256).hexdigest()
    assert sign_tvdesk(CURRENT, BODY, t) == f"t={t},v1={expected}"


# ---------------------------------------------------------------- find_signature


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"X-Signature": "a"}, ("x-signature", "a")),
        ({"x-signature-256": "b"}, ("x-signature-256", "b")),
        ({"X-WEBHOOK-SIGNATURE": "c"}, ("x-webhook-signature", "c")),
        ({"X-Signature": "a", "X-TVDesk-Signature": "t"}, ("x-tvdesk-signature", "t")),
        ({"x-tvdesk-signature": "t", "X-Signature-256": "b"}, ("x-tvdesk-signature", "t")),
        ({"Content-Type": "application/json"}, None),
        ({}, None),
    ],
)
def test_find_signature_in_a_plain_dict(headers, expected):
    assert find_signature(headers) == expected


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"X-Signature": ""}, None),
        ({"X-Signature-256": "  "}, None),
        ({"X-TVDesk-Signature": "", "X-Signature": "a"}, ("x-signature", "a")),
    ],
)
def test_find_signature_ignores_empty_headers(headers, expected):
    # Some relays forward every header they know of, set or not.
    assert find_signature(headers) == expected


def test_find_signature_in_a_multidict():
    multidict = pytest.importorskip("multidict")
    headers = multidict.CIMultiDictProxy(
        multidict.CIMultiDict([("X-Signature", "a"), ("X-Tvdesk-Signature", "t")])
    )
    assert find_signature(headers) == ("x-tvdesk-signature", "t")


def test_signature_header_names():
    assert SIGNATURE_HEADERS == ("x-signature", "x-signature-256", "x-webhook-signature")
    assert TVDESK_SIGNATURE_HEADER == "x-tvdesk-signature"
    assert SIGNATURE_MAX_AGE_S == 300


# ---------------------------------------------------------------- X-Signature family


@pytest.mark.parametrize("name", SIGNATURE_HEADERS)
@pytest.mark.parametrize(
    "form", [lambda d: d, lambda d: d.upper(), lambda d: "sha256=" + d, lambda d: f" SHA256={d} "]
)
def test_x_signature_forms(name, form):
    result = verify_signature((name, form(hmac_hex(CURRENT, BODY))), BODY, ROTATED, NOW)
    assert result == AuthResult(True, "", used_previous=False)


@pytest.mark.parametrize("name", SIGNATURE_HEADERS)
def test_x_signature_with_a_wrong_secret(name):
    result = verify_signature((name, hmac_hex("guess", BODY)), BODY, ROTATED, NOW)
    assert_refused(result, "does not match", "rotated?")


def test_x_signature_of_another_body():
    sig = ("x-signature", hmac_hex(CURRENT, BODY))
    assert_refused(verify_signature(sig, BODY + b" ", ROTATED, NOW), "raw body")


@pytest.mark.parametrize("name", SIGNATURE_HEADERS)
def test_x_signature_with_the_previous_secret(name):
    sig = (name, hmac_hex(PREVIOUS, BODY))
    assert verify_signature(sig, BODY, ROTATED, NOW) == AuthResult(True, "", used_previous=True)
    assert_refused(verify_signature(sig, BODY, EXPIRED, NOW), "does not match")


@pytest.mark.parametrize("value", ["", "sha256=", "abc", "z" * 64, "sha1=" + "a" * 40, "a" * 63])
def test_malformed_x_signature(value):
    result = verify_signature(("x-signature-256", value), BODY, ROTATED, NOW)
    assert_refused(result, "X-Signature-256 is malformed", "64 hex digits", "sha256=")


# ---------------------------------------------------------------- X-TVDesk-Signature


def tvdesk(value: str, secrets: WebhookSecrets = ROTATED, now: float = NOW) -> AuthResult:
    return verify_signature((TVDESK_SIGNATURE_HEADER, value), BODY, secrets, now)


def test_tvdesk_signature():
    assert tvdesk(sign_tvdesk(CURRENT, BODY, int(NOW))) == AuthResult(True, "")


def test_tvdesk_signature_tolerates_spaces_case_and_several_v1():
    good = hmac_hex(CURRENT, f"{int(NOW)}.".encode() + BODY)
    assert tvdesk(f" t = {int(NOW)} , v1 = {good.upper()} ").ok
    assert tvdesk(f"t={int(NOW)},v1={'0' * 64},v1={good}").ok
    assert tvdesk(f"v1={good},t={int(NOW)},v0=legacy,").ok


@pytest.mark.parametrize("skew", [-SIGNATURE_MAX_AGE_S, 0, SIGNATURE_MAX_AGE_S])
def test_tvdesk_signature_within_five_minutes(skew):
    assert tvdesk(sign_tvdesk(CURRENT, BODY, int(NOW) + skew)).ok


def test_stale_tvdesk_signature():
    result = tvdesk(sign_tvdesk(CURRENT, BODY, int(NOW) - 412))
    assert_refused(result, "stale", "412 s", "limit 300 s")


def test_future_tvdesk_signature():
    result = tvdesk(sign_tvdesk(CURRENT, BODY, int(NOW) + 301))
    assert_refused(result, "future", "301 s", "clock")


def test_tvdesk_signature_in_milliseconds_says_so():
    result = tvdesk(sign_tvdesk(CURRENT, BODY, int(NOW * 1000)))
    assert_refused(result, "t must be unix seconds, not milliseconds", "t=<unix seconds>")
    assert "clock" not in result.reason


def test_tvdesk_signature_with_a_wrong_secret_or_body():
    assert_refused(tvdesk(sign_tvdesk("guess", BODY, int(NOW))), "does not match", "rotated?")
    other = sign_tvdesk(CURRENT, BODY + b"x", int(NOW))
    assert_refused(tvdesk(other), "does not match")
    # The timestamp is signed too: moving t breaks the signature.
    moved = sign_tvdesk(CURRENT, BODY, int(NOW)).replace(f"t={int(NOW)}", f"t={int(NOW) - 1}")
    assert_refused(tvdesk(moved), "does not match")


def test_tvdesk_signature_with_the_previous_secret():
    sig = sign_tvdesk(PREVIOUS, BODY, int(NOW))
    assert tvdesk(sig) == AuthResult(True, "", used_previous=True)
    assert_refused(tvdesk(sig, EXPIRED), "does not match")


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("", "needs one t"),
        ("v1=" + "a" * 64, "needs one t"),
        ("t=1.5,v1=" + "a" * 64, "whole unix seconds"),
        ("t=abc,v1=" + "a" * 64, "whole unix seconds"),
        (f"t={int(NOW)},t={int(NOW)},v1=" + "a" * 64, "needs one t"),
        (f"t={int(NOW)}", "v1 must be 64 hex digits"),
        (f"t={int(NOW)},v1=xyz", "v1 must be 64 hex digits"),
        (f"t={int(NOW)},v1=", "v1 must be 64 hex digits"),
        ("sha256=" + "a" * 64, "needs one t"),
        ("t=" + "9" * 40 + ",v1=" + "a" * 64, "whole unix seconds"),
    ],
)
def test_malformed_tvdesk_signature(value, words):
    assert_refused(tvdesk(value), "X-TVDesk-Signature is malformed", words, "t=<unix seconds>")


# ---------------------------------------------------------------- secret in the body


@pytest.mark.parametrize("key", ["secret", "token", "passphrase", "Secret", "TOKEN", "PassPhrase"])
def test_body_secret_fields(key):
    assert verify_body_secret({key: CURRENT}, ROTATED, NOW) == AuthResult(True, "")


def test_body_secret_any_of_the_fields_may_carry_it():
    # A bridge's dialect: token is the webhook secret, secret the exchange's (refused later).
    obj = {"token": CURRENT, "secret": "exchange-api-secret"}
    assert verify_body_secret(obj, ROTATED, NOW).ok


def test_body_secret_missing():
    result = verify_body_secret({"symbol": "X", "secrets": CURRENT}, ROTATED, NOW)
    assert_refused(result, 'no secret in the alert: add "secret": "<your webhook secret>"')


@pytest.mark.parametrize("value", ["wrong", "", CURRENT.upper(), CURRENT + " ", 123, None])
def test_body_secret_wrong(value):
    result = verify_body_secret({"secret": value}, ROTATED, NOW)
    assert_refused(result, "the secret in the alert is wrong", "rotated?")


def test_body_secret_previous_within_and_after_grace():
    obj = {"secret": PREVIOUS}
    assert verify_body_secret(obj, ROTATED, NOW) == AuthResult(True, "", used_previous=True)
    assert_refused(verify_body_secret(obj, ROTATED, NOW + 600), "wrong")
    assert_refused(verify_body_secret(obj, EXPIRED, NOW), "wrong")


def test_current_wins_over_previous():
    obj = {"secret": PREVIOUS, "token": CURRENT}
    assert verify_body_secret(obj, ROTATED, NOW) == AuthResult(True, "", used_previous=False)


def test_an_empty_webhook_secret_authenticates_nothing():
    empty = WebhookSecrets("")
    assert not verify_body_secret({"secret": ""}, empty, NOW).ok
    assert not verify_signature(("x-signature", hmac_hex("", BODY)), BODY, empty, NOW).ok
    assert not tvdesk(sign_tvdesk("", BODY, int(NOW)), empty).ok


# ---------------------------------------------------------------- secret slots of other formats


@pytest.mark.parametrize(
    "body",
    [
        b'{"symbol":"BTCUSDT","signalToken":"%s"}',
        b'{"symbol":"BTCUSDT","webhook_secret":"%s"}',
        b'{"symbol":"BTCUSDT","Pass-Phrase":"%s"}',
        b"EXCHANGE=BINANCE\nSYMBOL=BTCUSDT\nSIGNAL=BUY\nVOLUME=0.01\nTOKEN=%s",
        b"e=binance s=BTCUSDT b=buy q=0.01 t=market secret=%s",
        b"%s,buy,BTCUSDT,risk=0.01",
        b"%s\nS: order buy @ 0.01 filled on BTCUSDT. New strategy position is 0.01",
    ],
)
def test_a_secret_slot_of_any_dialect_authenticates(body):
    obj = load_alert_body(body % CURRENT.encode())
    assert body_secrets(obj) == [CURRENT]
    assert verify_body_secret(obj, ROTATED, NOW).ok
    wrong = load_alert_body(body % b"whsec_wrong_000000000000")
    assert_refused(verify_body_secret(wrong, ROTATED, NOW), "wrong")
