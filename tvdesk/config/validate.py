"""Checking parsed settings.toml data against the schema: types, choices, bounds, no secrets.

Problems are collected, not raised one at a time, so the trader sees every mistake at once.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import MISSING, fields, is_dataclass
from decimal import Decimal
from typing import Any, NamedTuple, get_args, get_origin, get_type_hints
from urllib.parse import urlsplit

from tvdesk.config.schema import NOTIFY_EVENTS, SCHEMA_VERSION, Settings

# --- validation rules, keyed by dotted key with list positions left out ---

_CHOICES = {
    "mode": ("paper", "live"),
    "exchange.market_type": ("spot", "swap"),
    "exchange.auto_map": ("paper", "always", "off"),
    "paper.price_source": ("alert", "market"),
    "exchange.margin_mode": ("", "cross", "isolated"),
    "symbols.margin_mode": ("", "cross", "isolated"),
    "exchange.position_mode": ("oneway", "hedge"),
}
# Inclusive bounds; any other number must be 0 or more.
_BOUNDS: dict[str, tuple[int, int | None]] = {
    "schema_version": (1, None),
    "listener.port": (0, 65535),
    "listener.max_body_bytes": (1, None),
    "listener.read_timeout_s": (1, None),
    "listener.max_connections": (1, None),
    "auth.max_alert_age_s": (1, None),
    "auth.lockout_failures": (1, None),
    "paper.fee_rate": (0, 1),
    "risk.min_confidence": (0, 1),
}
_POSITIVE = {"symbols.qty_multiplier"}
_LEVERAGE = {"exchange.leverage", "symbols.leverage", "risk.max_leverage"}
_EXCHANGE_IDS = {"exchange.default", "symbols.exchange"}
_NOT_EMPTY = {"listener.host", "symbols.tv", "symbols.symbol"}
_EXCHANGE_ID_RE = re.compile(r"[a-z][a-z0-9_]*")
# [notify]: a Telegram chat id (a number, negative for groups) or @channel; an ntfy topic.
_TELEGRAM_CHAT_RE = re.compile(r"-?[0-9]+|@[A-Za-z][A-Za-z0-9_]{3,}")
_NTFY_TOPIC_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
# [tunnel] domain: a host name (an ngrok static domain), labels of letters, digits and -.
_DOMAIN_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN_RE = re.compile(rf"(?:{_DOMAIN_LABEL}\.)+[a-z]{{2,63}}")
_SECRET_WORDS = ("secret", "token", "password", "passphrase", "apikey", "api_key")
# Currency codes are data, not setting names: a coin may well be called TOKEN.
_SECRET_SCAN_SKIP = {("paper", "balances")}

KeyPath = tuple[str | int, ...]
_MISSING_KEY = "is missing: each [[symbols]] block needs tv, exchange and symbol"


class Problem(NamedTuple):
    """One mistake in the file: the key it is at and what is wrong, in the trader's words."""

    where: KeyPath
    message: str


class _Bad(Exception):
    pass


def _kind(value: object) -> str:
    kinds = ((bool, "true/false"), (int, "a whole number"), (Decimal, "a decimal number"))
    kinds += ((str, "text"), (list, "an array"), (dict, "a table"))
    return next((name for tp, name in kinds if isinstance(value, tp)), "a date/time")


def _rule(where: KeyPath) -> str:
    return ".".join(p for p in where if isinstance(p, str))


