"""Fit and finish: a 1366×768 screen, status-bar text never cut, where the files are, a
settings.toml broken while running, and no two controls answering the same Alt+key."""

from __future__ import annotations

import re
from collections import Counter
from itertools import pairwise

from PySide6.QtCore import QObject, QPoint, QRect, QSize, QUrl, Slot
from PySide6.QtGui import QAction, QDesktopServices
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QGroupBox,
    QLabel,
    QToolBar,
    QWidget,
)

from tests.gui.helpers import until
from tvdesk.gui.dialogs.paths import PathsDialog
from tvdesk.gui.main_window import MainWindow

SCREEN = QSize(1366, 768)
LONG_URL = "https://a-rather-long-reserved-name-for-my-trading-desk.eu.ngrok.app"
LOST = "the ngrok agent lost its connection to ngrok (session closed): it reconnects by itself"


async def settle(window: MainWindow) -> None:
    """Let Qt lay the window out after a resize or a change of text."""
    for _ in range(3):
        QApplication.sendPostedEvents()
        window.layout().activate()
        await until(lambda: True)


def assert_whole(window: MainWindow, widget: QWidget) -> None:
    """Shown in full: at its preferred width, inside the window, covered by nothing."""
    assert widget.isVisible(), widget.objectName()
    assert widget.width() >= widget.sizeHint().width(), widget.objectName()
    assert widget.visibleRegion().boundingRect() == widget.rect(), widget.objectName()
    assert window.rect().contains(QRect(widget.mapTo(window, QPoint(0, 0)), widget.size()))


async def test_at_1366x768_the_mode_badges_are_whole_and_every_panel_fits(window):
    # The worst case: LIVE banner, a broken settings file, the kill switch badge and long
    # status texts, all at once.
    window.show_banner("LIVE session: alerts place real orders on binance.", "#da3633")
    window.show_settings_problem(
        f"{window.handle.paths.settings_file}, line 31: risk.max_qty must be 0 or more, not -1."
    )
    bar = window.status
    bar._timer.stop()  # no status poll rewriting the texts under test
    bar.show_tunnel({"state": "down", "public_url": LONG_URL, "error": LOST})
    bar.show_exchange(
        {
            "exchange": "binanceusdm",
            "mode": "live",
            "exchange_status": {"state": "connected", "markets": 2456},
            "circuit": {"state": "open", "reason": "5 failed orders in a row"},
        }
    )
    bar.kill.show()
    window.resize(SCREEN)
    await settle(window)

    assert window.size() == SCREEN  # nothing in it needs more than the screen
    for badge in (bar.mode, bar.kill, window.mode_switch.badge, window.mode_switch.button):
        assert_whole(window, badge)
    assert bar.mode.text() == "PAPER"

    tabs = window.tabs
    assert all(tabs.tabBar().rect().contains(tabs.tabBar().tabRect(i)) for i in range(7))
    for i in range(tabs.count()):
        tabs.setCurrentIndex(i)
        await settle(window)
        panel = tabs.widget(i)
        assert panel.isVisible()
        wanted = panel.minimumSizeHint()
        assert panel.width() >= wanted.width() and panel.height() >= wanted.height(), (
            f"{tabs.tabText(i)} needs {wanted}, has {panel.size()}"
        )
        for box in panel.findChildren(QGroupBox):  # no group squeezed below its contents
            if box.isVisible():
                assert box.height() >= box.minimumSizeHint().height(), box.title()


async def test_status_bar_text_is_elided_never_cut_and_its_tooltip_holds_it_all(window):
    bar = window.status
    bar._timer.stop()
    bar.show_tunnel({"state": "down", "public_url": LONG_URL, "error": LOST})
    window.resize(SCREEN)
    await settle(window)
    bar.showMessage("Cannot keep the computer awake: " + "no inhibitor answered " * 12)
    await settle(window)

    texts = (bar.message, bar.listener, bar.tunnel, bar.exchange, bar.last_alert)
    elided = [label for label in texts if label.shown_text() != label.text()]
    assert bar.message in elided  # far too long for the bar: shortened, not cut
    for label in texts:
        assert label.toolTip().startswith(label.text())
        if label in elided:
            assert label.shown_text().endswith("…")
            assert label.fontMetrics().horizontalAdvance(label.shown_text()) <= label.width()
    assert bar.tunnel.toolTip() == f"Tunnel: down {LONG_URL}\n{LOST}"
    # Side by side, none over another, all inside the bar.
    shown = sorted((w for w in (*texts, bar.mode, bar.queue) if w.isVisible()), key=QWidget.x)
    for left, right in pairwise(shown):
        assert left.geometry().right() < right.geometry().left()
    assert all(bar.rect().contains(w.geometry()) for w in shown)
    assert_whole(window, bar.mode)


