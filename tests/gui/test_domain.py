"""The ngrok static domain, set on the Connect panel: saved, and asked of the ngrok agent.

The window runs with the tunnel on, fed by the fake agent (tests/kit/fake_ngrok.py), which
records the body of every endpoint the window's engine asks it to open.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Qt

from tests.gui.helpers import close_window, type_into, until
from tests.kit.fake_ngrok import FakeNgrok, install_fake_ngrok
from tests.kit.paper import SECRET, paper_settings
from tvdesk.config.keystore import WEBHOOK_SECRET, Keystore, service_name
from tvdesk.config.load import load_settings
from tvdesk.config.paths import resolve_paths
from tvdesk.config.schema import Settings, TunnelSettings
from tvdesk.gui.app import bring_up, build_window
from tvdesk.gui.main_window import MainWindow
from tvdesk.tunnel.manager import AUTHTOKEN
from tvdesk.tunnel.timings import TunnelTimings

DOMAIN = "name-word-1234.ngrok-free.app"
TOKEN = "2aBcDeFgHiJkLmNoPqRsTuVwXyZ_3aBcDeFgHiJkLmNoPqRsTu"
FAST = TunnelTimings(
    startup_s=5.0,
    api_s=5.0,
    download_s=3.0,
    check_s=5.0,
    poll_s=0.02,
    stop_s=3.0,
    backoff_initial_s=0.05,
    backoff_max_s=0.4,
)


async def tunnelled_window(data: Path, settings: Settings) -> MainWindow:
    keystore = Keystore(service_name(data))
    keystore.set(WEBHOOK_SECRET, SECRET)
    keystore.set(AUTHTOKEN, TOKEN)
    window = build_window(settings, keystore, resolve_paths(data), tunnel=True)
    window.handle._engine.tunnel.timings = FAST
    window.show()
    assert await bring_up(window)
    return window


def public_urls(fake: FakeNgrok) -> list[str | None]:
    """The URL each endpoint start asked the agent for (None: any URL ngrok picks)."""
    return [start["body"].get("url") for start in fake.endpoint_starts()]


async def wait_public(window: MainWindow) -> str:
    panel = window.connect_panel
    await until(lambda: panel.public, timeout=20, what="the public URL on the Connect panel")
    return panel.url.text()


async def test_a_domain_typed_in_is_saved_and_asked_of_ngrok_now_and_after_a_restart(
    tmp_path, memory_keyring, qtbot
):
    fake = install_fake_ngrok(tmp_path / "bin", {"mode": "ok"})
    data = tmp_path / "data"
    settings = replace(paper_settings(), tunnel=TunnelSettings(ngrok_path=str(fake.path)))
    window = await tunnelled_window(data, settings)
    panel = window.connect_panel
    first_url = await wait_public(window)
    assert public_urls(fake) == [None]  # no domain yet: whatever URL ngrok gives
    assert "changes at every start unless you set your static domain" in panel.url_note.text()

    # Pasted from the dashboard, scheme and slash included: kept as ngrok wants it.
    type_into(qtbot, panel.domain.field, f"https://{DOMAIN}/")
    qtbot.mouseClick(panel.domain.save_button, Qt.MouseButton.LeftButton)
    await until(lambda: "Saved" in panel.domain.note.text(), what="the saved note")
    assert panel.domain.field.text() == DOMAIN
    assert panel.domain.note.text() == f"Saved: the tunnel starts over on https://{DOMAIN}."
    paths = resolve_paths(data)
    assert load_settings(paths.settings_file).tunnel.domain == DOMAIN
    assert f'domain = "{DOMAIN}"' in paths.settings_file.read_text()

    await until(lambda: len(public_urls(fake)) == 2, timeout=20, what="a second endpoint")
    assert public_urls(fake)[1] == f"https://{DOMAIN}"
    second_url = await wait_public(window)
    assert second_url.endswith("/webhook")
    assert "unless you set your static domain" not in panel.url_note.text()
    assert len(fake.live_agents()) == 1  # the old agent was ended, not left running
    await close_window(window)
    assert fake.live_agents() == []
    assert first_url  # (the fake's edge gives loopback URLs; a real one is the domain)

    # The next start reads the domain from settings.toml and asks for it again.
    window = await tunnelled_window(data, load_settings(paths.settings_file))
    assert window.connect_panel.domain.field.text() == DOMAIN
    await until(lambda: len(public_urls(fake)) == 3, timeout=20, what="the restart's endpoint")
    assert public_urls(fake)[2] == f"https://{DOMAIN}"
    await wait_public(window)
    await close_window(window)
    assert fake.live_agents() == []


async def test_a_wrong_domain_is_refused_saying_what_is_wrong_and_nothing_is_saved(window, qtbot):
    box = window.connect_panel.domain
    settings_file = window.handle.paths.settings_file
    for typed, why in (
        (f"{DOMAIN}/webhook", "holds a path: keep only the host name"),
        (f"{DOMAIN}:443", "holds a port: ngrok domains have none"),
        ("my domain", "holds a space"),
        ("localhost", "is not a host name"),
    ):
        type_into(qtbot, box.field, typed)
        qtbot.keyClick(box.field, Qt.Key.Key_Return)
        await until(lambda: box.note.isVisible(), what="the refusal")
        text = box.note.text()
        assert text.startswith("Not saved: the static domain must be empty or your ngrok domain")
        assert f'"{typed}" {why}' in text
        assert "Domains page of your ngrok dashboard" in text
        assert window.handle.settings().tunnel.domain == ""
        assert not settings_file.exists() or DOMAIN not in settings_file.read_text()
        type_into(qtbot, box.field, "")  # typing again clears the refusal
        assert not box.note.isVisible()


async def test_without_a_tunnel_the_domain_is_saved_for_when_it_runs(window, qtbot):
    box = window.connect_panel.domain
    type_into(qtbot, box.field, DOMAIN.upper())
    qtbot.mouseClick(box.save_button, Qt.MouseButton.LeftButton)
    await until(lambda: "Saved" in box.note.text(), what="the saved note")
    assert "The tunnel is off in this run" in box.note.text()
    assert f"its URL is https://{DOMAIN}" in box.note.text()
    assert window.handle.settings().tunnel.domain == DOMAIN
    assert load_settings(window.handle.paths.settings_file).tunnel.domain == DOMAIN