def key_label(where: KeyPath) -> str:
    # List positions count from 1, the way a person counts [[symbols]] blocks.
    out = ""
    for part in where:
        out += f"[{part + 1}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _check(rule: str, value: Any) -> None:
    if rule in _CHOICES and value not in _CHOICES[rule]:
        raise _Bad("must be " + " or ".join(f'"{c}"' for c in _CHOICES[rule]))
    if rule in _EXCHANGE_IDS and not _EXCHANGE_ID_RE.fullmatch(value):
        raise _Bad('must be a ccxt exchange id in lower case, like "binance" or "okx"')
    if rule in _NOT_EMPTY and not value.strip():
        raise _Bad("must not be empty")
    if rule == "exchange.url" and value:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise _Bad('must be empty or an http(s) address, like "http://127.0.0.1:9000"')
    if rule == "notify.events" and value not in NOTIFY_EVENTS:
        raise _Bad(
            f'"{value}" is not an event tvdesk notifies about: use any of '
            + ", ".join(f'"{e}"' for e in NOTIFY_EVENTS)
        )
    if rule == "notify.telegram_chat_id" and value and not _TELEGRAM_CHAT_RE.fullmatch(value):
        raise _Bad('must be empty, your chat id (a number like "123456789") or "@channelname"')
    if rule == "notify.ntfy_topic" and value and not _NTFY_TOPIC_RE.fullmatch(value):
        raise _Bad("must be empty or a topic of up to 64 letters, digits, - and _")
    if rule == "tunnel.domain" and (problem := domain_problem(value)):
        raise _Bad(problem)
    if rule == "auth.tradingview_ips":
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise _Bad('must hold IP addresses, like "52.89.214.238"') from None
    if rule == "listener.trusted_proxies":
        _check_proxy_network(value)
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        if rule in _LEVERAGE and 0 < value < 1:
            raise _Bad(f"must be 0 or a leverage of 1 or more (like 3 for 3×), not {value}")
        low, high = _BOUNDS.get(rule, (0, None))
        if rule in _POSITIVE and value <= 0:
            raise _Bad(f"must be more than 0, not {value}")
        if high is not None and not low <= value <= high:
            raise _Bad(f"must be between {low} and {high}, not {value}")
        if value < low:
            hint = " (0 means no limit)" if rule.startswith("risk.") else ""
            raise _Bad(f"must be {low} or more, not {value}{hint}")


def normalise_domain(value: str) -> str:
    """A pasted domain as ngrok wants it: no scheme, no trailing slash, lower case."""
    value = value.strip()
    for scheme in ("https://", "http://"):
        if value.lower().startswith(scheme):
            value = value[len(scheme) :]
    return value.rstrip("/").lower()


def domain_problem(value: str) -> str | None:
    """What is wrong with ``value`` as the [tunnel] domain, or None (empty: no fixed domain)."""
    domain = normalise_domain(value)
    if not domain or _DOMAIN_RE.fullmatch(domain):
        return None
    if "/" in domain or "?" in domain or "#" in domain:
        why = "holds a path: keep only the host name"
    elif ":" in domain:
        why = "holds a port: ngrok domains have none"
    elif " " in domain:
        why = "holds a space"
    else:
        why = "is not a host name"
    return (
        f'must be empty or your ngrok domain, like "name-word-1234.ngrok-free.app", but '
        f'"{value.strip()}" {why}. Copy it from the Domains page of your ngrok dashboard'
    )


def _check_proxy_network(value: str) -> None:
    """A trusted proxy is a network (CIDR) or one address; an address with a prefix
    ("172.18.0.1/16") is refused rather than widened, since it decides whom to believe."""
    try:
        ipaddress.ip_network(value)
    except ValueError:
        try:
            network = ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise _Bad(
                f'must hold your reverse proxy\'s CIDRs, like "172.18.0.0/16" or "10.0.0.5", '
                f'not "{value}"'
            ) from None
        raise _Bad(
            f'has "{value}", an address rather than a network: write "{network}" for the '
            f'network, or "{value.split("/")[0]}" for that one address'
        ) from None


def _scalar(value: Any, tp: type, where: KeyPath) -> Any:
    if tp is bool:
        if not isinstance(value, bool):
            raise _Bad(f"must be true or false (without quotes), not {_kind(value)}")
    elif tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Bad(f"must be a whole number, not {_kind(value)}")
    elif tp is Decimal:
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            raise _Bad(f"must be a number (without quotes), not {_kind(value)}")
        value = Decimal(value)
        if not value.is_finite():
            raise _Bad("must be a finite number, not nan or inf")
    elif not isinstance(value, str):
        raise _Bad(f"must be text in double quotes, not {_kind(value)}")
    _check(_rule(where), value)
    return value


