"""`make run` as a trader on a desktop with no OS keyring meets it, offscreen, then a picture.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/fresh_debian_window.py OUT.png DATA_DIR

Runs ``tvdesk`` exactly as its console script does (``tvdesk.cli.main.main``, the window
on the default settings in DATA_DIR, tunnel and port from the command line), answers the
"where to keep your secrets?" question the way a trader without a keyring would (this
session only), waits for the engine behind the shown window, saves the window to OUT.png
and quits through the window's own Quit. Exits 0 only if every step was seen;
scripts/fresh_debian_check.sh runs it inside a fresh Debian 12 root.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import keyring
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QLabel

from tvdesk.cli.main import main
from tvdesk.config.keystore import Keystore
from tvdesk.gui.aio import spawn
from tvdesk.gui.dialogs.secrets_store import SecretsStoreDialog
from tvdesk.gui.main_window import MainWindow

DEADLINE_S = 120.0
SIZE = (1180, 800)


def drive(out: Path, data_dir: Path) -> list[str]:
    """Runs the window; returns what went wrong (empty when all went as a trader sees it)."""
    available, why = Keystore("tvdesk/fresh-debian-check").available()
    print(f"window-check: keyring backend {keyring.get_keyring()!r}: {why}")
    seen: dict[str, str] = {}
    if available:
        seen["problem"] = "an OS keyring answers here: this is not the no-keyring case"
    app = QApplication.instance() or QApplication(sys.argv[:1])
    started = time.monotonic()

    def step() -> None:
        if time.monotonic() - started > DEADLINE_S:
            seen["problem"] = f"nothing happened for {DEADLINE_S:.0f} s (seen: {sorted(seen)})"
            app.exit(3)
            return
        for widget in app.topLevelWidgets():
            if isinstance(widget, SecretsStoreDialog) and widget.isVisible():
                if "asked" not in seen:
                    seen["asked"] = widget.windowTitle()
                    widget.session.setChecked(True)
                    widget.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
            elif isinstance(widget, MainWindow) and widget.isVisible():
                # The engine up and the status bar told so (the listener's address).
                listening = "starting" not in widget.status.listener.text()
                if widget.handle.running and listening and "shot" not in seen:
                    shoot(widget)

    def shoot(window: MainWindow) -> None:
        window.resize(*SIZE)
        app.processEvents()
        label = window.statusBar().findChild(QLabel, "status_secrets")
        seen["store"] = label.text() if label is not None and label.isVisible() else "(none)"
        seen["mode"] = window.handle.settings().mode
        seen["listener"] = window.status.listener.text()
        if not window.grab().save(str(out)):
            seen["problem"] = f"could not write {out}"
        seen["shot"] = str(out)
        spawn(window.quit())

    timer = QTimer(interval=50)
    timer.timeout.connect(step)
    timer.start()
    code = main(["--data-dir", str(data_dir), "--no-tunnel", "--port", "0"])
    timer.stop()
    print(f"window-check: exit {code}, {seen}")
    problems = [seen["problem"]] if "problem" in seen else []
    if code != 0:
        problems.append(f"tvdesk exited with {code}")
    if "asked" not in seen:
        problems.append("the no-keyring question never showed")
    if seen.get("store") != "Secrets: this session only":
        problems.append(f"the status bar names the store as {seen.get('store')!r}")
    if seen.get("mode") != "paper":
        problems.append(f"started in {seen.get('mode')!r}, not paper")
    if not out.is_file() or out.stat().st_size < 10_000:
        problems.append(f"no screenshot at {out}")
    return problems


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    problems = drive(Path(sys.argv[1]), Path(sys.argv[2]))
    if problems:
        sys.exit("window-check: " + "; ".join(problems))
    print(f"window-check: ok, the window with its engine in paper, picture in {sys.argv[1]}")
