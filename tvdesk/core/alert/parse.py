"""A TradingView alert: from the decoded webhook body to a validated, typed `Alert`.

Traders paste payloads from many bridges, so field names are case-insensitive and have
aliases (see DESIGN.md, "Webhook: POST /webhook"). Every problem is collected, not just the
first, so one 422 tells the trader everything to fix in the alert message.

A JSON null or a blank string counts as "not given": templates often carry every field and
leave the unused ones empty.
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from hmac import compare_digest
from typing import Any, TypeVar

from tvdesk.core.alert.fields import (
    CREDENTIAL_FIELDS,
    FIELD_OF,
    SECRET_FIELDS,
    Alert,
    InvalidAlert,
)
from tvdesk.core.alert.redact import redact, scrub
from tvdesk.core.alert.values import (
    FieldError,
    as_client_ref,
    as_exchange,
    as_flag,
    as_fraction,
    as_number,
    as_percent,
    as_positive,
    as_side,
    as_symbol,
    as_text,
    as_timestamp,
    choice,
    show,
)

_T = TypeVar("_T")
_TIME_HINT = (
    "In TradingView use {{timenow}} (when the alert fired); {{time}} is the bar's open time"
)
_CREDENTIAL_FIX = "tvdesk keeps API keys in the OS keyring"


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _is_placeholder(value: object) -> bool:
    return isinstance(value, str) and "{{" in value and "}}" in value


def _same(a: object, b: object) -> bool:
    # type() first: 1 == True and Decimal("1") == 1 must not hide a disagreement.
    return type(a) is type(b) and a == b


class _Reader:
    """Reads canonical fields from an alert, recording problems per field as spelled."""

    def __init__(self, obj: Mapping[str, Any]) -> None:
        self.given: dict[str, list[tuple[str, Any]]] = {}
        self.blank: dict[str, str] = {}
        self.errors: dict[str, str] = {}
        for key, value in obj.items():
            field = FIELD_OF.get(key.lower()) if isinstance(key, str) else None
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
                    f"{key} is {show(value)}: TradingView did not replace the placeholder. "
                    "Strategy placeholders ({{strategy.…}}) work only in strategy alerts; "
                    "check the spelling against TradingView's list",
                )
                continue
            try:
                results.append(convert(key, value))
            except FieldError as e:
                self.fail(key, str(e))
        if len(results) < len(entries):
            return None
        if any(result != results[0] for result in results):
            keys = [key for key, _ in entries]
            names = ", ".join(keys[:-1]) + " and " + keys[-1]
            shown = " vs ".join(show(value) for _, value in entries)
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

    symbol = r.read("symbol", as_symbol)
    if "symbol" not in r.given:
        r.missing("symbol", 'add "symbol": "{{ticker}}" (or "ticker")')

    side = r.read("side", as_side)
    market_position = r.read("market_position", choice("long", "short", "flat"))
    target = _target(r, market_position)
    has_target = "position_size" in r.given or market_position == "flat"
    if "side" not in r.given and not has_target:
        r.missing("side", 'add "side": "buy" or "sell" (or "action")')

    qty = r.read("qty", as_positive)
    notional = r.read("notional", as_positive)
    qty_pct = r.read("qty_pct", as_percent)
    _check_sizing(r, has_target)

    order_type = r.read("order_type", choice("market", "limit")) or "market"
    price = r.read("price", as_positive)
    if order_type == "limit" and "price" not in r.given:
        r.fail("price", "a limit order needs a price: add price (or use order_type market)")

    timestamp = r.read("timestamp", as_timestamp)
    notes: tuple[str, ...] = ()
    if "timestamp" not in r.given:
        notes = ("no timestamp in the alert: age not checked",)
    elif timestamp is not None and check_age:
        _check_age(r, timestamp, now, max_age_s, max_skew_s)

    alert = Alert(
        symbol=symbol or "",
        side=side,
        exchange=r.read("exchange", as_exchange),
        qty=qty,
        notional=notional,
        qty_pct=qty_pct,
        target_position=target,
        market_position=market_position,
        order_type=order_type,
        price=price,
        stop_loss=r.read("stop_loss", as_positive),
        take_profit=r.read("take_profit", as_positive),
        client_ref=r.read("client_ref", as_client_ref),
        timestamp=timestamp,
        confidence=r.read("confidence", as_fraction),
        strategy=r.read("strategy", as_text),
        comment=r.read("comment", as_text),
        signal=r.read("signal", as_text),
        test=bool(r.read("test", as_flag)),
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
    size = r.read("position_size", as_number)
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
    clean = {k: scrub(v, secrets) for k, v in errors.items()}
    return InvalidAlert(scrub(message, secrets), clean)
