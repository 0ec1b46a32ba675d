"""A TradingView alert: from the raw webhook body to a validated, typed `Alert`.

Traders paste payloads from many bridges, so field names are case-insensitive and have
aliases (see DESIGN.md, "Webhook: POST /webhook"). Every problem is collected, not just the
first, so one 422 tells the trader everything to fix in the alert message.

A JSON null or a blank string counts as "not given": templates often carry every field and
leave the unused ones empty.
"""

import hashlib
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from hmac import compare_digest
from typing import Any, TypeVar

SECRET_FIELDS = ("secret", "token", "passphrase")
# Secrets are scrubbed from what is journaled as substrings, so a short one would cut
# ordinary values apart ("41234.5" with secret "1234"); the keystore refuses shorter ones.
MIN_WEBHOOK_SECRET_LEN = 16
CREDENTIAL_FIELDS = (
    *("apikey", "api_key", "api-key", "apisecret", "api_secret", "api-secret"),
    *("apipassword", "api_password", "password", "apipassphrase", "api_passphrase"),
    *("secretkey", "secret_key", "privatekey", "private_key"),
)

MAX_SYMBOL_LEN = 64
MAX_CLIENT_REF_LEN = 128
# An alert is a flat object; the limit keeps redact() and canonical_json() (recursive) far from
# Python's recursion limit whatever a 64 KiB body contains.
MAX_DEPTH = 32

_T = TypeVar("_T")
_SEND_OBJECT = 'send the alert message as a JSON object, e.g. {"symbol": "BTCUSDT", ...}'
# Left alone by json.loads when a \u escape names half of a UTF-16 pair: such a string
# cannot be encoded as UTF-8, so it could be neither hashed nor journaled.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_MS_THRESHOLD = Decimal(10) ** 11  # epoch seconds reach 1e11 only in the year 5138
_MAX_EPOCH_S = Decimal(253402300799)  # 9999-12-31T23:59:59Z
# Beyond any order's quantity or price (adjusted exponents, i.e. 1e16 and 1e-18); outside
# them a number only overflows the arithmetic downstream.
_MAX_EXPONENT, _MIN_EXPONENT = 15, -18
_OUT_OF_RANGE = "{key} is out of range: send a plain number"
_TIME_HINT = (
    "In TradingView use {{timenow}} (when the alert fired); {{time}} is the bar's open time"
)
_CREDENTIAL_FIX = "tvdesk keeps API keys in the OS keyring"

_ALIASES: dict[str, tuple[str, ...]] = {
    "symbol": ("symbol", "ticker"),
    "exchange": ("exchange",),
    "side": ("side", "action"),
    "qty": ("qty", "quantity", "size", "amount", "contracts"),
    "notional": ("notional",),
    "qty_pct": ("qty_pct",),
    "position_size": ("position_size", "target_position"),
    "market_position": ("market_position",),
    "order_type": ("order_type", "type"),
    "price": ("price",),
    "stop_loss": ("stop_loss",),
    "take_profit": ("take_profit",),
    "client_ref": ("client_ref", "id", "client_id", "order_id"),
    "timestamp": ("timestamp", "time", "timenow"),
    "confidence": ("confidence",),
    "strategy": ("strategy",),
    "comment": ("comment",),
    "signal": ("signal",),
    "test": ("test",),
}
_FIELD_OF = {alias: field for field, aliases in _ALIASES.items() for alias in aliases}


class BodyError(ValueError):
    """The body is not JSON or not a JSON object. str(e) is a plain-language message."""


class InvalidAlert(ValueError):
    """The alert is JSON but a field is missing or wrong; `fields` says which and how to fix."""

    def __init__(self, message: str, fields: Mapping[str, str]) -> None:
        super().__init__(message)
        self.message = message
        self.fields = dict(fields)


