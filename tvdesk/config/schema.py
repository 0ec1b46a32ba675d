"""The settings, declared once: typed dataclasses with their defaults, the schema version,
and the commented settings.toml a new install starts from."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

SCHEMA_VERSION = 1
TRADINGVIEW_IPS = ("52.89.214.238", "34.212.75.30", "54.218.53.128", "52.32.178.7")


@dataclass
class ListenerSettings:
    host: str = "127.0.0.1"
    port: int = 8787
    max_body_bytes: int = 65536
    read_timeout_s: int = 10
    max_connections: int = 256
    # CIDRs of the trader's own reverse proxy, whose X-Forwarded-For names the client.
    trusted_proxies: list[str] = field(default_factory=list)


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
    # Perpetuals only: 0 / "" leave the exchange's own setting as it is.
    leverage: Decimal = Decimal("0")
    margin_mode: str = ""  # "" | cross | isolated
    position_mode: str = "oneway"  # oneway | hedge


@dataclass
class PaperSettings:
    fee_rate: Decimal = Decimal("0.001")
    slippage_bps: Decimal = Decimal("5")
    balances: dict[str, Decimal] = field(default_factory=lambda: {"USDT": Decimal("10000")})
    price_source: str = "alert"  # alert | market (the exchange's public ticker, no keys)


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
    max_price_deviation_pct: Decimal = Decimal("5")
    max_leverage: Decimal = Decimal("3")  # the highest leverage an alert or setting may ask for


@dataclass
class SymbolRule:
    tv: str
    exchange: str
    symbol: str
    qty_multiplier: Decimal = Decimal("1")
    enabled: bool = True
    leverage: Decimal = Decimal("0")  # 0: [exchange] leverage
    margin_mode: str = ""  # "": [exchange] margin_mode


@dataclass
class TunnelSettings:
    enabled: bool = True
    domain: str = ""
    ngrok_path: str = ""


# What [notify] events may name (tvdesk.notify.messages says which event is which).
NOTIFY_EVENTS = ("fill", "rejected", "tunnel_down", "kill_switch", "daily_loss")


@dataclass
class NotifySettings:  # tokens live in the keystore, never here
    events: list[str] = field(default_factory=lambda: list(NOTIFY_EVENTS))
    telegram_chat_id: str = ""
    discord: bool = False
    ntfy_topic: str = ""


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
    notify: NotifySettings = field(default_factory=NotifySettings)


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
read_timeout_s = 10            # a client that sends nothing for this long is cut off
max_connections = 256          # open connections per port; more are closed at once
trusted_proxies = []           # CIDRs of your own reverse proxy, whose X-Forwarded-For
                               # names the client (docs/server.md); [] = believe nobody

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
leverage = 0                   # perpetuals: set on the exchange before the first order;
                               # 0 leaves the exchange's own
margin_mode = ""               # perpetuals: "cross" | "isolated"; "" leaves the exchange's
position_mode = "oneway"       # oneway | hedge (must match the account's setting)

[paper]                        # fees are charged in the quote currency
fee_rate = 0.001
slippage_bps = 5
balances = { USDT = 10000.0 }
price_source = "alert"         # alert | market: "market" reads the exchange's public ticker
                               # (no keys) to check each alert's price against it

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
max_price_deviation_pct = 5    # refuse an alert whose price is this many % from the
                               # exchange's price (live; paper with price_source = "market")
max_leverage = 3               # the highest leverage a setting or an alert may ask for

[tunnel]
enabled = true
domain = ""                    # the ngrok domain to reuse, so the URL never changes
ngrok_path = ""                # an ngrok binary to use instead of downloading one

[notify]                       # messages to your phone (docs/notify.md); the bot token,
                               # webhook URL and ntfy token live in the keystore, never here
events = ["fill", "rejected", "tunnel_down", "kill_switch", "daily_loss"]
telegram_chat_id = ""          # Telegram: your chat id (needs TELEGRAM_BOT_TOKEN stored)
discord = false                # Discord: true posts to DISCORD_WEBHOOK_URL (stored)
ntfy_topic = ""                # ntfy: a topic nobody can guess, on https://ntfy.sh

# The symbol map: one [[symbols]] block per TradingView ticker; first match wins.
# [[symbols]]
# tv = "BTCUSDT"               # TradingView ticker; exchange prefix and case ignored,
#                              # but .P / PERP count: "BTCUSDT" never matches "BTCUSDT.P"
# exchange = "binance"
# symbol = "BTC/USDT"          # ccxt market symbol
# qty_multiplier = 1.0
# enabled = true
# leverage = 0                 # perpetuals: this row's leverage; 0 = [exchange] leverage
# margin_mode = ""             # "cross" | "isolated"; "" = [exchange] margin_mode

"""


def default_settings_text() -> str:
    return _DEFAULT_TEXT


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
