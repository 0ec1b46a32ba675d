"""The data dir is the trader's alone: the folder 0700 and every file in it 0600, also when
they existed before with looser modes (a real headless engine on a real folder)."""

from __future__ import annotations

import json
import os
import secrets
import stat
from pathlib import Path

from tests.kit.engine_proc import EngineProcess, dry_run_alert

SECRET = secrets.token_urlsafe(32)
TIGHTENED = "made tvdesk's files private"


def modes(root: Path) -> dict[str, str]:
    """Every folder and file under root (root included), as its mode in octal."""
    found = {".": f"{stat.S_IMODE(root.stat().st_mode):04o}"}
    for folder, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            path = Path(folder, name)
            found[str(path.relative_to(root))] = f"{stat.S_IMODE(path.lstat().st_mode):04o}"
    return found


def tightened_lines(data_dir: Path) -> list[dict[str, object]]:
    log = (data_dir / "logs" / "tvdesk.log").read_text(encoding="utf-8")
    lines = [json.loads(line) for line in log.splitlines() if line.strip()]
    return [line for line in lines if TIGHTENED in str(line["msg"])]


def test_a_loose_existing_data_dir_is_made_private_and_said_once(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    os.chmod(data_dir, 0o755)
    settings = data_dir / "settings.toml"
    settings.write_text("schema_version = 1\n", encoding="utf-8")
    os.chmod(settings, 0o644)
    (data_dir / "logs").mkdir()
    os.chmod(data_dir / "logs", 0o755)
    old_log = data_dir / "logs" / "tvdesk.log.1"
    old_log.write_text("", encoding="utf-8")
    os.chmod(old_log, 0o644)

    engine = EngineProcess(data_dir, SECRET).start()
    try:
        # A journaled alert, so the journal's write-ahead log holds data.
        assert engine.post_signed(dry_run_alert("private-1"))[0] == 200
        found = modes(data_dir)
    finally:
        assert engine.terminate() == 0

    assert {"journal.sqlite3", "journal.sqlite3-wal", "logs/tvdesk.log"} <= found.keys()
    folders = {name for name in found if name in (".", "logs")}
    assert {name: found[name] for name in folders} == {".": "0700", "logs": "0700"}
    loose = {name: mode for name, mode in found.items() if name not in folders and mode != "0600"}
    assert loose == {}, f"files others can read: {loose}"

    said = tightened_lines(data_dir)
    assert len(said) == 1, said
    message = str(said[0]["msg"])
    assert f"{settings} 0644->0600" in message
    assert f"{data_dir} 0755->0700" in message
    assert f"{old_log} 0644->0600" in message


def test_a_fresh_data_dir_is_private_from_birth(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh"
    engine = EngineProcess(data_dir, SECRET).start()
    try:
        assert engine.post_signed(dry_run_alert("private-2"))[0] == 200
        found = modes(data_dir)
    finally:
        assert engine.terminate() == 0
    assert {"settings.toml", "journal.sqlite3-wal", "tvdesk.lock", "engine.json"} <= found.keys()
    assert {mode for name, mode in found.items() if name not in (".", "logs")} == {"0600"}
    assert found["."] == found["logs"] == "0700"
    # Nothing was loose, so nothing is said about it.
    assert tightened_lines(data_dir) == []
