"""Start-up figures: ``tvdesk.support.timing`` marks and ``tvdesk --timing``."""

from __future__ import annotations

import importlib.util
import io
import secrets
from pathlib import Path

import pytest

from tests.kit.engine_proc import EngineProcess
from tvdesk.support import timing

ROOT = Path(__file__).resolve().parents[2]


def _startup_line_pattern():
    """The format packaging/startup.py reads the figures with."""
    spec = importlib.util.spec_from_file_location("tvdesk_startup", ROOT / "packaging/startup.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.LINE


@pytest.fixture
def fresh(monkeypatch):
    monkeypatch.setattr(timing, "_marks", {})
    monkeypatch.setattr(timing, "_stream", None)


def test_figures_count_from_the_process_start(fresh):
    # Interpreter start-up and tvdesk's imports came before this test: never zero.
    first = timing.since_start()
    assert 0.0 < first < 600
    assert timing.since_start() >= first


def test_the_first_mark_of_a_name_counts(fresh):
    shown = timing.mark("window shown")
    assert timing.mark("window shown") == shown
    ready = timing.mark("engine ready")
    assert ready >= shown
    assert list(timing.marks()) == ["window shown", "engine ready"]


def test_marks_print_only_when_enabled_and_in_the_measured_format(fresh):
    out = io.StringIO()
    timing.mark("window shown")
    assert not timing.enabled()
    timing.enable(out)  # marks made before --timing was seen are printed too
    timing.mark("engine ready")
    lines = out.getvalue().splitlines()
    pattern = _startup_line_pattern()
    assert [pattern.match(line)["name"] for line in lines] == ["window shown", "engine ready"]
    assert float(pattern.match(lines[1])["seconds"]) == pytest.approx(
        timing.marks()["engine ready"], abs=0.001
    )


def test_headless_timing_reports_engine_ready(tmp_path):
    engine = EngineProcess(tmp_path / "data", secrets.token_urlsafe(32), "--timing").start()
    try:
        assert engine.terminate() == 0
    finally:
        engine.cleanup()
    pattern = _startup_line_pattern()
    figures = [m for line in engine.stderr().splitlines() if (m := pattern.match(line))]
    assert [m["name"] for m in figures] == ["engine ready"]
    assert 0 < float(figures[0]["seconds"]) < 30
