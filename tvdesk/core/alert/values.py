"""One field's value, from what the sender wrote to a typed value: numbers, side, symbol,
times, flags. Each converter takes the field's name as spelled and raises `FieldError`
worded for the trader.
"""

import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from tvdesk.core.alert.fields import MAX_CLIENT_REF_LEN, MAX_SYMBOL_LEN

# ASCII digits only: Python's Decimal() and int() also read "١٢٣" or full-width "１２３",
# digits a trader cannot tell apart from others at a glance, nor check in the log.
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_MS_THRESHOLD = Decimal(10) ** 11  # epoch seconds reach 1e11 only in the year 5138
_MAX_EPOCH_S = Decimal(253402300799)  # 9999-12-31T23:59:59Z
# Beyond any order's quantity or price (adjusted exponents, i.e. 1e16 and 1e-18); outside
# them a number only overflows the arithmetic downstream.
_MAX_EXPONENT, _MIN_EXPONENT = 15, -18
_OUT_OF_RANGE = "{key} is out of range: send a plain number"


class FieldError(Exception):
    """One field's problem, worded as a sentence that starts with the field's name."""


def show(value: object) -> str:
    """The value as quoted in a message: JSON for text, cut to 40 characters."""
    text = json.dumps(value, ensure_ascii=False) if isinstance(value, str) else str(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _ascii_digits(key: str, text: str) -> None:
    """Refuse digits of other scripts (Arabic-Indic, full-width, ...): numbers are 0-9."""
    if not text.isascii() and any(ch.isnumeric() and not ch.isascii() for ch in text):
        raise FieldError(f"{key} must be written with ASCII digits 0-9; got {show(text)}")


def as_number(key: str, value: object) -> Decimal:
    if isinstance(value, bool):
        raise FieldError(f"{key} must be a number, not {show(value).lower()}")
    if isinstance(value, int):
        value = Decimal(value)
    elif isinstance(value, float):
        value = Decimal(repr(value))
    elif isinstance(value, str):
        text = value.strip()
        _ascii_digits(key, text)
        if _NUMBER.fullmatch(text):
            try:
                value = Decimal(text)
            except InvalidOperation:
                raise FieldError(_OUT_OF_RANGE.format(key=key)) from None
        elif text.lower().lstrip("+-") in ("nan", "inf", "infinity"):
            raise FieldError(f"{key} is {text}, not a finite number: send a plain number")
        else:
            raise FieldError(f"{key} must be a number like 0.5; got {show(value)}")
    if not isinstance(value, Decimal):
        raise FieldError(f"{key} must be a number like 0.5; got {show(value)}")
    if not value.is_finite():
        raise FieldError(f"{key} is {value}, not a finite number: send a plain number")
    if value and not _MIN_EXPONENT <= value.adjusted() <= _MAX_EXPONENT:
        raise FieldError(_OUT_OF_RANGE.format(key=key))
    return value


def as_positive(key: str, value: object) -> Decimal:
    number = as_number(key, value)
    if number <= 0:
        raise FieldError(f"{key} must be greater than 0; got {number}")
    return number


def as_leverage(key: str, value: object) -> Decimal:
    """A leverage: 1 or more; "5x" is read as 5 (how traders write it)."""
    if isinstance(value, str) and value.strip().lower().endswith("x"):
        value = value.strip()[:-1]
    number = as_number(key, value)
    if number < 1:
        raise FieldError(f"{key} is a leverage: 1 or more (like 3 for 3×); got {number}")
    return number


def as_percent(key: str, value: object) -> Decimal:
    number = as_number(key, value)
    if not 0 < number <= 100:
        raise FieldError(f"{key} is a percentage: more than 0 and at most 100; got {number}")
    return number


def as_fraction(key: str, value: object) -> Decimal:
    number = as_number(key, value)
    if not 0 <= number <= 1:
        raise FieldError(f"{key} must be between 0 and 1 (0.85 means 85 %); got {number}")
    return number


def choice(*allowed: str, synonyms: Mapping[str, str] | None = None) -> Callable[[str, Any], str]:
    spelled = " or ".join(allowed)

    def convert(key: str, value: object) -> str:
        word = value.strip().lower() if isinstance(value, str) else None
        if word is not None and synonyms and word in synonyms:
            return synonyms[word]
        if word not in allowed:
            raise FieldError(f"{key} must be {spelled}; got {show(value)}")
        return word

    return convert


def as_symbol(key: str, value: object) -> str:
    if not isinstance(value, str):
        raise FieldError(f'{key} must be text like "BTCUSDT"; got {show(value)}')
    text = value.strip()
    if len(text) > MAX_SYMBOL_LEN:
        raise FieldError(f"{key} is longer than {MAX_SYMBOL_LEN} characters")
    return text


def as_exchange(key: str, value: object) -> str:
    if not isinstance(value, str):
        raise FieldError(f'{key} must be an exchange name like "binance"; got {show(value)}')
    return value.strip().lower()


def as_client_ref(key: str, value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise FieldError(f"{key} must be text or a whole number; got {show(value)}")
    text = str(value).strip()
    if len(text) > MAX_CLIENT_REF_LEN:
        raise FieldError(f"{key} is longer than {MAX_CLIENT_REF_LEN} characters")
    return text


def as_text(key: str, value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return str(value)
    raise FieldError(f"{key} must be text; got {show(value)}")


def as_flag(key: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | Decimal) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
        return value.strip().lower() in ("true", "1")
    raise FieldError(f"{key} must be true or false; got {show(value)}")


def as_timestamp(key: str, value: object) -> float:
    expected = (
        f"{key} must be an ISO-8601 time like 2019-08-27T09:56:00Z or unix seconds or "
        f"milliseconds; got {show(value)}"
    )
    if isinstance(value, str):
        _ascii_digits(key, value)
    if isinstance(value, str) and not _NUMBER.fullmatch(value.strip()):
        try:
            moment = datetime.fromisoformat(value.strip().upper())  # "t" and "z" are ISO too
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            seconds = Decimal(repr(moment.timestamp()))
        except (ValueError, OverflowError):
            raise FieldError(expected) from None
    else:
        try:
            seconds = as_number(key, value)
        except FieldError:
            raise FieldError(expected) from None
        if seconds > _MS_THRESHOLD:
            if seconds > _MAX_EPOCH_S * 1000:
                raise FieldError(f"{key} {seconds} is not a time before the year 10000")
            seconds = seconds / 1000
    if not 0 < seconds <= _MAX_EPOCH_S:
        raise FieldError(f"{key} {show(value)} is not a time between 1970 and 9999")
    return float(seconds)
