"""settings.toml edits reach the running engine; command-line flags never reach the file."""

from __future__ import annotations

import json
import secrets
import signal
import time
from decimal import Decimal
from pathlib import Path

from tests.kit.engine_proc import EngineProcess, run_cli
from tests.kit.paper import PaperDesk, paper_settings
from tvdesk.config.load import load_settings

SECRET = secrets.token_urlsafe(32)


async def test_an_edited_limit_applies_to_the_next_alert_without_a_restart(
    tmp_path: Path,
) -> None:
    async with PaperDesk(tmp_path) as desk:
        assert (await desk.trade(qty="0.01")).outcome == "filled"  # 500 USDT < 1000
        text = desk.paths.settings_file.read_text() if desk.paths.settings_file.exists() else ""
        desk.paths.settings_file.write_text(text + "\n[risk]\nmax_notional = 100.0\n")
        changed = desk.engine.reload_settings()
        assert "risk.max_notional: 1000 → 100.0" in changed
        refused = await desk.trade(qty="0.01")
        assert refused.reason == "order notional 500.00 USDT exceeds max_notional 100.00"


async def test_a_broken_file_keeps_the_previous_settings(tmp_path: Path) -> None:
    async with PaperDesk(tmp_path, paper_settings(max_notional=Decimal(200))) as desk:
        desk.paths.settings_file.write_text("[risk\nmax_notional = 5\n")
        assert desk.engine.reload_settings() == []
        assert desk.engine.settings.risk.max_notional == Decimal(200)


async def test_listener_and_mode_edits_wait_for_a_restart(tmp_path: Path) -> None:
    async with PaperDesk(tmp_path) as desk:
        port = desk.engine.settings.listener.port
        desk.paths.settings_file.write_text('mode = "live"\n[listener]\nport = 9999\n')
        desk.engine.reload_settings()
        assert desk.engine.settings.mode == "paper"
        assert desk.engine.settings.listener.port == port


def test_flags_override_the_file_for_this_run_only(tmp_path: Path) -> None:
    data = tmp_path / "data"
    engine = EngineProcess(data, SECRET).start()  # --port 0 on the command line
    try:
        result = run_cli("kill", "--data-dir", str(data), env={"TVDESK_WEBHOOK_SECRET": SECRET})
        assert result.returncode == 0, result.stderr
        on_file = load_settings(data / "settings.toml")
        assert on_file.risk.kill_switch is True  # the command persisted
        assert on_file.listener.port == 8787  # the flag did not
        # An edit while running, announced with SIGHUP, shows up in the log.
        text = (
            (data / "settings.toml")
            .read_text()
            .replace("max_notional = 1000.0", "max_notional = 250.0")
        )
        (data / "settings.toml").write_text(text)
        engine.send_signal(signal.SIGHUP)
        log = data / "logs" / "tvdesk.log"
        deadline = time.monotonic() + 10
        while "risk.max_notional: 1000.0 → 250.0" not in log.read_text():
            assert time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.05)
        status = json.loads(
            run_cli(
                "status", "--json", "--data-dir", str(data), env={"TVDESK_WEBHOOK_SECRET": SECRET}
            ).stdout
        )
        assert status["kill_switch"] is True
    finally:
        engine.terminate()
