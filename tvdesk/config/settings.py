"""Non-secret settings: typed defaults, a commented TOML file, atomic saves, data paths."""

from __future__ import annotations

import ipaddress
import re
import tomllib
from collections.abc import Mapping, MutableMapping
from dataclasses import MISSING, asdict, dataclass, field, fields, is_dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple, get_args, get_origin, get_type_hints
from urllib.parse import urlsplit

import platformdirs
import tomlkit
from tomlkit.items import AoT, Float, Integer, Trivia

from tvdesk.support.atomic import write_atomic

SCHEMA_VERSION = 1
TRADINGVIEW_IPS = ("52.89.214.238", "34.212.75.30", "54.218.53.128", "52.32.178.7")


@dataclass
class ListenerSettings:
    host: str = "127.0.0.1"
    port: int = 8787
    max_body_bytes: int = 65536


@dataclass
class AuthSettings:
    rotation_grace_s: int = 600
    max_alert_age_s: int = 300
    max_clock_skew_s: int = 60
    dedupe_window_s: int = 10
    lockout_failures: int = 20
    tradingview_ips_only: bool = False
    tradingview_ips: list[str] = field(default_factory=lambda: list(TRADINGVIEW_IPS))


@dataclass
class ExchangeSettings:
    default: str = "binance"
    sandbox: bool = False
    url: str = ""
    market_type: str = "spot"  # spot | swap
    auto_map: str = "paper"  # paper | always | off


@dataclass
class PaperSettings:
    fee_rate: Decimal = Decimal("0.001")
    slippage_bps: Decimal = Decimal("5")
    balances: dict[str, Decimal] = field(default_factory=lambda: {"USDT": Decimal("10000")})


@dataclass
class RiskSettings:
    kill_switch: bool = False
    max_qty: Decimal = Decimal("0")
    max_notional: Decimal = Decimal("1000")
    max_position_notional: Decimal = Decimal("0")
    max_orders_per_minute: int = 30
    max_orders_per_day: int = 0
    daily_loss_limit: Decimal = Decimal("0")
    min_confidence: Decimal = Decimal("0")
    cooldown_s: int = 0


@dataclass
class SymbolRule:
    tv: str
    exchange: str
    symbol: str
    qty_multiplier: Decimal = Decimal("1")
    enabled: bool = True


@dataclass
class TunnelSettings:
    enabled: bool = True
    domain: str = ""
    ngrok_path: str = ""


