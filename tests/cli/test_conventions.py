"""The command line's conventions, on the real CLI as a process: -V/--version, -v,
--log-level and --log-file, the exit-code table (README), a closed pipe without a
traceback, and `tvdesk status` for a person with `--json` for scripts."""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import tvdesk
from tests.kit.engine_proc import Engines, _clean_env, dry_run_alert, run_cli
from tvdesk.store.schema import connect, migrate
from tvdesk.support import exits

SECRET = secrets.token_urlsafe(32)
WITH_SECRET = {"TVDESK_WEBHOOK_SECRET": SECRET}
README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture
def engines(tmp_path: Path) -> Iterator[Engines]:
    started = Engines(tmp_path, SECRET)
    yield started
    started.cleanup()


@pytest.mark.parametrize("flag", ["-V", "--version"])
def test_the_version_flags_print_the_one_version(flag: str) -> None:
    result = run_cli(flag)
    assert result.returncode == exits.OK
    assert result.stdout.strip() == f"tvdesk {tvdesk.__version__}"


def test_exporting_into_a_pipe_closed_early_ends_quietly(tmp_path: Path) -> None:
    """`tvdesk export | head -1`: the first record, then no traceback, no error line."""
    data = tmp_path / "data"
    data.mkdir()
    conn = connect(data / "journal.sqlite3")
    migrate(conn)
    conn.executemany(  # far more than a pipe's buffer holds
        "INSERT INTO alerts (alert_id, received_at, status, raw) VALUES (?, ?, 'accepted', '{}')",
        [(f"A{i:05d}", 1_700_000_000.0 + i) for i in range(5000)],
    )
    conn.commit()
    conn.close()
    errors = tmp_path / "stderr.txt"
    with errors.open("w") as stderr:
        export = subprocess.Popen(
            [sys.executable, "-m", "tvdesk", "export", "--data-dir", str(data)],
            stdout=subprocess.PIPE,
            stderr=stderr,
            stdin=subprocess.DEVNULL,
            env=_clean_env(),
        )
        assert export.stdout is not None
        first = json.loads(export.stdout.readline())
        export.stdout.close()  # what head does after its line
        code = export.wait(timeout=30)
    assert first["alert_id"] == "A00000"
    assert errors.read_text() == ""  # no traceback, no "Exception ignored", no error line
    assert code == exits.PIPE_CLOSED


def test_a_headless_engine_logs_debug_lines_with_v_into_the_log_file(
    engines: Engines, tmp_path: Path
) -> None:
    log_file = tmp_path / "elsewhere" / "engine.log"
    engine = engines.start("data", "-v", "--log-file", str(log_file))
    code, reply = engine.post_signed(dry_run_alert("verbose-1"))
    assert code == 200, reply
    assert engine.terminate() == exits.OK
    lines = [json.loads(line) for line in log_file.read_text(encoding="utf-8").splitlines()]
    accepted = [line for line in lines if line["msg"] == "AlertAccepted"]
    assert accepted and accepted[0]["level"] == "debug"  # said only with -v
    assert accepted[0]["alert_id"] == reply["alert_id"]
    assert not (engine.data_dir / "logs" / "tvdesk.log").exists()  # all of it went there


def test_log_level_warning_keeps_info_lines_out(engines: Engines) -> None:
    engine = engines.start("data", "--log-level", "warning")
    code, reply = engine.post_signed(dry_run_alert("quiet-1"))
    assert code == 200, reply
    assert engine.terminate() == exits.OK
    text = (engine.data_dir / "logs" / "tvdesk.log").read_text(encoding="utf-8")
    levels = {json.loads(line)["level"] for line in text.splitlines()}
    assert levels <= {"warning", "error", "critical"}, levels


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--log-level", "loud"], "'loud' is not a log level: use one of debug, info"),
        (["--log-file", "{tmp}"], "is a folder: name a file in it"),
    ],
)
def test_a_bad_log_option_is_a_usage_error_naming_the_fix(
    args: list[str], says: str, tmp_path: Path
) -> None:
    argv = [arg.replace("{tmp}", str(tmp_path)) for arg in args]
    result = run_cli(*argv, "--headless", "--no-tunnel", "--data-dir", str(tmp_path / "d"))
    assert result.returncode == exits.USAGE
    assert says in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "d").exists()  # refused before anything started


def test_status_is_readable_and_json_keeps_the_shape_scripts_read(engines: Engines) -> None:
    engine = engines.start("data")
    data = ["--data-dir", str(engine.data_dir)]
    engine.post_signed(dry_run_alert("status-1"))

    person = run_cli("status", *data, env=WITH_SECRET)
    assert person.returncode == exits.OK, person.stderr
    lines = person.stdout.splitlines()
    assert lines[0] == f"tvdesk {tvdesk.__version__}: PAPER mode, kill switch off"
    assert lines[1].startswith(f"listener   127.0.0.1:{engine.port} (alerts waiting: ")
    assert lines[2] == "tunnel     off"
    assert re.fullmatch(r"today      1 alerts \(1 accepted, 0 refused\), .*", lines[4])
    assert "{" not in person.stdout

    script = run_cli("status", "--json", *data, env=WITH_SECRET)
    assert script.returncode == exits.OK, script.stderr
    status = json.loads(script.stdout)
    assert {"version", "mode", "listener", "tunnel", "kill_switch", "queue_depth"} <= set(status)
    assert {"exchange", "exchange_status", "circuit", "today"} <= set(status)
    assert (status["mode"], status["kill_switch"]) == ("paper", False)
    assert status["listener"]["port"] == engine.port

    killed = run_cli("kill", *data, env=WITH_SECRET)
    assert killed.returncode == exits.OK, killed.stderr
    assert killed.stdout.startswith("kill switch ON")
    assert "kill switch ON" in run_cli("status", *data, env=WITH_SECRET).stdout.splitlines()[0]
    resumed = json.loads(run_cli("resume", "--json", *data, env=WITH_SECRET).stdout)
    assert resumed["kill_switch"] is False


@pytest.mark.parametrize("command", [["status"], ["kill"], ["send-test"]])
def test_no_engine_running_is_a_failure_not_a_usage_error(
    command: list[str], tmp_path: Path
) -> None:
    result = run_cli(*command, "--data-dir", str(tmp_path / "none"), env=WITH_SECRET)
    assert result.returncode == exits.FAILED
    assert "no tvdesk is running on" in result.stderr and "Traceback" not in result.stderr


def test_the_readme_documents_the_exit_code_table() -> None:
    readme = README.read_text(encoding="utf-8")
    section = readme.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    documented = {
        int(match[1]): match[2].strip()
        for match in re.finditer(r"^\| `(\d+)` \| (.+?) \|$", section, re.MULTILINE)
    }
    assert set(documented) == set(exits.TABLE)