def _convert(value: Any, tp: Any, where: KeyPath, problems: list[Problem]) -> Any:
    if is_dataclass(tp):
        if not isinstance(value, dict):
            raise _Bad(f"must be a table ([{key_label(where)}]), not {_kind(value)}")
        return _build(tp, value, where, problems)
    origin = get_origin(tp)
    if origin not in (list, dict):
        return _scalar(value, tp, where)
    if not isinstance(value, origin):
        raise _Bad(f"must be {_kind(origin())}, not {_kind(value)}")
    item_tp = get_args(tp)[-1]
    keys = range(len(value)) if origin is list else value.keys()
    out: dict[Any, Any] = {}
    for key in keys:
        try:
            out[key] = _convert(value[key], item_tp, (*where, key), problems)
        except _Bad as bad:
            problems.append(Problem((*where, key), str(bad)))
    return list(out.values()) if origin is list else out


def _build(cls: Any, raw: Mapping[str, Any], where: KeyPath, problems: list[Problem]) -> Any:
    hints = get_type_hints(cls)
    values: dict[str, Any] = {}
    complete = True
    for f in fields(cls):
        key = (*where, f.name)
        if f.name not in raw:
            if f.default is MISSING and f.default_factory is MISSING:
                problems.append(Problem(key, _MISSING_KEY))
                complete = False
            continue
        try:
            values[f.name] = _convert(raw[f.name], hints[f.name], key, problems)
        except _Bad as bad:
            problems.append(Problem(key, str(bad)))
    return cls(**values) if complete else None


def _secret_keys(value: Any, where: KeyPath) -> list[Problem]:
    found = []
    if isinstance(value, dict) and where not in _SECRET_SCAN_SKIP:
        for key, item in value.items():
            name = key.lower().replace("-", "_")
            if any(word in name for word in _SECRET_WORDS):
                found.append(
                    Problem(
                        (*where, key),
                        "looks like a secret, and secrets never go in the settings file: "
                        "delete that line and store the value in the Secrets panel (OS keyring) "
                        "or a TVDESK_* environment variable",
                    )
                )
            else:
                found += _secret_keys(item, (*where, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += _secret_keys(item, (*where, i))
    return found


def settings_from_data(data: dict[str, Any]) -> tuple[Settings | None, list[Problem]]:
    """Parsed TOML as Settings, and every problem found (None if no Settings can be built)."""
    version = data.get("schema_version", SCHEMA_VERSION)
    if isinstance(version, int) and not isinstance(version, bool) and version > SCHEMA_VERSION:
        return None, [
            Problem(
                ("schema_version",),
                f"is {version}, but this tvdesk only understands up to {SCHEMA_VERSION}: "
                "this tvdesk is older than the file. Upgrade tvdesk, or use another --data-dir",
            )
        ]
    problems = _secret_keys(data, ())
    settings = _build(Settings, data, (), problems)
    if settings is not None:
        problems += _leverage_problems(settings)
    return settings, problems


def _leverage_problems(settings: Settings) -> list[Problem]:
    """Every leverage a setting asks for, within ``risk.max_leverage`` (0: no limit)."""
    cap = settings.risk.max_leverage
    asked: list[tuple[KeyPath, Decimal]] = [(("exchange", "leverage"), settings.exchange.leverage)]
    rows = enumerate(settings.symbols)  # a row missing a key is None (already a problem)
    asked += [(("symbols", i, "leverage"), r.leverage) for i, r in rows if r is not None]
    return [
        Problem(
            where,
            f"is {value}, above risk.max_leverage {cap}: lower it, or raise risk.max_leverage",
        )
        for where, value in asked
        if cap > 0 and value > cap
    ]