@dataclass
class Settings:
    schema_version: int = SCHEMA_VERSION
    mode: str = "paper"
    listener: ListenerSettings = field(default_factory=ListenerSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    exchange: ExchangeSettings = field(default_factory=ExchangeSettings)
    paper: PaperSettings = field(default_factory=PaperSettings)
    risk: RiskSettings = field(default_factory=RiskSettings)
    symbols: list[SymbolRule] = field(default_factory=list)
    tunnel: TunnelSettings = field(default_factory=TunnelSettings)


class SettingsError(Exception):
    """The settings file cannot be used; the message names the file, key and line, and the fix."""


_DEFAULT_TEXT = """\
# tvdesk settings. tvdesk rewrites this file when you change settings in its
# window and keeps your comments. Secrets (webhook secret, ngrok authtoken,
# exchange API keys) never go here: they live in the OS keyring (Secrets panel)
# or in TVDESK_* environment variables.

schema_version = 1             # format of this file; tvdesk manages it
mode = "paper"                 # paper | live (live sends real orders)

[listener]                     # the local webhook listener
host = "127.0.0.1"
port = 8787                    # 0 picks a free port
max_body_bytes = 65536         # larger alert bodies are refused (413)

[auth]
rotation_grace_s = 600         # old secret still accepted after a rotation
max_alert_age_s = 300          # alert timestamps older than this are stale
max_clock_skew_s = 60          # ... or further in the future than this
dedupe_window_s = 10           # without client_ref: same body within the window = duplicate
lockout_failures = 20          # failed authentications per client per minute before 429
tradingview_ips_only = false   # accept only TradingView's published webhook IPs
tradingview_ips = ["52.89.214.238", "34.212.75.30", "54.218.53.128", "52.32.178.7"]

[exchange]
default = "binance"            # ccxt id
sandbox = false                # the exchange's testnet
url = ""                       # send REST calls here instead (proxy, simulator)
market_type = "spot"           # spot | swap
auto_map = "paper"             # paper | always | off: resolve tickers the symbol table
                               # doesn't list (rule-based, or from the exchange's markets)

[paper]                        # fees are charged in the quote currency
fee_rate = 0.001
slippage_bps = 5
balances = { USDT = 10000.0 }

[risk]                         # 0 means "no limit"
kill_switch = false
max_qty = 0
max_notional = 1000.0          # per order, quote currency
max_position_notional = 0
max_orders_per_minute = 30     # orders placed in any rolling 60 s
max_orders_per_day = 0
daily_loss_limit = 0
min_confidence = 0
cooldown_s = 0                 # per symbol

[tunnel]
enabled = true
domain = ""                    # the ngrok domain to reuse, so the URL never changes
ngrok_path = ""                # an ngrok binary to use instead of downloading one

# The symbol map: one [[symbols]] block per TradingView ticker; first match wins.
# [[symbols]]
# tv = "BTCUSDT"               # TradingView ticker; exchange prefix and case ignored,
#                              # but .P / PERP count: "BTCUSDT" never matches "BTCUSDT.P"
# exchange = "binance"
# symbol = "BTC/USDT"          # ccxt market symbol
# qty_multiplier = 1.0
# enabled = true

"""


def default_settings_text() -> str:
    return _DEFAULT_TEXT


# --- validation rules, keyed by dotted key with list positions left out ---

_CHOICES = {
    "mode": ("paper", "live"),
    "exchange.market_type": ("spot", "swap"),
    "exchange.auto_map": ("paper", "always", "off"),
}
# Inclusive bounds; any other number must be 0 or more.
_BOUNDS: dict[str, tuple[int, int | None]] = {
    "schema_version": (1, None),
    "listener.port": (0, 65535),
    "listener.max_body_bytes": (1, None),
    "auth.max_alert_age_s": (1, None),
    "auth.lockout_failures": (1, None),
    "paper.fee_rate": (0, 1),
    "risk.min_confidence": (0, 1),
}
_POSITIVE = {"symbols.qty_multiplier"}
_EXCHANGE_IDS = {"exchange.default", "symbols.exchange"}
_NOT_EMPTY = {"listener.host", "symbols.tv", "symbols.symbol"}
_EXCHANGE_ID_RE = re.compile(r"[a-z][a-z0-9_]*")
_SECRET_WORDS = ("secret", "token", "password", "passphrase", "apikey", "api_key")
# Currency codes are data, not setting names: a coin may well be called TOKEN.
_SECRET_SCAN_SKIP = {("paper", "balances")}

_Path = tuple[str | int, ...]
_MISSING_KEY = "is missing: each [[symbols]] block needs tv, exchange and symbol"


class _Problem(NamedTuple):
    where: _Path
    message: str


class _Bad(Exception):
    pass


def _kind(value: object) -> str:
    kinds = ((bool, "true/false"), (int, "a whole number"), (Decimal, "a decimal number"))
    kinds += ((str, "text"), (list, "an array"), (dict, "a table"))
    return next((name for tp, name in kinds if isinstance(value, tp)), "a date/time")


def _rule(where: _Path) -> str:
    return ".".join(p for p in where if isinstance(p, str))


def _label(where: _Path) -> str:
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
    if rule == "auth.tradingview_ips":
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise _Bad('must hold IP addresses, like "52.89.214.238"') from None
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        low, high = _BOUNDS.get(rule, (0, None))
        if rule in _POSITIVE and value <= 0:
            raise _Bad(f"must be more than 0, not {value}")
        if high is not None and not low <= value <= high:
            raise _Bad(f"must be between {low} and {high}, not {value}")
        if value < low:
            hint = " (0 means no limit)" if rule.startswith("risk.") else ""
            raise _Bad(f"must be {low} or more, not {value}{hint}")


def _scalar(value: Any, tp: type, where: _Path) -> Any:
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


def _convert(value: Any, tp: Any, where: _Path, problems: list[_Problem]) -> Any:
    if is_dataclass(tp):
        if not isinstance(value, dict):
            raise _Bad(f"must be a table ([{_label(where)}]), not {_kind(value)}")
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
            problems.append(_Problem((*where, key), str(bad)))
    return list(out.values()) if origin is list else out


def _build(cls: Any, raw: Mapping[str, Any], where: _Path, problems: list[_Problem]) -> Any:
    hints = get_type_hints(cls)
    values: dict[str, Any] = {}
    complete = True
    for f in fields(cls):
        key = (*where, f.name)
        if f.name not in raw:
            if f.default is MISSING and f.default_factory is MISSING:
                problems.append(_Problem(key, _MISSING_KEY))
                complete = False
            continue
        try:
            values[f.name] = _convert(raw[f.name], hints[f.name], key, problems)
        except _Bad as bad:
            problems.append(_Problem(key, str(bad)))
    return cls(**values) if complete else None


def _secret_keys(value: Any, where: _Path) -> list[_Problem]:
    found = []
    if isinstance(value, dict) and where not in _SECRET_SCAN_SKIP:
        for key, item in value.items():
            name = key.lower().replace("-", "_")
            if any(word in name for word in _SECRET_WORDS):
                found.append(
                    _Problem(
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


def _from_data(data: dict[str, Any]) -> tuple[Settings | None, list[_Problem]]:
    version = data.get("schema_version", SCHEMA_VERSION)
    if isinstance(version, int) and not isinstance(version, bool) and version > SCHEMA_VERSION:
        return None, [
            _Problem(
                ("schema_version",),
                f"is {version}, but this tvdesk only understands up to {SCHEMA_VERSION}: "
                "this tvdesk is older than the file. Upgrade tvdesk, or use another --data-dir",
            )
        ]
    problems = _secret_keys(data, ())
    settings = _build(Settings, data, (), problems)
    return settings, problems


# --- finding the line of a key, for messages ---

_BARE = r"[A-Za-z0-9_-]+"
_QUOTED = r'"(?:[^"\\]|\\.)*"|\'[^\']*\''
_KEY = rf"(?:{_BARE}|{_QUOTED})(?:\s*\.\s*(?:{_BARE}|{_QUOTED}))*"
_HEADER_RE = re.compile(rf"\s*(\[\[?)\s*({_KEY})\s*\]")
_ASSIGN_RE = re.compile(rf"\s*({_KEY})\s*=")
_PART_RE = re.compile(rf"{_BARE}|{_QUOTED}")


def _key_parts(key: str) -> tuple[str, ...]:
    return tuple(part.strip("\"'") for part in _PART_RE.findall(key))


def _key_lines(text: str) -> dict[_Path, int]:
    lines: dict[_Path, int] = {}
    table: _Path = ()
    array_rows: dict[tuple[str, ...], int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if header := _HEADER_RE.match(line):
            names = _key_parts(header.group(2))
            if header.group(1) == "[[":
                row = array_rows.get(names, 0)
                array_rows[names] = row + 1
                table = (*names, row)
            elif names[:1] in array_rows:
                table = (names[0], array_rows[names[:1]] - 1, *names[1:])
            else:
                table = names
            lines.setdefault(table, number)
        elif assign := _ASSIGN_RE.match(line):
            lines.setdefault((*table, *_key_parts(assign.group(1))), number)
    return lines


def _describe(path: Path, problems: list[_Problem], text: str) -> str:
    lines = _key_lines(text)

    def line_of(where: _Path) -> str:
        for end in range(len(where), 0, -1):
            if where[:end] in lines:
                return str(lines[where[:end]])
        return "?"

    if len(problems) == 1:
        where, message = problems[0]
        return f"{path}, line {line_of(where)}: {_label(where)} {message}."
    rows = [f"  line {line_of(where)}: {_label(where)} {message}." for where, message in problems]
    return f"{path} has {len(problems)} problems:\n" + "\n".join(rows)


# --- loading and saving ---


def _parse(text: str, path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"\(at (?:line (\d+), column (\d+)|end of document)\)$", str(exc))
        reason = str(exc)[: found.start()].strip() if found else str(exc)
        at = f"line {found.group(1)}, column {found.group(2)}" if found and found.group(1) else ""
        raise SettingsError(
            f"{path}, {at or 'at the end of the file'}: not valid TOML ({reason}). "
            "Fix that line: text needs double quotes, each setting is key = value."
        ) from None


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        raise SettingsError(f"{path} is not UTF-8 text: save it as UTF-8.") from None
    except OSError as exc:
        raise SettingsError(
            f"{path} cannot be read ({exc.strerror}): check its permissions."
        ) from None


def load_settings(path: Path) -> Settings:
    text = _read(path)
    if text is None:
        return Settings()
    settings, problems = _from_data(_parse(text, path))
    if problems or settings is None:
        raise SettingsError(_describe(path, problems, text))
    return settings


def _same(old: Any, new: Any) -> bool:
    if isinstance(new, Decimal):
        number = isinstance(old, int | float) and not isinstance(old, bool)
        return number and Decimal(str(old)) == new
    if isinstance(new, dict):
        return (
            isinstance(old, dict)
            and old.keys() == new.keys()
            and all(_same(old[key], value) for key, value in new.items())
        )
    return type(old) is type(new) and old == new


def _decimal_item(value: Decimal, keep_int: bool) -> Integer | Float:
    # "0" reads as "no limit"; whole numbers the user wrote as ints stay ints.
    if value == value.to_integral_value() and (keep_int or value == 0):
        return Integer(int(value), Trivia(), str(int(value)))
    # Fixed-point text keeps 0.00001 from turning into 1e-05 in a human-edited file.
    text = format(value, "f")
    return Float(float(value), Trivia(), text if "." in text else text + ".0")


def _item(new: Any, old: Any) -> Any:
    if isinstance(new, Decimal):
        return _decimal_item(new, isinstance(old, int) and not isinstance(old, bool))
    if isinstance(new, dict):
        table = tomlkit.inline_table()
        for key, value in new.items():
            table[key] = _item(value, old.get(key) if isinstance(old, dict) else None)
        return table
    return new


def _apply(container: MutableMapping[str, Any], current: Mapping[str, Any], obj: Any) -> None:
    """Write obj's values into a tomlkit container, touching only keys whose value changed."""
    for f in fields(obj):
        new = getattr(obj, f.name)
        old = current.get(f.name, MISSING)
        if isinstance(obj, Settings) and f.name == "symbols":
            _apply_symbols(container, old, new)
        elif is_dataclass(new):
            if not isinstance(old, dict):
                container[f.name] = tomlkit.table()
                old = {}
            _apply(container[f.name], old, new)
        elif old is MISSING or not _same(old, new):
            _replace(container, f.name, _item(new, old))


def _replace(container: Any, key: str, value: Any) -> None:
    """Set container[key] (a tomlkit table), keeping a trailing comment in its column."""
    item_of = getattr(container, "item", None)  # a table split in two has no item()
    previous = item_of(key) if item_of and key in container else None
    container[key] = value
    if item_of and previous is not None and previous.trivia.comment:
        column = len(previous.as_string()) + len(previous.trivia.comment_ws)
        current = item_of(key)
        current.trivia.comment_ws = " " * max(1, column - len(current.as_string()))


def _apply_symbols(doc: MutableMapping[str, Any], old: Any, rules: list[SymbolRule]) -> None:
    if not rules:
        # An empty array of tables would be written as "symbols = []" at the top.
        doc.pop("symbols", None)
        return
    if not isinstance(doc.get("symbols"), AoT):
        doc["symbols"] = tomlkit.aot()
        old = []
    rows = doc["symbols"]
    for i, rule in enumerate(rules):
        if i < len(old) and isinstance(old[i], dict):
            _apply(rows[i], old[i], rule)
        else:
            row = tomlkit.table()
            _apply(row, {}, rule)
            rows.append(row)
    for i in reversed(range(len(rules), len(old))):
        del rows[i]


def save_settings(settings: Settings, path: Path) -> None:
    existing = _read(path)
    if existing is not None:
        _parse(existing, path)  # a broken file is the user's to fix, never ours to overwrite
    doc = tomlkit.parse(existing if existing is not None else _DEFAULT_TEXT)
    _apply(doc, doc.unwrap(), settings)
    text = doc.as_string()
    # Save only what load_settings will accept again.
    saved, problems = _from_data(_parse(text, path))
    if problems or saved is None:
        where, message = problems[0]
        raise SettingsError(f"Settings not saved to {path}: {_label(where)} {message}.")
    try:
        write_atomic(path, text)
    except OSError as exc:
        raise SettingsError(
            f"Settings not saved to {path} ({exc.strerror or exc}); the previous file is "
            "unchanged. Check that the folder exists and is writable."
        ) from None


def settings_to_dict(settings: Settings) -> dict[str, Any]:
    def plain(value: Any) -> Any:
        if isinstance(value, Decimal):
            return str(value)
        if isinstance(value, dict):
            return {key: plain(item) for key, item in value.items()}
        if isinstance(value, list):
            return [plain(item) for item in value]
        return value

    return plain(asdict(settings))


# --- where files live ---


@dataclass(frozen=True)
class Paths:
    config_dir: Path
    data_dir: Path
    log_dir: Path

    @property
    def settings_file(self) -> Path:
        return self.config_dir / "settings.toml"

    @property
    def journal_file(self) -> Path:
        return self.data_dir / "journal.sqlite3"

    @property
    def lock_file(self) -> Path:
        return self.data_dir / "tvdesk.lock"

    @property
    def engine_file(self) -> Path:
        return self.data_dir / "engine.json"

    @property
    def log_file(self) -> Path:
        return self.log_dir / "tvdesk.log"

    def ensure(self) -> None:
        for directory in (self.config_dir, self.data_dir, self.log_dir):
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)


def local_url(host: str, port: int) -> str:
    """The URL this machine reaches a listener on ``host``:``port`` at (a wildcard: loopback)."""
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"  # an IPv6 address in a URL
    return f"http://{host}:{port}"


def resolve_paths(data_dir: Path | None) -> Paths:
    if data_dir is not None:
        root = Path(data_dir).expanduser().resolve()
        return Paths(config_dir=root, data_dir=root, log_dir=root / "logs")
    return Paths(
        config_dir=Path(platformdirs.user_config_dir("tvdesk", appauthor=False)),
        data_dir=Path(platformdirs.user_data_dir("tvdesk", appauthor=False)),
        log_dir=Path(platformdirs.user_log_dir("tvdesk", appauthor=False)),
    )