class UrlCatcher(QObject):
    """Where the desktop was asked to open (QDesktopServices' own hook, nothing patched)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[QUrl] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.urls.append(url)


async def test_file_open_data_folder_asks_the_desktop_to_show_the_data_folder(window):
    catcher = UrlCatcher()
    QDesktopServices.setUrlHandler("file", catcher, "open")
    try:
        file_menu = window.menuBar().actions()[0].menu()
        (action,) = [a for a in file_menu.actions() if a.text() == "&Open data folder"]
        action.trigger()
    finally:
        QDesktopServices.unsetUrlHandler("file")
    data = window.handle.paths.data_dir
    assert catcher.urls == [QUrl.fromLocalFile(str(data))]


async def test_where_are_my_files_shows_the_settings_journal_and_log_paths(window):
    window.log_file = window.handle.paths.log_dir / "elsewhere.log"  # as --log-file sets it
    window.findChild(QAction, "showPaths").trigger()
    dialog = await until(
        lambda: next((w for w in QApplication.topLevelWidgets() if isinstance(w, PathsDialog)), 0),
        what="the files dialog",
    )
    paths = window.handle.paths

    def shown(name: str) -> str:
        return dialog.findChild(QLabel, name).text()

    assert shown("path_data") == str(paths.data_dir)
    assert shown("path_settings") == str(paths.settings_file)
    assert shown("path_journal") == str(paths.journal_file)
    assert paths.journal_file.exists()
    assert shown("path_log") == str(paths.log_dir / "elsewhere.log")

    catcher = UrlCatcher()
    QDesktopServices.setUrlHandler("file", catcher, "open")
    try:
        dialog.open_button.click()
    finally:
        QDesktopServices.unsetUrlHandler("file")
    assert catcher.urls == [QUrl.fromLocalFile(str(paths.data_dir))]
    assert clashes(controls(dialog)) == {}
    dialog.reject()


async def test_a_settings_file_broken_while_running_is_shown_until_it_is_fixed(window):
    banner = window.settings_banner
    settings_file = window.handle.paths.settings_file
    assert not banner.isVisible()

    settings_file.write_text("schema_version = 1\n\n[risk]\nmax_qty = -1\n")
    await until(lambda: banner.isVisible(), what="the settings banner")
    assert "tvdesk keeps trading with the settings it had" in banner.text()
    assert f"{settings_file}, line 4: risk.max_qty must be 0 or more, not -1" in banner.text()
    assert window.handle.settings().risk.max_qty == 0  # the previous settings stay

    settings_file.write_text("schema_version = 1\n\n[risk]\nmax_qty = 0.5\n")
    await until(lambda: not banner.isVisible(), what="the banner to go")
    assert str(window.handle.settings().risk.max_qty) == "0.5"  # the fix is taken

    settings_file.write_text('schema_version = 1\n\n[risk]\nmax_qty = "0.5\n')
    await until(lambda: banner.isVisible(), what="the banner for a TOML error")
    assert f"{settings_file}, line 4, column" in banner.text()
    assert "not valid TOML" in banner.text()


# -- mnemonics -------------------------------------------------------------------------


def mnemonic(text: str) -> str | None:
    found = re.search(r"&(.)", text.replace("&&", ""))
    return found.group(1).lower() if found else None


def controls(widget: QWidget) -> list[str]:
    """The texts of every button, group and labelled field under ``widget``."""
    texts = []
    for child in widget.findChildren(QWidget):
        if isinstance(child, QAbstractButton):
            texts.append(child.text())
        elif isinstance(child, QGroupBox):
            texts.append(child.title())
        elif isinstance(child, QLabel) and child.buddy() is not None:
            texts.append(child.text())
    return texts


def clashes(texts: list[str]) -> dict[str, list[str]]:
    keys = Counter(key for text in texts if (key := mnemonic(text)))
    return {
        key: [text for text in texts if mnemonic(text) == key]
        for key, count in keys.items()
        if count > 1
    }


async def test_no_two_controls_answer_the_same_alt_key(window):
    bar = window.menuBar()
    menus = [action.menu() for action in bar.actions()]
    toolbar = window.findChild(QToolBar, "modeBar")
    tabs = window.tabs
    titles = [a.text() for a in bar.actions()] + [tabs.tabText(i) for i in range(tabs.count())]
    assert all(mnemonic(text) for text in titles)  # every menu and tab has its key
    everywhere = titles + controls(toolbar)
    window.mode_switch.show_mode("live")  # its button reads "Back to paper" then
    everywhere += controls(toolbar)
    window.mode_switch.show_mode("paper")

    # Only the current tab's controls are live, beside the menus, tabs and toolbar.
    for i in range(tabs.count()):
        assert clashes(everywhere + controls(tabs.widget(i))) == {}, tabs.tabText(i)
    for menu in menus:
        texts = [a.text() for a in menu.actions() if not a.isSeparator()]
        assert clashes(texts) == {}, menu.title()
    # The ones that clashed before: Alt+T (Trading, Send test alert), Alt+O (Options, Log).
    assert mnemonic(window.connect_panel.test_button.text()) == "a"
    assert mnemonic(tabs.tabText(tabs.indexOf(window.log_panel))) == "g"
