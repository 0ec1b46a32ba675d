"""`tvdesk --self-test --headless`: a server or container without Qt proves its install."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.cli.test_headless import import_trap, imported
from tests.kit.engine_proc import run_cli
from tvdesk import __version__

QT = ("PySide6", "shiboken6", "qasync")
OK_LINE = (
    rf"self-test ok \(\d+ ms\): tvdesk {re.escape(__version__)}, headless, keyring: .*, "
    r"pyngrok .*, ccxt .* binance, one signed alert filled on paper"
)


def test_headless_self_test_passes_where_qt_is_not_installed(tmp_path: Path):
    # The trap makes PySide6, shiboken6 and qasync fail to import, as in the Docker image.
    trap = import_trap(tmp_path, *QT)

    result = run_cli("--self-test", "--headless", env={"PYTHONPATH": str(trap)}, timeout=60)

    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    assert re.fullmatch(OK_LINE, line)
    # The encrypted file is the trader's choice, never found as a keyring by discovery.
    assert "cryptfile" not in line and "chainer" not in line, line
    assert imported(tmp_path) == []


def test_headless_self_test_never_imports_qt():
    check = (
        "import sys\n"
        "from tvdesk.cli.main import main\n"
        "code = main(['--self-test', '--headless'])\n"
        f"loaded = sorted(m for m in sys.modules if m.split('.')[0] in {QT!r})\n"
        "print('qt modules:', loaded)\n"
        "sys.exit(code)\n"
    )

    result = subprocess.run(
        [sys.executable, "-c", check],
        capture_output=True,
        text=True,
        timeout=60,
        # conftest has dropped TVDESK_*; the fail backend keeps the real keyring out.
        env={**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"},
        stdin=subprocess.DEVNULL,
    )

    assert result.returncode == 0, result.stderr
    ok, modules = result.stdout.splitlines()
    assert re.fullmatch(OK_LINE, ok)
    assert modules == "qt modules: []"


def test_plain_self_test_still_proves_the_window(tmp_path: Path):
    trap = import_trap(tmp_path, *QT)

    result = run_cli("--self-test", env={"PYTHONPATH": str(trap)}, timeout=60)

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("self-test FAILED: Qt widgets: ImportError: ")