@dataclass(frozen=True)
class Alert:
    symbol: str
    side: str | None
    exchange: str | None = None
    qty: Decimal | None = None
    notional: Decimal | None = None
    qty_pct: Decimal | None = None
    target_position: Decimal | None = None
    market_position: str | None = None
    order_type: str = "market"
    price: Decimal | None = None
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    client_ref: str | None = None
    timestamp: float | None = None
    confidence: Decimal | None = None
    strategy: str | None = None
    comment: str | None = None
    signal: str | None = None
    test: bool = False
    notes: tuple[str, ...] = ()

    @property
    def sizing(self) -> str:
        """How the alert sizes its order: "qty" | "notional" | "qty_pct" | "target"."""
        if self.qty is not None:
            return "qty"
        if self.notional is not None:
            return "notional"
        if self.qty_pct is not None:
            return "qty_pct"
        return "target"


_FIELD_NAMES = tuple(f.name for f in fields(Alert))
_DECIMAL_FIELDS = frozenset(
    ("qty", "notional", "qty_pct", "target_position", "price", "stop_loss", "take_profit")
) | {"confidence"}


# ---------------------------------------------------------------- body


def load_body(raw: bytes) -> dict[str, Any]:
    """Decode a webhook body into a JSON object with Decimal numbers; BodyError otherwise."""
    if not raw.strip():
        raise BodyError(f"the body is empty — {_SEND_OBJECT}")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BodyError(f"the body is not UTF-8 text — {_SEND_OBJECT}") from None
    try:
        obj = json.loads(
            text, parse_float=Decimal, parse_constant=Decimal, object_pairs_hook=_unique_keys
        )
    except BodyError:
        raise
    except json.JSONDecodeError as e:
        hint = ""
        if "{{" in text:
            hint = " (a TradingView placeholder like {{close}} that was not replaced is not JSON)"
        raise BodyError(
            f"the body is not JSON: {e.msg} at line {e.lineno} column {e.colno}{hint} — "
            + _SEND_OBJECT
        ) from None
    except (ValueError, ArithmeticError, RecursionError):
        # Numbers beyond int/Decimal limits, or nesting beyond the recursion limit.
        raise BodyError(f"the body is not usable JSON — {_SEND_OBJECT}") from None
    if not isinstance(obj, dict):
        kind = _json_kind(obj)
        raise BodyError(f"the body is JSON but not an object (got {kind}) — {_SEND_OBJECT}")
    # Both walks below only run when the text could hold what they look for: deep
    # nesting needs that many brackets, and a lone surrogate can only come from a
    # \u escape (UTF-8 cannot carry one). Most alerts need neither walk.
    brackets = text.count("{") + text.count("[")
    if brackets > MAX_DEPTH and _depth(obj) > MAX_DEPTH:
        raise BodyError(f"the body is nested more than {MAX_DEPTH} levels deep — {_SEND_OBJECT}")
    if "\\u" in text and _has_lone_surrogate(obj):
        raise BodyError(
            "the body has a \\u escape for half a character (a lone surrogate like \\ud800) — "
            + _SEND_OBJECT
        )
    return obj


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.loads lets the last of a repeated key win; "side" sent twice must not
    # silently become whichever came last.
    obj = dict(pairs)
    if len(obj) < len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                # Named only when too short to be a webhook secret: nothing scrubs this.
                name = f"the key {_show(key)}" if len(key) < MIN_WEBHOOK_SECRET_LEN else "a key"
                raise BodyError(
                    f"{name} appears twice in one object: send it once — " + _SEND_OBJECT
                )
            seen.add(key)
    return obj


def _has_lone_surrogate(obj: object) -> bool:
    stack = [obj]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            if _LONE_SURROGATE.search(value):
                return True
        elif isinstance(value, dict):
            stack.extend(value)
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return False


def _json_kind(obj: object) -> str:
    if isinstance(obj, list):
        return "a list"
    if isinstance(obj, str):
        return "a string"
    if isinstance(obj, bool):
        return "true/false"
    if obj is None:
        return "null"
    return "a number"


