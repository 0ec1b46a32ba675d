"""A TradingView alert: from the decoded webhook body to a validated, typed `Alert`.

Traders paste payloads from many bridges, so field names are case-insensitive and have
aliases (see DESIGN.md, "Webhook: POST /webhook"). Every problem is collected, not just the
first, so one 422 tells the trader everything to fix in the alert message.

A JSON null or a blank string counts as "not given": templates often carry every field and
leave the unused ones empty.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from hmac import compare_digest
from typing import Any

from tvdesk.core.alert.fields import Alert, InvalidAlert, is_credential_name
from tvdesk.core.alert.intent import apply_unit, read_action, read_order, reading
from tvdesk.core.alert.names import is_hidden_name, is_secret_name
from tvdesk.core.alert.nested import SCALARS
from tvdesk.core.alert.protective import protective
from tvdesk.core.alert.reader import FieldReader as _Reader
from tvdesk.core.alert.redact import redact, scrub_runs
from tvdesk.core.alert.values import (
    as_client_ref,
    as_exchange,
    as_flag,
    as_fraction,
    as_leverage,
    as_number,
    as_percent,
    as_positive,
    as_symbol,
    as_text,
    as_timestamp,
)

_TIME_HINT = (
    "In TradingView use {{timenow}} (when the alert fired); {{time}} is the bar's open time"
)
_CREDENTIAL_FIX = (
    "tvdesk never takes exchange credentials in alerts: put API keys in the Secrets tab "
    "(tvdesk keeps them in the OS keyring)"
)


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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

    ``redacted`` is ``redact(obj, webhook_secrets, runs=False)`` when the caller has it.
    """
    secrets = [s for s in webhook_secrets if s]
    # Fields are read from a copy with every secret cut out: a secret pasted into a field
    # must reach neither the alert (journaled, logged, shown) nor a message quoting the
    # field, where truncation would defeat scrubbing the message afterwards.
    r = _Reader(redacted if redacted is not None else redact(obj, secrets, runs=False))
    _check_credentials(obj, secrets, r)
    how = reading(obj)
    if how.refuse:  # the text is not an order at all: nothing more to say about it
        raise _invalid(how.refuse, webhook_secrets)
    for key, problem in how.problems.items():
        r.fail(key, problem)
    notes = how.notes

    symbol = r.read("symbol", as_symbol)
    if "symbol" not in r.given:
        r.missing("symbol", 'add "symbol": "{{ticker}}" (or "ticker")')

    action, side, market_position = read_action(r, notes)
    qty_unit = apply_unit(r, side, notes)
    target = _target(r, market_position)
    has_target = "position_size" in r.given or market_position == "flat"
    if "side" not in r.given and not has_target:
        r.missing("side", 'add "side": "buy" or "sell" (or "action")')

    qty = r.read("qty", as_positive)
    notional = r.read("notional", as_positive)
    qty_pct = r.read("qty_pct", as_percent)
    if action != "cancel" and _check_sizing(r, has_target) and qty is not None:
        notes.append(f"{r.key('qty')} {qty} not used: trading to the target position {target}")
        qty = None

    order_type, price = read_order(r, notes)
    stop_loss, take_profit = protective(r, side, price)

    timestamp = r.read("timestamp", as_timestamp)
    if "timestamp" not in r.given:
        notes.append("no timestamp in the alert: age not checked")
    elif timestamp is not None and check_age:
        _check_age(r, timestamp, now, max_age_s, max_skew_s)

    alert = Alert(
        symbol=symbol or "",
        side=side,
        exchange=r.read("exchange", as_exchange),
        qty=qty,
        qty_unit=qty_unit,
        notional=notional,
        qty_pct=qty_pct,
        target_position=target,
        market_position=market_position,
        order_type=order_type,
        price=price,
        stop_loss=stop_loss,
        take_profit=take_profit,
        leverage=r.read("leverage", as_leverage),
        client_ref=r.read("client_ref", as_client_ref),
        timestamp=timestamp,
        confidence=r.read("confidence", as_fraction),
        strategy=r.read("strategy", as_text),
        comment=r.read("comment", as_text),
        signal=r.read("signal", as_text),
        test=bool(r.read("test", as_flag)),
        notes=tuple(notes),
        dialect=how.dialect,
        ignored=tuple(r.ignored),
    )
    if r.errors:
        raise _invalid(r.errors, webhook_secrets)
    return _without_secret_runs(alert, secrets)


def _without_secret_runs(alert: Alert, secrets: Sequence[str]) -> Alert:
    """The alert with runs of a secret cut out of its free text, which is journaled.

    Only free text: a trade field that held such a run could only be a hand-made secret's
    digits, and its value must stay what was sent.
    """
    if not secrets:
        return alert
    changed = {}
    for name in ("client_ref", "strategy", "comment", "signal"):
        value = getattr(alert, name)
        if isinstance(value, str) and (text := scrub_runs(value, secrets)) != value:
            changed[name] = text
    return replace(alert, **changed) if changed else alert


def _check_credentials(obj: Mapping[str, Any], secrets: Sequence[str], r: _Reader) -> None:
    """Refuse every credential-looking field, at any depth; redact() drops their values."""
    for key, value in obj.items():
        if type(value) in SCALARS and type(key) is str and not is_hidden_name(key):
            continue  # the usual field: neither a secret slot nor a credential to look into
        if not isinstance(key, str) or _blank(value):
            continue  # blank counts as not given; redact() still removes it by name
        if is_secret_name(key):
            if not _is_webhook_secret(value, secrets):
                r.fail(
                    key,
                    f"remove {key}: it is not the webhook secret, so it looks like an exchange "
                    f"credential; {_CREDENTIAL_FIX}",
                )
            continue
        if not isinstance(value, Mapping | list) and not is_credential_name(key):
            continue  # the usual field: _credential_paths would find nothing in it
        for path in dict.fromkeys(_credential_paths(key, value)):
            # A name is quoted back; cut any secret out of it like out of a value.
            shown = scrub_runs(path, secrets)
            r.fail(shown, f"remove {shown}: {_CREDENTIAL_FIX}")


def _credential_paths(key: str, value: Any) -> list[str]:
    """The dotted names of the credential-looking fields in (key, value), non-blank ones."""
    if _blank(value):
        return []
    if is_credential_name(key):
        return [key]
    found: list[str] = []
    if isinstance(value, Mapping):
        for child, inner in value.items():
            if isinstance(child, str):
                found += [f"{key}.{path}" for path in _credential_paths(child, inner)]
    elif isinstance(value, list):
        for inner in value:
            found += _credential_paths(key, inner)
    return found


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


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


def _check_sizing(r: _Reader, has_target: bool) -> bool:
    """Exactly one way of sizing. True when it is a quantity beside the resulting position
    (TradingView's {{strategy.order.contracts}} with {{strategy.position_size}}): the
    target wins, as it heals a missed alert (DESIGN.md, "Webhook")."""
    sizings = [r.key(f) for f in ("qty", "notional", "qty_pct", "position_size") if f in r.given]
    flat = has_target and "position_size" not in r.given  # market_position "flat" sizes it
    if flat:
        sizings.append(r.key("market_position"))
    if has_target and "qty" in r.given and len(sizings) == 2:
        return True
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
        for key in sizings:
            r.fail(key, problem)
    return False


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
    # Defence in depth: a value quoted in a message could be a secret pasted in the wrong field,
    # or a run of one (the message is journaled).
    clean = {k: scrub_runs(v, secrets) for k, v in errors.items()}
    return InvalidAlert(scrub_runs(message, secrets), clean)
