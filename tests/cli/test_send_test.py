"""`send-test --fill` asks the engine itself whether it is in paper before it sends."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from tests.kit.engine_proc import run_cli
from tests.kit.paper import SECRET, PaperDesk

WITH_SECRET = {"TVDESK_WEBHOOK_SECRET": SECRET}
LIVE_REFUSAL = "tvdesk: --fill sends a real alert and the engine is LIVE: refused\n"


async def test_fill_is_refused_once_the_window_switched_the_engine_to_live(tmp_path: Path):
    async with PaperDesk(tmp_path / "data") as desk:
        desk.engine.set_mode("live")  # what the window's paper/live switch does
        info = json.loads(desk.paths.engine_file.read_text(encoding="utf-8"))
        assert info["mode"] == "live"

        refused = await asyncio.to_thread(
            run_cli,
            "send-test", "--fill", "--price", "50000", "--data-dir", str(desk.paths.data_dir),
            env=WITH_SECRET,
        )  # fmt: skip

        assert refused.returncode != 0 and refused.stdout == ""
        assert (
            refused.stderr == "tvdesk: --fill sends a real alert and the engine is LIVE: refused\n"
        )
        assert desk.export() == {}


async def test_fill_to_a_url_is_refused_when_that_engine_says_it_is_live(tmp_path: Path):
    async with PaperDesk(tmp_path / "data") as desk:
        desk.engine.set_mode("live")

        # Another data dir: no engine.json to go by, only the engine's /health.
        refused = await asyncio.to_thread(
            run_cli,
            "send-test", "--fill", "--price", "50000", "--url", desk.engine.local_url,
            "--data-dir", str(tmp_path / "elsewhere"),
            env=WITH_SECRET,
        )  # fmt: skip

        assert refused.returncode != 0 and refused.stdout == ""
        assert (
            refused.stderr == "tvdesk: --fill sends a real alert and the engine is LIVE: refused\n"
        )
        assert desk.export() == {}


async def test_fill_to_a_url_that_cannot_say_its_mode_is_refused(tmp_path: Path):
    refused = await asyncio.to_thread(
        run_cli,
        "send-test", "--fill", "--price", "50000", "--url", "http://127.0.0.1:9/",
        "--data-dir", str(tmp_path / "elsewhere"),
        env=WITH_SECRET,
    )  # fmt: skip

    assert refused.returncode != 0 and refused.stdout == ""
    assert refused.stderr.startswith(
        "tvdesk: --fill sends a real alert, and the engine's mode could not be checked at "
        "http://127.0.0.1:9/health ("
    )
    assert refused.stderr.endswith("): refused\n")


async def test_fill_to_a_paper_engine_by_url_fills(tmp_path: Path):
    async with PaperDesk(tmp_path / "data") as desk:
        sent = await asyncio.to_thread(
            run_cli,
            "send-test", "--fill", "--price", "50000", "--url", desk.engine.local_url,
            "--data-dir", str(tmp_path / "elsewhere"),
            env=WITH_SECRET,
        )  # fmt: skip

        assert sent.returncode == 0, sent.stderr
        _, reply = sent.stdout.splitlines()  # by URL: no journal here to read the outcome from
        decided = await desk.outcome(json.loads(reply)["alert_id"])
        assert decided.outcome == "filled", decided.reason