def _depth(obj: object) -> int:
    deepest, stack = 0, [(obj, 1)]
    while stack:
        value, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(value, dict):
            stack.extend((child, depth + 1) for child in value.values())
        elif isinstance(value, list):
            stack.extend((child, depth + 1) for child in value)
    return deepest


# ---------------------------------------------------------------- field converters


class _FieldError(Exception):
    """One field's problem, worded as a sentence that starts with the field's name."""


def _show(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False) if isinstance(value, str) else str(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _number(key: str, value: object) -> Decimal:
    if isinstance(value, bool):
        raise _FieldError(f"{key} must be a number, not {_show(value).lower()}")
    if isinstance(value, int):
        value = Decimal(value)
    elif isinstance(value, float):
        value = Decimal(repr(value))
    elif isinstance(value, str):
        text = value.strip()
        if _NUMBER.fullmatch(text):
            try:
                value = Decimal(text)
            except InvalidOperation:
                raise _FieldError(_OUT_OF_RANGE.format(key=key)) from None
        elif text.lower().lstrip("+-") in ("nan", "inf", "infinity"):
            raise _FieldError(f"{key} is {text}, not a finite number: send a plain number")
        else:
            raise _FieldError(f"{key} must be a number like 0.5; got {_show(value)}")
    if not isinstance(value, Decimal):
        raise _FieldError(f"{key} must be a number like 0.5; got {_show(value)}")
    if not value.is_finite():
        raise _FieldError(f"{key} is {value}, not a finite number: send a plain number")
    if value and not _MIN_EXPONENT <= value.adjusted() <= _MAX_EXPONENT:
        raise _FieldError(_OUT_OF_RANGE.format(key=key))
    return value


def _positive(key: str, value: object) -> Decimal:
    number = _number(key, value)
    if number <= 0:
        raise _FieldError(f"{key} must be greater than 0; got {number}")
    return number


def _percent(key: str, value: object) -> Decimal:
    number = _number(key, value)
    if not 0 < number <= 100:
        raise _FieldError(f"{key} is a percentage: more than 0 and at most 100; got {number}")
    return number


def _fraction(key: str, value: object) -> Decimal:
    number = _number(key, value)
    if not 0 <= number <= 1:
        raise _FieldError(f"{key} must be between 0 and 1 (0.85 means 85 %); got {number}")
    return number


def _choice(*allowed: str, synonyms: Mapping[str, str] | None = None) -> Callable[[str, Any], str]:
    spelled = " or ".join(allowed)

    def convert(key: str, value: object) -> str:
        word = value.strip().lower() if isinstance(value, str) else None
        if word is not None and synonyms and word in synonyms:
            return synonyms[word]
        if word not in allowed:
            raise _FieldError(f"{key} must be {spelled}; got {_show(value)}")
        return word

    return convert


_buy_or_sell = _choice("buy", "sell", synonyms={"long": "buy", "short": "sell"})
_CLOSE_WORDS = frozenset(("close", "exit", "flat", "closelong", "closeshort"))


def _side(key: str, value: object) -> str:
    try:
        return _buy_or_sell(key, value)
    except _FieldError as e:
        word = re.sub(r"[\s_-]", "", value.lower()) if isinstance(value, str) else ""
        if word not in _CLOSE_WORDS:
            raise
        raise _FieldError(
            f'{e}: to close a position send "market_position": "flat" (or "position_size": 0) '
            f"instead of {key}"
        ) from None


def _symbol(key: str, value: object) -> str:
    if not isinstance(value, str):
        raise _FieldError(f'{key} must be text like "BTCUSDT"; got {_show(value)}')
    text = value.strip()
    if len(text) > MAX_SYMBOL_LEN:
        raise _FieldError(f"{key} is longer than {MAX_SYMBOL_LEN} characters")
    return text


def _exchange(key: str, value: object) -> str:
    if not isinstance(value, str):
        raise _FieldError(f'{key} must be an exchange name like "binance"; got {_show(value)}')
    return value.strip().lower()


def _client_ref(key: str, value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _FieldError(f"{key} must be text or a whole number; got {_show(value)}")
    text = str(value).strip()
    if len(text) > MAX_CLIENT_REF_LEN:
        raise _FieldError(f"{key} is longer than {MAX_CLIENT_REF_LEN} characters")
    return text


def _text(key: str, value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return str(value)
    raise _FieldError(f"{key} must be text; got {_show(value)}")


def _flag(key: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | Decimal) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
        return value.strip().lower() in ("true", "1")
    raise _FieldError(f"{key} must be true or false; got {_show(value)}")


def _timestamp(key: str, value: object) -> float:
    expected = (
        f"{key} must be an ISO-8601 time like 2019-08-27T09:56:00Z or unix seconds or "
        f"milliseconds; got {_show(value)}"
    )
    if isinstance(value, str) and not _NUMBER.fullmatch(value.strip()):
        try:
            moment = datetime.fromisoformat(value.strip().upper())  # "t" and "z" are ISO too
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            seconds = Decimal(repr(moment.timestamp()))
        except (ValueError, OverflowError):
            raise _FieldError(expected) from None
    else:
        try:
            seconds = _number(key, value)
        except _FieldError:
            raise _FieldError(expected) from None
        if seconds > _MS_THRESHOLD:
            if seconds > _MAX_EPOCH_S * 1000:
                raise _FieldError(f"{key} {seconds} is not a time before the year 10000")
            seconds = seconds / 1000
    if not 0 < seconds <= _MAX_EPOCH_S:
        raise _FieldError(f"{key} {_show(value)} is not a time between 1970 and 9999")
    return float(seconds)


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _is_placeholder(value: object) -> bool:
    return isinstance(value, str) and "{{" in value and "}}" in value


def _same(a: object, b: object) -> bool:
    # type() first: 1 == True and Decimal("1") == 1 must not hide a disagreement.
    return type(a) is type(b) and a == b


# ---------------------------------------------------------------- parsing


class _Reader:
    """Reads canonical fields from an alert, recording problems per field as spelled."""

    def __init__(self, obj: Mapping[str, Any]) -> None:
        self.given: dict[str, list[tuple[str, Any]]] = {}
        self.blank: dict[str, str] = {}
        self.errors: dict[str, str] = {}
        for key, value in obj.items():
            field = _FIELD_OF.get(key.lower()) if isinstance(key, str) else None
            if field is None:
                continue
            if value is None or (isinstance(value, str) and not value.strip()):
                self.blank.setdefault(field, key)
            else:
                self.given.setdefault(field, []).append((key, value))

    def key(self, field: str) -> str:
        """The field's name as the sender spelled it (or the canonical name when absent)."""
        entries = self.given.get(field)
        return entries[0][0] if entries else self.blank.get(field, field)

    def missing(self, field: str, fix: str) -> None:
        key = self.key(field)
        self.fail(key, f"{key} is {'empty' if field in self.blank else 'missing'}: {fix}")

    def fail(self, key: str, problem: str) -> None:
        self.errors[key] = f"{self.errors[key]}; {problem}" if key in self.errors else problem

    def read(self, field: str, convert: Callable[[str, Any], _T]) -> _T | None:
        entries = self.given.get(field)
        if not entries:
            return None
        if all(_same(value, entries[0][1]) for _, value in entries):
            entries = entries[:1]
        results: list[_T] = []
        for key, value in entries:
            if _is_placeholder(value):
                self.fail(
                    key,
                    f"{key} is {_show(value)}: TradingView did not replace the placeholder. "
                    "Strategy placeholders ({{strategy.…}}) work only in strategy alerts; "
                    "check the spelling against TradingView's list",
                )
                continue
            try:
                results.append(convert(key, value))
            except _FieldError as e:
                self.fail(key, str(e))
        if len(results) < len(entries):
            return None
        if any(result != results[0] for result in results):
            keys = [key for key, _ in entries]
            names = ", ".join(keys[:-1]) + " and " + keys[-1]
            shown = " vs ".join(_show(value) for _, value in entries)
            for key in keys:
                self.fail(key, f"{names} disagree ({shown}): send only one")
            return None
        return results[0]


def parse_alert(
    obj: Mapping[str, Any],
    *,
    now: float,
    max_age_s: float,
    max_skew_s: float,
    webhook_secrets: Sequence[str] = (),
    check_age: bool = True,
    redacted: Mapping[str, Any] | None = None,
) -> Alert:
    """Validate an authenticated alert; InvalidAlert lists every problem at once.

    ``redacted`` is ``redact(obj, webhook_secrets)`` when the caller has it already.
    """
    secrets = [s for s in webhook_secrets if s]
    # Fields are read from a copy with every secret cut out: a secret pasted into a field
    # must reach neither the alert (journaled, logged, shown) nor a message quoting the
    # field, where truncation would defeat scrubbing the message afterwards.
    r = _Reader(redacted if redacted is not None else redact(obj, secrets))
    _check_credentials(obj, secrets, r)

    symbol = r.read("symbol", _symbol)
    if "symbol" not in r.given:
        r.missing("symbol", 'add "symbol": "{{ticker}}" (or "ticker")')

    side = r.read("side", _side)
    market_position = r.read("market_position", _choice("long", "short", "flat"))
    target = _target(r, market_position)
    has_target = "position_size" in r.given or market_position == "flat"
    if "side" not in r.given and not has_target:
        r.missing("side", 'add "side": "buy" or "sell" (or "action")')

    qty = r.read("qty", _positive)
    notional = r.read("notional", _positive)
    qty_pct = r.read("qty_pct", _percent)
    _check_sizing(r, has_target)

    order_type = r.read("order_type", _choice("market", "limit")) or "market"
    price = r.read("price", _positive)
    if order_type == "limit" and "price" not in r.given:
        r.fail("price", "a limit order needs a price: add price (or use order_type market)")

    timestamp = r.read("timestamp", _timestamp)
    notes: tuple[str, ...] = ()
    if "timestamp" not in r.given:
        notes = ("no timestamp in the alert: age not checked",)
    elif timestamp is not None and check_age:
        _check_age(r, timestamp, now, max_age_s, max_skew_s)

    alert = Alert(
        symbol=symbol or "",
        side=side,
        exchange=r.read("exchange", _exchange),
        qty=qty,
        notional=notional,
        qty_pct=qty_pct,
        target_position=target,
        market_position=market_position,
        order_type=order_type,
        price=price,
        stop_loss=r.read("stop_loss", _positive),
        take_profit=r.read("take_profit", _positive),
        client_ref=r.read("client_ref", _client_ref),
        timestamp=timestamp,
        confidence=r.read("confidence", _fraction),
        strategy=r.read("strategy", _text),
        comment=r.read("comment", _text),
        signal=r.read("signal", _text),
        test=bool(r.read("test", _flag)),
        notes=notes,
    )
    if r.errors:
        raise _invalid(r.errors, webhook_secrets)
    return alert


def _check_credentials(obj: Mapping[str, Any], secrets: Sequence[str], r: _Reader) -> None:
    for key, value in obj.items():
        name = key.lower() if isinstance(key, str) else ""
        if value is None or (isinstance(value, str) and not value.strip()):
            continue  # blank counts as not given; redact() still removes it by name
        if name in CREDENTIAL_FIELDS:
            r.fail(
                key,
                f"exchange credentials don't belong in an alert: remove {key}; " + _CREDENTIAL_FIX,
            )
        elif name in SECRET_FIELDS and not _is_webhook_secret(value, secrets):
            r.fail(
                key,
                f"exchange credentials don't belong in an alert: remove {key} (it is not "
                f"the webhook secret); {_CREDENTIAL_FIX}",
            )


def _is_webhook_secret(value: object, secrets: Sequence[str]) -> bool:
    if not isinstance(value, str):
        return False
    given = value.encode()
    # No short-circuit: the time taken must not depend on which secret matched.
    matches = [compare_digest(given, s.encode()) for s in secrets]
    return any(matches)


def _target(r: _Reader, market_position: str | None) -> Decimal | None:
    size = r.read("position_size", _number)
    if size is None:
        return Decimal(0) if market_position == "flat" else None
    key, mp = r.key("position_size"), r.key("market_position")
    if market_position == "flat" and size != 0:
        r.fail(key, f"{key} is {size} but {mp} is flat: send 0 or leave {key} out")
    elif market_position == "long" and size <= 0:
        r.fail(key, f"{key} is {size} but {mp} is long: a long position is above 0")
    elif market_position == "short" and size == 0:
        r.fail(key, f"{key} is 0 but {mp} is short: send the short position's size")
    elif market_position == "short" and size > 0:
        return size.copy_negate()  # copy_negate is exact; unary minus rounds to the context
    return size


def _check_sizing(r: _Reader, has_target: bool) -> None:
    sizings = [r.key(f) for f in ("qty", "notional", "qty_pct", "position_size") if f in r.given]
    flat = has_target and "position_size" not in r.given  # market_position "flat" sizes it
    if flat:
        sizings.append(r.key("market_position"))
    if not sizings:
        r.missing(
            "qty",
            "add qty (or quantity/size/amount/contracts), notional, qty_pct or position_size "
            "to say how much to trade",
        )
    elif len(sizings) > 1:
        problem = (
            f"{', '.join(sizings)} each size the order: send only one of a quantity, "
            "notional, qty_pct or a target position"
        )
        if flat and "qty" in r.given:
            # A strategy template sends {{strategy.order.contracts}} with the market position.
            problem += (
                "; to close with a strategy alert, drop the quantity or send "
                '"position_size": {{strategy.position_size}} in its place'
            )
        for key in sizings:
            r.fail(key, problem)


def _check_age(r: _Reader, timestamp: float, now: float, max_age: float, max_skew: float) -> None:
    key = r.key("timestamp")
    age = now - timestamp
    if age > max_age:
        r.fail(
            key,
            f"{key} {_iso(timestamp)} is {age:.0f} s old (limit {max_age:.0f} s). " + _TIME_HINT,
        )
    elif -age > max_skew:
        r.fail(
            key,
            f"{key} {_iso(timestamp)} is {-age:.0f} s in the future (limit {max_skew:.0f} "
            "s): check the clock of this PC and of the sender (sync them with internet time). "
            + _TIME_HINT,
        )


def _invalid(errors: Mapping[str, str], secrets: Iterable[str]) -> InvalidAlert:
    if len(errors) == 1:
        message = next(iter(errors.values()))
    else:
        message = (
            f"the alert has {len(errors)} problems: {', '.join(errors)} — "
            "fix each as its field entry says"
        )
    # Defence in depth: a value quoted in a message could be a secret pasted in the wrong field.
    clean = {k: _scrub(v, secrets) for k, v in errors.items()}
    return InvalidAlert(_scrub(message, secrets), clean)


def _scrub(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return text


# ---------------------------------------------------------------- (de)serialising


def alert_to_dict(alert: Alert) -> dict[str, Any]:
    """A JSON-able dict of the alert: Decimals as strings, None kept, notes as a list."""
    # By hand: dataclasses.asdict deep-copies every field, on the webhook's hot path.
    d = {name: getattr(alert, name) for name in _FIELD_NAMES}
    for name in _DECIMAL_FIELDS:
        if d[name] is not None:
            d[name] = str(d[name])
    d["notes"] = list(alert.notes)
    return d


def alert_from_dict(d: Mapping[str, Any]) -> Alert:
    """The inverse of alert_to_dict."""
    values = {f.name: d[f.name] for f in fields(Alert) if f.name in d}
    for name in _DECIMAL_FIELDS & values.keys():
        if values[name] is not None:
            values[name] = Decimal(str(values[name]))
    if values.get("timestamp") is not None:
        values["timestamp"] = float(values["timestamp"])
    values["notes"] = tuple(values.get("notes", ()))
    return Alert(**values)


def redact(obj: Any, secrets: Iterable[str]) -> Any:
    """A copy without secret or credential keys, and with secret values replaced."""
    return _redact(obj, tuple(s for s in secrets if s))


def _redact(obj: Any, secrets: tuple[str, ...]) -> Any:
    hidden = SECRET_FIELDS + CREDENTIAL_FIELDS
    if isinstance(obj, Mapping):
        return {
            _redact(k, secrets): _redact(v, secrets)
            for k, v in obj.items()
            if not (isinstance(k, str) and k.lower() in hidden)
        }
    if isinstance(obj, list):
        return [_redact(v, secrets) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_redact(v, secrets) for v in obj)
    if isinstance(obj, str):
        # Substrings too: a secret pasted into a client_ref template must not be journaled.
        return _scrub(obj, secrets)
    return obj


def scrub_runs(text: str, secrets: Iterable[str], run: int = 8) -> str:
    """``text`` with every ``run`` characters in a row of a secret replaced.

    For what an unauthenticated request leaves in the journal: a mistyped secret sent
    under a name that does not say it is one is still nearly the secret.
    """
    for secret in secrets:
        for i in range(len(secret) - run + 1):
            window = secret[i : i + run]
            if window in text:
                text = text.replace(window, "[redacted]")
    return text


def canonical_json(obj: Any) -> str:
    """Compact JSON with sorted keys; Decimals written as JSON numbers, exactly."""
    parts: list[str] = []
    _write(obj, parts)
    return "".join(parts)


# What json.dumps(s, ensure_ascii=False) does for a string, without its per-call setup.
_encode_str = json.encoder.encode_basestring


def _write(obj: Any, out: list[str]) -> None:
    if isinstance(obj, str):
        out.append(_encode_str(obj))
    elif obj is None or isinstance(obj, bool):
        out.append({None: "null", True: "true", False: "false"}[obj])
    elif isinstance(obj, int):
        out.append(int.__repr__(obj))
    elif isinstance(obj, float | Decimal):
        out.append(_number_text(obj))
    elif isinstance(obj, Mapping):
        out.append("{")
        for i, key in enumerate(sorted(obj)):
            if not isinstance(key, str):
                raise TypeError(f"canonical_json needs string keys, got {type(key).__name__}")
            out.append("," if i else "")
            out.append(_encode_str(key) + ":")
            _write(obj[key], out)
        out.append("}")
    elif isinstance(obj, list | tuple):
        out.append("[")
        for i, item in enumerate(obj):
            out.append("," if i else "")
            _write(item, out)
        out.append("]")
    else:
        raise TypeError(f"canonical_json cannot write {type(obj).__name__}")


def _number_text(number: float | Decimal) -> str:
    # Python's json spells non-finite numbers NaN / Infinity / -Infinity; do the same.
    if isinstance(number, Decimal):
        if number.is_nan():
            return "NaN"
        if number.is_infinite():
            return "-Infinity" if number.is_signed() else "Infinity"
        return str(number)
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "-Infinity" if number < 0 else "Infinity"
    return float.__repr__(number)


def body_hash(obj: Any) -> str:
    """sha256 hex of canonical_json(obj); callers pass the redacted object."""
    return text_hash(canonical_json(obj))


def text_hash(canonical: str) -> str:
    """body_hash for a caller that already holds canonical_json(obj)."""
    return hashlib.sha256(canonical.encode()).hexdigest()
