import json
import os
import stat
from decimal import Decimal
from pathlib import Path

import platformdirs
import pytest

from tvdesk.config.load import SettingsError, load_settings
from tvdesk.config.paths import resolve_paths
from tvdesk.config.save import save_settings
from tvdesk.config.schema import (
    SCHEMA_VERSION,
    TRADINGVIEW_IPS,
    Settings,
    SymbolRule,
    default_settings_text,
    settings_to_dict,
)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def load_error(path: Path, text: str) -> str:
    write(path, text)
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    return str(info.value)


@pytest.fixture
def settings_file(tmp_path: Path) -> Path:
    return tmp_path / "settings.toml"


# --- defaults ---


def test_defaults_match_the_design() -> None:
    s = Settings()
    assert (s.schema_version, s.mode) == (1, "paper")
    assert (s.listener.host, s.listener.port, s.listener.max_body_bytes) == (
        "127.0.0.1",
        8787,
        65536,
    )
    assert (s.listener.read_timeout_s, s.listener.max_connections) == (10, 256)
    auth = s.auth
    assert (auth.rotation_grace_s, auth.max_alert_age_s, auth.max_clock_skew_s) == (600, 300, 60)
    assert (auth.dedupe_window_s, auth.lockout_failures, auth.tradingview_ips_only) == (
        10,
        20,
        False,
    )
    assert auth.tradingview_ips == list(TRADINGVIEW_IPS)
    ex = s.exchange
    assert (ex.default, ex.sandbox, ex.url, ex.market_type, ex.auto_map) == (
        "binance",
        False,
        "",
        "spot",
        "paper",
    )
    assert s.paper.fee_rate == Decimal("0.001")
    assert s.paper.slippage_bps == Decimal("5")
    assert s.paper.balances == {"USDT": Decimal("10000")}
    risk = s.risk
    assert risk.kill_switch is False
    assert risk.max_notional == Decimal("1000")
    assert risk.max_orders_per_minute == 30
    for unlimited in ("max_qty", "max_position_notional", "daily_loss_limit", "min_confidence"):
        assert getattr(risk, unlimited) == 0
        assert isinstance(getattr(risk, unlimited), Decimal)
    assert (risk.max_orders_per_day, risk.cooldown_s) == (0, 0)
    assert s.symbols == []
    assert (s.tunnel.enabled, s.tunnel.domain, s.tunnel.ngrok_path) == (True, "", "")


def test_default_text_is_commented_and_loads_as_the_defaults(settings_file: Path) -> None:
    text = default_settings_text()
    assert "schema_version = 1" in text
    assert "# paper | live" in text
    assert "[[symbols]]\n" not in text.replace("# [[symbols]]\n", "")
    assert load_settings(write(settings_file, text)) == Settings()


def test_missing_file_gives_defaults_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "settings.toml"
    assert load_settings(path) == Settings()
    assert not path.parent.exists()


def test_missing_schema_version_is_version_1(settings_file: Path) -> None:
    s = load_settings(write(settings_file, 'mode = "live"\n'))
    assert s.schema_version == SCHEMA_VERSION
    assert s.mode == "live"


def test_ints_are_accepted_where_money_is_expected(settings_file: Path) -> None:
    s = load_settings(write(settings_file, "[risk]\nmax_notional = 500\nmax_qty = 0.25\n"))
    assert s.risk.max_notional == Decimal("500")
    assert s.risk.max_qty == Decimal("0.25")
    assert isinstance(s.risk.max_notional, Decimal)


def test_unknown_keys_are_ignored(settings_file: Path) -> None:
    text = 'future = 1\n[risk]\nmax_leverage = 3\n[plugins]\nname = "x"\n'
    assert load_settings(write(settings_file, text)) == Settings()


def test_a_currency_called_token_is_not_a_secret(settings_file: Path) -> None:
    s = load_settings(write(settings_file, "[paper]\nbalances = { TOKEN = 5.0, USDT = 1 }\n"))
    assert s.paper.balances == {"TOKEN": Decimal("5"), "USDT": Decimal("1")}


