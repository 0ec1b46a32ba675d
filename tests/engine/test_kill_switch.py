"""The kill switch is durable: kept in the journal, so no restart lifts it, not even when
settings.toml could not be saved; only resume does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.brokers.test_paper_process import SECRET, control, paper_alert, wait_decided
from tests.kit.engine_proc import EngineProcess, Engines
from tests.kit.paper import PaperDesk
from tvdesk.config.load import load_settings


@pytest.fixture
def engines(tmp_path: Path) -> Iterator[Engines]:
    started = Engines(tmp_path, SECRET)
    yield started
    started.cleanup()


def outcome(engine: EngineProcess, ref: str) -> dict:
    code, reply = engine.post_signed(paper_alert(ref))
    assert code == 200, reply
    return wait_decided(engine, [reply["alert_id"]])[reply["alert_id"]]


def test_a_kill_that_settings_toml_could_not_keep_survives_a_restart_until_resume(
    engines: Engines,
):
    engine = engines.start("data")
    toml = engine.data_dir / "settings.toml"
    kept = toml.read_text(encoding="utf-8")
    toml.unlink()
    toml.mkdir()  # in the file's place: every save fails, as on a full or broken disk
    killed = control(engine, "kill")
    assert engine.terminate() == 0
    toml.rmdir()
    toml.write_text(kept, encoding="utf-8")  # what the disk still holds: no kill switch
    assert load_settings(toml).risk.kill_switch is False

    restarted = engines.start("data")
    assert control(restarted, "status")["kill_switch"] is True
    refused = outcome(restarted, "after-restart")
    assert refused["outcome"] == "rejected" and "kill switch" in refused["reason"]
    assert "kill switch ON (kept in the journal since" in restarted.stderr()
    # The reply said where the switch is kept, and why not in the file.
    assert killed["kill_switch"] is True
    assert killed["message"].startswith(
        "kill switch ON (kept in the journal; settings.toml could not be saved: "
    )

    resumed = control(restarted, "resume")
    assert resumed == {
        "kill_switch": False,
        "message": "kill switch off (kept in the journal and settings.toml)",
    }
    assert restarted.terminate() == 0
    again = engines.start("data")
    assert control(again, "status")["kill_switch"] is False  # resume lifted it for good
    assert outcome(again, "after-resume")["outcome"] == "filled"


async def test_an_unrelated_edit_of_a_file_that_never_said_on_does_not_lift_it(
    tmp_path: Path,
) -> None:
    async with PaperDesk(tmp_path) as desk:
        toml = desk.paths.settings_file
        kept = toml.read_text(encoding="utf-8") if toml.exists() else ""
        toml.unlink(missing_ok=True)
        toml.mkdir()
        said = desk.engine.set_kill_switch(True, "kill from a test")
        toml.rmdir()
        toml.write_text(kept + "\n[risk]\nmax_notional = 500.0\n", encoding="utf-8")
        assert "risk.max_notional: 1000 → 500.0" in desk.engine.reload_settings()
        assert desk.engine.settings.risk.kill_switch is True
        refused = await desk.trade(qty="0.001")
        assert refused.outcome == "rejected" and "kill switch" in refused.reason
        assert said.startswith("kill switch ON (kept in the journal; settings.toml could not")
