"""The price settings: risk.max_price_deviation_pct and [paper] price_source."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tvdesk.config.load import SettingsError, load_settings
from tvdesk.config.schema import Settings, default_settings_text


def load_error(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    return str(info.value)


def test_the_defaults_check_prices_within_5_percent_and_paper_reads_none():
    assert Settings().risk.max_price_deviation_pct == Decimal("5")
    assert Settings().paper.price_source == "alert"
    text = default_settings_text()
    assert "max_price_deviation_pct = 5    # refuse an alert whose price is" in text
    assert 'price_source = "alert"         # alert | market' in text


def test_a_deviation_is_read_as_a_number(tmp_path: Path):
    path = tmp_path / "settings.toml"
    path.write_text("[risk]\nmax_price_deviation_pct = 2.5\n", encoding="utf-8")
    assert load_settings(path).risk.max_price_deviation_pct == Decimal("2.5")
    path.write_text("[risk]\nmax_price_deviation_pct = 0\n", encoding="utf-8")
    assert load_settings(path).risk.max_price_deviation_pct == 0  # 0: no check


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[risk]\nmax_price_deviation_pct = -1\n", "line 2: risk.max_price_deviation_pct must"),
        ('[risk]\nmax_price_deviation_pct = "5"\n', "line 2: risk.max_price_deviation_pct must"),
        ("[risk]\nmax_price_deviation_pct = nan\n", "line 2: risk.max_price_deviation_pct must"),
        ('[paper]\nprice_source = "ticker"\n', 'paper.price_source must be "alert" or "market"'),
    ],
)
def test_a_bad_price_setting_names_the_key_and_the_fix(
    tmp_path: Path, text: str, expected: str
) -> None:
    assert expected in load_error(tmp_path / "settings.toml", text)
