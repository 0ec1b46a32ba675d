"""`--port` takes ASCII digits 0-9 only: int() would also read other scripts' digits."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.kit.engine_proc import run_cli
from tvdesk.cli.main import build_parser


@pytest.mark.parametrize("text", ["８７８７", "٨٧٨٧", "٠", "80_80", " 8787", "+8787", "８0"])
def test_a_port_in_other_digits_is_refused_naming_the_fix(
    text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        build_parser().parse_args(["--port", text])
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert "argument --port" in error
    assert "ASCII digits 0-9" in error


@pytest.mark.parametrize(("text", "port"), [("0", 0), ("8787", 8787), ("65535", 65535)])
def test_a_port_in_ascii_digits_is_read(text: str, port: int) -> None:
    assert build_parser().parse_args(["--port", text]).port == port


def test_the_command_line_refuses_a_full_width_port_before_doing_anything(tmp_path: Path) -> None:
    result = run_cli("--port", "٠", "export", "--data-dir", str(tmp_path / "data"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "argument --port" in result.stderr and "ASCII digits 0-9" in result.stderr
    assert result.stdout == ""
