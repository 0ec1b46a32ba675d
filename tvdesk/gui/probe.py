"""The self-test's Qt probe: the window's toolkit loads, paints and runs the loop.

``tvdesk --self-test`` hands a ``QtProbe`` down to tvdesk.engine.selftest (as its
``WindowProbe``): the engine imports no Qt. Qt is imported inside the methods, so a
missing or broken PySide6 is reported as the self-test's "Qt widgets" failure.
"""

from __future__ import annotations

import asyncio
import importlib
import os
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from tvdesk.engine.selftest import SelfTestFailed
from tvdesk.support.platform import current

T = TypeVar("T")
DISPLAY_HELP = "the window needs it (tvdesk --headless does not); see packaging/README.md"


class QtProbe:
    """Qt widgets (offscreen unless QT_QPA_PLATFORM says otherwise) and the qasync loop."""

    def check(self) -> str:
        """Qt widgets paint, the window's modules import, its icon renders; raises if not."""
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        import qasync  # noqa: F401  (the window's event loop)
        from PySide6 import __version__ as pyside_version
        from PySide6.QtWidgets import QApplication, QLabel

        app = QApplication.instance() or QApplication(["tvdesk"])
        if not isinstance(app, QApplication):  # widgets would abort the process
            raise SelfTestFailed(f"a {type(app).__name__} without widgets is already running")
        importlib.import_module("tvdesk.gui.app")  # every module of the window imports
        from tvdesk.gui.resources import app_icon

        label = QLabel("tvdesk self-test")
        label.show()
        app.processEvents()
        painted = not label.grab().isNull()
        label.close()
        label.deleteLater()
        if not painted:
            raise SelfTestFailed("a widget did not paint")
        if app_icon().pixmap(32, 32).isNull():
            raise SelfTestFailed("the app icon (tvdesk/resources/tvdesk.svg) did not render")
        _check_display_plugin()
        platform = QApplication.platformName()
        return f"Qt {pyside_version} ({platform})"

    def run(self, main: Coroutine[Any, Any, T]) -> T:
        """Run ``main`` on a qasync loop, as the window does."""
        import qasync
        from PySide6.QtWidgets import QApplication

        app = QApplication.instance()
        with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(app)) as runner:
            return runner.run(main)


def _check_display_plugin() -> None:
    """On a Linux desktop, the X11 platform plugin must load: it needs system libraries."""
    plugin = current().qt_display_plugin()
    if plugin is None:
        return
    if not current().has_display(os.environ):
        return  # no display to open a window on: nothing more to prove here
    import ctypes

    from PySide6.QtCore import QLibraryInfo

    plugins = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath))
    xcb = plugins / "platforms" / plugin
    if not xcb.is_file():
        raise SelfTestFailed(f"the X11 platform plugin is missing ({xcb}); {DISPLAY_HELP}")
    try:
        ctypes.CDLL(str(xcb))
    except OSError as exc:
        raise SelfTestFailed(
            f"the X11 platform plugin cannot load: {exc}; {DISPLAY_HELP}"
        ) from None