# --- saving ---


def custom_settings() -> Settings:
    s = Settings()
    s.mode = "live"
    s.listener.port = 9000
    s.auth.tradingview_ips_only = True
    s.exchange.default = "okx"
    s.exchange.url = "http://127.0.0.1:9001"
    s.exchange.market_type = "swap"
    s.paper.fee_rate = Decimal("0.00075")
    s.paper.balances = {"USDT": Decimal("2500.5"), "BTC": Decimal("0.1")}
    s.risk.max_notional = Decimal("250")
    s.risk.daily_loss_limit = Decimal("100.25")
    s.risk.cooldown_s = 30
    s.symbols = [
        SymbolRule(tv="BTCUSDT", exchange="binance", symbol="BTC/USDT"),
        SymbolRule("ETHUSDT.P", "okx", "ETH/USDT:USDT", Decimal("0.5"), enabled=False),
    ]
    s.tunnel.domain = "my-desk.ngrok.app"
    return s


def test_round_trip(settings_file: Path) -> None:
    s = custom_settings()
    save_settings(s, settings_file)
    assert load_settings(settings_file) == s


def test_first_save_writes_the_commented_file(settings_file: Path) -> None:
    save_settings(Settings(), settings_file)
    assert settings_file.read_text() == default_settings_text()

    save_settings(custom_settings(), settings_file)
    text = settings_file.read_text()
    assert "max_notional = 250.0" in text
    assert "# per order, quote currency" in text
    assert "fee_rate = 0.00075" in text
    assert text.count("\n[[symbols]]\n") == 2


def test_comments_and_unknown_keys_survive_a_save(settings_file: Path) -> None:
    write(
        settings_file,
        "# my desk\n"
        'mode = "paper"  # start safe\n'
        "my_note = 'keep me'\n"
        "\n"
        "[risk]  # tuned after March\n"
        "max_notional = 1000.0  # per order\n"
        "max_leverage = 3\n"
        "\n"
        "[[symbols]]  # main pair\n"
        'tv = "BTCUSDT"\n'
        'exchange = "binance"\n'
        'symbol = "BTC/USDT"\n'
        'note = "from the old bot"\n'
        "\n"
        "[plugins]\n"
        'name = "x"\n',
    )
    s = load_settings(settings_file)
    s.risk.max_notional = Decimal("750")
    s.symbols[0].qty_multiplier = Decimal("2")
    s.symbols.append(SymbolRule("ETHUSDT", "binance", "ETH/USDT"))
    save_settings(s, settings_file)

    text = settings_file.read_text()
    for kept in (
        "# my desk",
        'mode = "paper"  # start safe',
        "my_note = 'keep me'",
        "[risk]  # tuned after March",
        "max_notional = 750.0   # per order",  # the comment stays in its column
        "max_leverage = 3",
        "[[symbols]]  # main pair",
        'note = "from the old bot"',
        "[plugins]",
    ):
        assert kept in text
    assert load_settings(settings_file) == s


def test_unchanged_values_keep_how_the_user_wrote_them(settings_file: Path) -> None:
    write(settings_file, "[paper]\nslippage_bps = 5\n[risk]\nmax_qty = 0\nmax_notional = 1e3\n")
    s = load_settings(settings_file)
    s.risk.max_qty = Decimal("3")
    save_settings(s, settings_file)
    text = settings_file.read_text()
    assert "slippage_bps = 5\n" in text
    assert "max_notional = 1e3\n" in text
    assert "max_qty = 3\n" in text  # the user wrote a whole number there


def test_removing_every_symbol_removes_the_rows(settings_file: Path) -> None:
    s = custom_settings()
    save_settings(s, settings_file)
    s.symbols = []
    save_settings(s, settings_file)
    assert "\n[[symbols]]" not in settings_file.read_text()
    assert "symbols = []" not in settings_file.read_text()
    assert load_settings(settings_file).symbols == []


