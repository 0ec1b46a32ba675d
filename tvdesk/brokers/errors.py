"""tvdesk's own small hierarchy of exchange errors, and the one place ccxt's are translated.

As in freqtrade's exchange wrapper: the broker never catches a ccxt exception by name; it
catches ``TemporaryError`` (look the order up, then retry with backoff) or ``PermanentError``
(the alert fails, never retried). Messages are plain words for the trader, with the
exchange's own message kept, and every credential redacted by ``sanitize``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

_URL = re.compile(r"(https?://[^\s?]+)\?\S*")
_BODY = re.compile(r"\{.*\}", re.DOTALL)


class ExchangeError(Exception):
    """Something went wrong talking to an exchange; str(e) is safe to show and log."""


class TemporaryError(ExchangeError):
    """Timeouts, network trouble, maintenance, rate limits: the request may have worked."""


class PermanentError(ExchangeError):
    """The exchange answered no; sending the same request again would not help."""


class AuthError(PermanentError):
    """Wrong or missing API key/secret, or a key without the needed permission."""


class FundsError(PermanentError):
    """The account cannot pay for the order."""


class OrderRefused(PermanentError):
    """The exchange refused the order itself (filters, order type, duplicate id)."""

    def __init__(self, message: str, *, duplicate: bool = False) -> None:
        super().__init__(message)
        self.duplicate = duplicate  # the client order id was already in use


class SymbolError(PermanentError):
    """The exchange does not know the market."""


class NotFound(PermanentError):
    """The exchange has no order with that id."""


class Unsupported(PermanentError):
    """The exchange (or ccxt for it) cannot do this at all."""


def sanitize(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` without credentials and without signed query strings."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return _URL.sub(r"\1", text)


def exchange_message(raw: str) -> str:
    """The exchange's own words from a ccxt message ("binance {"code":-2010,"msg":"…"}").

    Bybit says them in ``retMsg`` / ``retCode``; OKX says why an order failed per order
    (``data[].sMsg`` / ``sCode``) under a general "All operations failed", so those win.
    """
    match = _BODY.search(raw)
    if match:
        try:
            body = json.loads(match.group(0))
        except ValueError:
            body = None
        if isinstance(body, dict):
            msg, code = _said(body)
            if msg:
                return f"{msg} (code {code})" if code not in (None, "", 0) else str(msg)
    return raw


def _said(body: dict[str, Any]) -> tuple[Any, Any]:
    """(message, code) from an exchange's error body, whichever of their shapes it has."""
    data = body.get("data")
    for one in data if isinstance(data, list) else []:  # OKX: per order, under "msg"
        if isinstance(one, dict) and one.get("sMsg") and one.get("sCode") not in (None, "0"):
            return one["sMsg"], one["sCode"]
    if body.get("retMsg"):  # Bybit
        return body["retMsg"], body.get("retCode")
    return body.get("msg") or body.get("message") or body.get("error"), body.get("code")


def translate(exc: BaseException, exchange: str, secrets: Iterable[str | None]) -> ExchangeError:
    """Map a ccxt exception (or an aiohttp/OS one that slipped through) to tvdesk's own."""
    import ccxt  # only ever called once ccxt is loaded

    raw = sanitize(str(exc), secrets)
    words = sanitize(exchange_message(raw.removeprefix(f"{exchange} ").strip()), secrets)
    if isinstance(exc, ccxt.RequestTimeout):
        return TemporaryError(f"{exchange} did not answer in time (request timed out)")
    if isinstance(exc, ccxt.DDoSProtection | ccxt.RateLimitExceeded):
        return TemporaryError(f"{exchange} is rate-limiting tvdesk: {words}")
    if isinstance(exc, ccxt.OnMaintenance):
        return TemporaryError(f"{exchange} is under maintenance: {words}")
    if isinstance(exc, ccxt.ExchangeNotAvailable):
        return TemporaryError(f"{exchange} is not available ({_unavailable(exc, raw)})")
    if isinstance(exc, ccxt.NetworkError | ccxt.OperationFailed):
        return TemporaryError(f"cannot reach {exchange}: {words}")
    if isinstance(exc, ccxt.AuthenticationError):
        return AuthError(
            f"{exchange} refused the API key: {words}; check the API key and secret "
            "(and that the key may trade)"
        )
    if isinstance(exc, ccxt.InsufficientFunds):
        return FundsError(f"{exchange}: insufficient funds: {words}")
    if isinstance(exc, ccxt.OrderNotFound):
        return NotFound(f"{exchange} has no such order: {words}")
    if isinstance(exc, ccxt.BadSymbol):
        return SymbolError(f"{exchange} does not know the market: {words}")
    if isinstance(exc, ccxt.NotSupported):
        return Unsupported(f"{exchange} cannot do that: {words}")
    if isinstance(exc, ccxt.InvalidOrder | ccxt.BadRequest | ccxt.OperationRejected):
        duplicate = "duplicate" in words.lower()
        return OrderRefused(f"{exchange} refused the order: {words}", duplicate=duplicate)
    if isinstance(exc, ccxt.ExchangeError):
        return PermanentError(f"{exchange} answered with an error: {words}")
    if isinstance(exc, TimeoutError):
        return TemporaryError(f"{exchange} did not answer in time (request timed out)")
    if isinstance(exc, OSError):
        return TemporaryError(f"cannot reach {exchange}: {type(exc).__name__}")
    return PermanentError(f"{exchange}: unexpected {type(exc).__name__}: {words}")


def _unavailable(exc: BaseException, raw: str) -> str:
    status = re.search(r"\s([45]\d\d)\s", raw + " ")
    if status:
        return f"HTTP {status.group(1)}"
    cause = exc.__cause__
    return f"connection failed: {type(cause).__name__}" if cause else "connection failed"
