"""Perpetual settings: leverage, margin mode and position mode in settings.toml, per symbol
row, and risk.max_leverage; what the trader reads when a value is wrong."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from tvdesk.config.load import SettingsError, load_settings
from tvdesk.config.save import save_settings
from tvdesk.config.schema import Settings, SymbolRule, default_settings_text

ROW = '[[symbols]]\ntv = "BTCUSDT.P"\nexchange = "okx"\nsymbol = "BTC/USDT:USDT"\n'


def load_error(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    return str(info.value)


def test_the_defaults_leave_the_exchange_as_it_is_and_cap_leverage_at_3(tmp_path: Path):
    path = tmp_path / "settings.toml"
    path.write_text(default_settings_text(), encoding="utf-8")
    s = load_settings(path)
    assert (s.exchange.leverage, s.exchange.margin_mode, s.exchange.position_mode) == (
        0,
        "",
        "oneway",
    )
    assert s.risk.max_leverage == Decimal(3)
    for key in ("leverage = 0", 'margin_mode = ""', 'position_mode = "oneway"', "max_leverage"):
        assert key in default_settings_text()


def test_per_row_leverage_and_margin_mode_load(tmp_path: Path):
    text = '[exchange]\nleverage = 2\nmargin_mode = "cross"\n'
    text += f'{ROW}leverage = 3\nmargin_mode = "isolated"\n'
    path = tmp_path / "settings.toml"
    path.write_text(text, encoding="utf-8")
    s = load_settings(path)
    assert (s.exchange.leverage, s.exchange.margin_mode) == (2, "cross")
    assert (s.symbols[0].leverage, s.symbols[0].margin_mode) == (3, "isolated")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (
            '[exchange]\nmargin_mode = "crossed"\n',
            ("exchange.margin_mode", '"cross" or "isolated"'),
        ),
        ('[exchange]\nposition_mode = "dual"\n', ("exchange.position_mode", '"oneway" or "hedge"')),
        (f'{ROW}margin_mode = "portfolio"\n', ("symbols[1].margin_mode", '"isolated"')),
        ("[exchange]\nleverage = 0.5\n", ("exchange.leverage", "1 or more", "0.5")),
        ("[exchange]\nleverage = -2\n", ("exchange.leverage", "-2")),
        ("[risk]\nmax_leverage = 0.5\n", ("risk.max_leverage", "1 or more")),
        ('[exchange]\nleverage = "5x"\n', ("exchange.leverage", "a number")),
    ],
)
def test_a_wrong_value_names_the_field_and_what_is_allowed(tmp_path: Path, text, words):
    message = load_error(tmp_path / "settings.toml", text)
    for word in words:
        assert word in message


def test_a_leverage_above_max_leverage_names_both_numbers(tmp_path: Path):
    message = load_error(
        tmp_path / "settings.toml", f"[exchange]\nleverage = 5\n{ROW}leverage = 10\n"
    )
    assert "exchange.leverage is 5, above risk.max_leverage 3" in message
    assert "symbols[1].leverage is 10, above risk.max_leverage 3" in message


def test_max_leverage_0_is_no_limit(tmp_path: Path):
    path = tmp_path / "settings.toml"
    path.write_text("[exchange]\nleverage = 50\n[risk]\nmax_leverage = 0\n", encoding="utf-8")
    assert load_settings(path).exchange.leverage == 50


def test_saving_keeps_the_new_values_and_the_comments(tmp_path: Path):
    path = tmp_path / "settings.toml"
    path.write_text(default_settings_text(), encoding="utf-8")
    s = load_settings(path)
    s = replace(
        s,
        exchange=replace(s.exchange, leverage=Decimal(2), position_mode="hedge"),
        symbols=[SymbolRule("BTCUSDT.P", "okx", "BTC/USDT:USDT", margin_mode="isolated")],
    )
    save_settings(s, path)
    again = load_settings(path)
    assert (again.exchange.leverage, again.exchange.position_mode) == (2, "hedge")
    assert again.symbols[0].margin_mode == "isolated"
    assert "# perpetuals" in path.read_text(encoding="utf-8")


def test_a_file_saved_with_a_leverage_above_the_cap_is_refused(tmp_path: Path):
    path = tmp_path / "settings.toml"
    s = Settings()
    with pytest.raises(SettingsError, match=r"above risk\.max_leverage 3"):
        save_settings(replace(s, exchange=replace(s.exchange, leverage=Decimal(4))), path)
