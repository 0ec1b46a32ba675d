"""``[tunnel] domain`` in settings.toml: an ngrok domain or nothing, refused with the fix."""

from __future__ import annotations

import pytest

from tvdesk.config.load import SettingsError, load_settings

DOMAIN = "name-word-1234.ngrok-free.app"


@pytest.mark.parametrize(
    "written", [DOMAIN, f"https://{DOMAIN}/", "desk.example.com", "Name-Word-1234.NGROK.app", ""]
)
def test_a_host_name_or_nothing_loads(tmp_path, written):
    path = tmp_path / "settings.toml"
    path.write_text(f'schema_version = 1\n\n[tunnel]\ndomain = "{written}"\n')
    assert load_settings(path).tunnel.domain == written  # tidied when used, not rewritten


@pytest.mark.parametrize(
    ("written", "why"),
    [
        (f"{DOMAIN}/webhook", "holds a path: keep only the host name"),
        (f"{DOMAIN}:8080", "holds a port: ngrok domains have none"),
        ("my desk.ngrok.app", "holds a space"),
        ("ngrok", "is not a host name"),
        ("-bad-.ngrok.app", "is not a host name"),
    ],
)
def test_anything_else_is_refused_naming_the_line_and_the_fix(tmp_path, written, why):
    path = tmp_path / "settings.toml"
    path.write_text(f'schema_version = 1\n\n[tunnel]\nenabled = true\ndomain = "{written}"\n')
    with pytest.raises(SettingsError) as refused:
        load_settings(path)
    assert str(refused.value) == (
        f"{path}, line 5: tunnel.domain must be empty or your ngrok domain, like "
        f'"{DOMAIN}", but "{written}" {why}. Copy it from the Domains page of your ngrok '
        "dashboard."
    )
