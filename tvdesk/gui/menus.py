"""The window's menus: File (export, data folder, files), Trading (kill switch), Options.

Each menu's mnemonics are unique within it, and the menu titles' are unique among the tabs
and buttons of the window (tests/gui/test_fit.py walks them all).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow

from tvdesk.config.paths import Paths
from tvdesk.gui.aio import ask, spawn
from tvdesk.gui.dialogs.paths import PathsDialog, open_folder
from tvdesk.gui.prefs import Prefs

PREFS = (
    ("Start &minimised", "start_minimised"),
    ("Keep the computer &awake while running", "keep_awake"),
    ("Desktop &notifications", "notifications"),
)


@dataclass(frozen=True)
class MenuActions:
    """What the menus do, given by the main window (which owns each of these)."""

    export_csv: Callable[[], None]
    quit: Callable[[], Coroutine[Any, Any, None]]
    kill_now: Callable[[], Coroutine[Any, Any, None]]
    set_pref: Callable[[str, bool], None]
    prefs: Prefs
    paths: Paths
    log_file: Callable[[], Path]  # --log-file's, once app.py has set it


def build_menus(window: QMainWindow, do: MenuActions) -> QAction:
    """File, Trading and Options on ``window``'s menu bar; returns the kill-switch action."""
    bar = window.menuBar()
    file_menu = bar.addMenu("&File")
    export = QAction("&Export log as CSV…", window)
    export.triggered.connect(do.export_csv)
    open_data = QAction("&Open data folder", window, objectName="openDataFolder")
    open_data.triggered.connect(lambda: open_data_folder(window, do.paths))
    files = QAction("&Where are my files?", window, objectName="showPaths")
    files.triggered.connect(lambda: spawn(show_paths(window, do.paths, do.log_file())))
    quit_action = QAction("&Quit", window)
    quit_action.setShortcut(QKeySequence.StandardKey.Quit)
    quit_action.triggered.connect(lambda: spawn(do.quit()))
    file_menu.addActions([export, open_data, files])
    file_menu.addSeparator()
    file_menu.addAction(quit_action)

    trading = bar.addMenu("&Trading")
    # From any tab, at once: the emergency stop is never five clicks away.
    kill_action = QAction("&Kill switch: refuse every new order", window)
    kill_action.setShortcut(QKeySequence("Ctrl+Shift+K"))
    kill_action.triggered.connect(lambda: spawn(do.kill_now()))
    trading.addAction(kill_action)

    options = bar.addMenu("&Options")
    for label, name in PREFS:
        action = QAction(label, window)
        action.setCheckable(True)
        action.setChecked(getattr(do.prefs, name))
        action.toggled.connect(lambda on, name=name: do.set_pref(name, on))
        options.addAction(action)
    return kill_action


def open_data_folder(window: QMainWindow, paths: Paths) -> None:
    problem = open_folder(paths.data_dir)
    if problem:
        window.statusBar().showMessage(f"Cannot open the data folder: {problem}", 15_000)


async def show_paths(window: QMainWindow, paths: Paths, log_file: Path) -> None:
    dialog = PathsDialog(window, paths, log_file)
    await ask(dialog)
    dialog.deleteLater()
