"""The live broker's small parts: error mapping, URLs, client order ids, backoff, breaker."""

from __future__ import annotations

from decimal import Decimal

import ccxt
import pytest

from tvdesk.brokers.errors import (
    AuthError,
    FundsError,
    NotFound,
    OrderRefused,
    PermanentError,
    SymbolError,
    TemporaryError,
    sanitize,
    translate,
)
from tvdesk.brokers.exchange import (
    Credentials,
    ExchangeClient,
    exchange_client_order_id,
    order_state,
    rewrite_urls,
)
from tvdesk.brokers.retry import CircuitBreaker
from tvdesk.core.ids import client_order_id
from tvdesk.support.backoff import backoff

KEY, SECRET = "k3yAbcdefghijklmnop", "s3cretQrstuvwxyz0123"


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (ccxt.RequestTimeout("binance POST http://x/api/v3/order"), TemporaryError),
        (ccxt.NetworkError("binance GET http://x"), TemporaryError),
        (ccxt.ExchangeNotAvailable("binance POST http://x/api/v3/order 503 Unavailable"),
         TemporaryError),
        (ccxt.DDoSProtection("binance 429"), TemporaryError),
        (ccxt.AuthenticationError('binance {"code":-2015,"msg":"Invalid API-key."}'), AuthError),
        (ccxt.PermissionDenied("binance no"), AuthError),
        (ccxt.InsufficientFunds("binance Account has insufficient balance"), FundsError),
        (ccxt.InvalidOrder('binance {"code":-1013,"msg":"Filter failure: LOT_SIZE"}'),
         OrderRefused),
        (ccxt.OrderNotFound("binance Order does not exist."), NotFound),
        (ccxt.BadSymbol("binance Invalid symbol."), SymbolError),
        (ccxt.BadRequest("binance bad"), OrderRefused),
    ],
)  # fmt: skip
def test_ccxt_errors_map_to_temporary_or_permanent(error: Exception, kind: type) -> None:
    mapped = translate(error, "binance", ())
    assert isinstance(mapped, kind)
    assert isinstance(mapped, TemporaryError) != isinstance(mapped, PermanentError)


def test_messages_are_the_exchanges_own_words_without_secrets_or_signed_queries() -> None:
    error = ccxt.RequestTimeout(f"binance GET http://x/api/v3/order?timestamp=1&signature=ab {KEY}")
    assert str(translate(error, "binance", (KEY,))) == (
        "binance did not answer in time (request timed out)"
    )
    refused = translate(
        ccxt.InvalidOrder('binance {"code":-2010,"msg":"Duplicate order sent."}'), "binance", ()
    )
    assert str(refused) == "binance refused the order: Duplicate order sent. (code -2010)"
    assert isinstance(refused, OrderRefused) and refused.duplicate
    unavailable = translate(
        ccxt.ExchangeNotAvailable("binance POST http://h:1/api/v3/order 503 Service Unavailable"),
        "binance",
        (),
    )
    assert str(unavailable) == "binance is not available (HTTP 503)"
    assert (
        sanitize(f"GET http://h/p?signature=1&k={SECRET} {SECRET}", (SECRET,))
        == "GET http://h/p ***"
    )


def test_every_rest_url_goes_to_the_exchange_url_after_sandbox_mode() -> None:
    api = {"public": "https://testnet.binance.vision/api/v3", "nested": {"x": "https://a.b/c"}}
    assert rewrite_urls(api, "http://127.0.0.1:9") == {
        "public": "http://127.0.0.1:9/api/v3",
        "nested": {"x": "http://127.0.0.1:9/c"},
    }
    assert rewrite_urls("https://a.b/c/d", "http://proxy:8/prefix/") == "http://proxy:8/prefix/c/d"


async def test_a_sandbox_client_with_a_url_keeps_the_testnet_paths_on_that_host() -> None:
    client = ExchangeClient(
        "binance", Credentials(KEY, SECRET), sandbox=True, url="http://127.0.0.1:9"
    )
    await client.open()
    try:
        urls = client.api.urls["api"]
        assert client.api.isSandboxModeEnabled
        assert urls["public"] == "http://127.0.0.1:9/api/v3"
        assert all(u.startswith("http://127.0.0.1:9/") for u in urls.values())
        assert client.api.enableRateLimit  # on unless switched off for a benchmark
        options = client.api.options
        assert options["fetchMarkets"]["types"] == ["spot"]
        assert options["fetchCurrencies"] is False and options["fetchMargins"] is False
        assert KEY not in repr(client.credentials) and SECRET not in repr(client.credentials)
    finally:
        await client.close()


def test_client_order_ids_fit_each_exchange_and_stay_unique() -> None:
    alert_id = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
    cid = client_order_id(alert_id)
    assert exchange_client_order_id("binance", cid) == cid
    assert len(cid) == 29 and cid.isalnum()
    gate = exchange_client_order_id("gate", client_order_id(alert_id, 2))
    assert gate.startswith("t-") and len(gate) <= 28
    kraken = exchange_client_order_id("kraken", cid)
    assert len(kraken) == 36 and kraken == exchange_client_order_id("kraken", cid)
    assert kraken != exchange_client_order_id("kraken", client_order_id(alert_id, 1))


def test_order_states_in_tvdesk_words() -> None:
    filled = order_state(
        {"id": 7, "status": "closed", "filled": 0.5, "amount": 0.5, "average": 10.0,
         "fees": [{"cost": 0.01, "currency": "USDT"}, {"cost": 0.02, "currency": "USDT"}]}
    )  # fmt: skip
    assert (filled.status, filled.filled, filled.fee, filled.fee_currency) == (
        "filled", Decimal("0.5"), Decimal("0.03"), "USDT",
    )  # fmt: skip
    assert order_state({"id": 1, "status": "open", "filled": 0.1}).status == "partially_filled"
    assert order_state({"id": 1, "status": "open", "filled": 0}).status == "open"
    assert order_state({"id": 1, "status": "expired", "filled": 0}).status == "canceled"
    assert not order_state({"id": 1, "status": None, "filled": None}).complete


def test_backoff_grows_caps_and_jitters() -> None:
    low = backoff(0.5, 4.0, rand=lambda: 0.0)
    high = backoff(0.5, 4.0, rand=lambda: 1.0)
    assert [next(low) for _ in range(6)] == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]
    assert [next(high) for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_the_circuit_breaker_opens_after_n_failures_in_a_row_and_closes_after_the_cool_down():
    now = [0.0]
    changes: list[tuple[bool, str]] = []
    breaker = CircuitBreaker(3, 60, lambda: now[0], lambda o, r: changes.append((o, r)))
    breaker.failure("timeout")
    breaker.failure("timeout")
    breaker.success()  # not in a row any more
    breaker.failure("timeout")
    breaker.failure("timeout")
    assert not breaker.is_open
    breaker.failure("HTTP 503")
    assert breaker.is_open and changes[-1][0] is True
    assert "3 temporary failures in a row (last: HTTP 503)" in changes[-1][1]
    now[0] = 59.0
    assert breaker.is_open and breaker.resumes_in == pytest.approx(1.0)
    now[0] = 60.0
    assert not breaker.is_open
    assert changes[-1] == (False, "live execution resumed (cool-down over)")