def test_save_leaves_no_temporary_files(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    save_settings(Settings(), path)
    save_settings(custom_settings(), path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["settings.toml"]


def test_a_failed_save_keeps_the_previous_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "settings.toml"
    save_settings(Settings(), path)
    before = path.read_bytes()

    def disk_full(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(SettingsError) as info:
        save_settings(custom_settings(), path)
    assert "unchanged" in str(info.value)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["settings.toml"]


def test_save_refuses_to_overwrite_a_broken_file(settings_file: Path) -> None:
    write(settings_file, "[risk\nmax_qty = 1\n")
    with pytest.raises(SettingsError, match="line 1"):
        save_settings(Settings(), settings_file)
    assert settings_file.read_text() == "[risk\nmax_qty = 1\n"


def test_save_refuses_settings_that_would_not_load(settings_file: Path) -> None:
    s = Settings()
    s.risk.max_notional = Decimal("-5")
    with pytest.raises(SettingsError, match=r"not saved.*risk\.max_notional"):
        save_settings(s, settings_file)
    assert not settings_file.exists()


def test_settings_to_dict_is_plain_json() -> None:
    d = settings_to_dict(custom_settings())
    assert json.loads(json.dumps(d)) == d
    assert d["risk"]["max_notional"] == "250"
    assert d["symbols"][1] == {
        "tv": "ETHUSDT.P",
        "exchange": "okx",
        "symbol": "ETH/USDT:USDT",
        "qty_multiplier": "0.5",
        "enabled": False,
        "leverage": "0",
        "margin_mode": "",
    }


# --- errors a user would see ---


def test_malformed_toml_names_the_line(settings_file: Path) -> None:
    message = load_error(settings_file, '[listener]\nport = 8787\nhost = 127.0.0.1"\n')
    assert str(settings_file) in message
    assert "line 3" in message
    assert "not valid TOML" in message


def test_wrong_type_names_key_and_line(settings_file: Path) -> None:
    message = load_error(
        settings_file, '# mine\nmode = "paper"\n\n[listener]\nhost = "0.0.0.0"\nport = "8787"\n'
    )
    assert str(settings_file) in message
    assert "line 6" in message
    assert "listener.port" in message
    assert "whole number" in message


def test_negative_limit_is_refused(settings_file: Path) -> None:
    message = load_error(settings_file, "[risk]\nkill_switch = false\nmax_notional = -5\n")
    assert "line 3" in message
    assert "risk.max_notional" in message
    assert "0 or more" in message


@pytest.mark.parametrize(
    ("text", "key", "line"),
    [
        ('mode = "Live"\n', "mode", 1),
        ('[exchange]\nmarket_type = "futures"\n', "exchange.market_type", 2),
        ('[exchange]\nauto_map = "sometimes"\n', "exchange.auto_map", 2),
        ('[exchange]\ndefault = "Binance US"\n', "exchange.default", 2),
        ('[exchange]\nurl = "ftp://example.com"\n', "exchange.url", 2),
        ("[listener]\nport = 70000\n", "listener.port", 2),
        ("[listener]\nmax_body_bytes = 0\n", "listener.max_body_bytes", 2),
        ("[listener]\nread_timeout_s = 0\n", "listener.read_timeout_s", 2),
        ("[listener]\nmax_connections = 0\n", "listener.max_connections", 2),
        ("[auth]\ntradingview_ips_only = 1\n", "auth.tradingview_ips_only", 2),
        ('[auth]\ntradingview_ips = ["1.2.3.4", "tradingview"]\n', "auth.tradingview_ips[2]", 2),
        ("[risk]\nmax_qty = true\n", "risk.max_qty", 2),
        ("[risk]\nmax_orders_per_minute = 1.5\n", "risk.max_orders_per_minute", 2),
        ("[risk]\nmin_confidence = 1.5\n", "risk.min_confidence", 2),
        ("[risk]\ndaily_loss_limit = nan\n", "risk.daily_loss_limit", 2),
        ('[paper]\nbalances = { USDT = "lots" }\n', "paper.balances.USDT", 2),
        ("listener = 5\n", "listener", 1),
        (
            '[[symbols]]\ntv = "A"\nexchange = "binance"\nsymbol = "A/B"\n'
            '[[symbols]]\ntv = "C"\nexchange = "binance"\nsymbol = "C/D"\nqty_multiplier = 0\n',
            "symbols[2].qty_multiplier",
            9,
        ),
        ('[[symbols]]\ntv = "A"\nexchange = "binance"\n', "symbols[1].symbol", 1),
    ],
)
def test_bad_values_name_key_and_line(settings_file: Path, text: str, key: str, line: int) -> None:
    message = load_error(settings_file, text)
    assert f"line {line}: {key} " in message


def test_every_problem_is_listed_at_once(settings_file: Path) -> None:
    message = load_error(settings_file, 'mode = "demo"\n[risk]\nmax_qty = -1\ncooldown_s = -2\n')
    assert "3 problems" in message
    for expected in ("line 1: mode", "line 3: risk.max_qty", "line 4: risk.cooldown_s"):
        assert expected in message


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('webhook_secret = "{v}"\n', "webhook_secret"),
        ('[exchange]\napi_secret = "{v}"\n', "exchange.api_secret"),
        ('[exchange]\napiKey = "{v}"\n', "exchange.apiKey"),
        ('[tunnel]\nngrok_authtoken = "{v}"\n', "tunnel.ngrok_authtoken"),
        ('[binance]\npassword = "{v}"\n', "binance.password"),
        ('[[symbols]]\ntv = "A"\nexchange = "b"\nsymbol = "A/B"\napi-key = "{v}"\n', "api-key"),
    ],
)
def test_a_secret_in_the_file_is_refused_without_echoing_it(
    settings_file: Path, text: str, key: str
) -> None:
    value = "sk-live-9f8e7d6c5b4a"
    message = load_error(settings_file, text.format(v=value))
    assert key in message
    assert "keyring" in message
    assert "TVDESK_" in message
    assert value not in message


def test_a_newer_settings_file_is_refused(settings_file: Path) -> None:
    message = load_error(settings_file, "schema_version = 2\n[risk]\nmax_qty = -1\n")
    assert "older than the file" in message
    assert "schema_version" in message
    assert "risk.max_qty" not in message


# --- paths ---


def test_resolve_paths_with_a_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    paths = resolve_paths(Path("profile"))
    root = (tmp_path / "profile").resolve()
    assert paths.config_dir == paths.data_dir == root
    assert paths.log_dir == root / "logs"
    assert paths.settings_file == root / "settings.toml"
    assert paths.journal_file == root / "journal.sqlite3"
    assert paths.lock_file == root / "tvdesk.lock"
    assert paths.engine_file == root / "engine.json"
    assert paths.log_file == root / "logs" / "tvdesk.log"

    paths.ensure()
    assert (root / "logs").is_dir()
    if os.name == "posix":
        assert stat.S_IMODE(root.stat().st_mode) == 0o700
    paths.ensure()  # a second start finds them in place


def test_resolve_paths_without_a_data_dir_uses_the_platform_dirs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var, sub in (("XDG_CONFIG_HOME", "c"), ("XDG_DATA_HOME", "d"), ("XDG_STATE_HOME", "s")):
        monkeypatch.setenv(var, str(tmp_path / sub))
    paths = resolve_paths(None)
    assert paths.config_dir == Path(platformdirs.user_config_dir("tvdesk", appauthor=False))
    assert paths.data_dir == Path(platformdirs.user_data_dir("tvdesk", appauthor=False))
    assert paths.log_dir == Path(platformdirs.user_log_dir("tvdesk", appauthor=False))
    assert paths.settings_file.name == "settings.toml"
    assert "tvdesk" in paths.config_dir.parts
