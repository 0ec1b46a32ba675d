"""The window's own preferences (not the engine's settings): a small INI file beside them."""

from __future__ import annotations

import contextlib
from pathlib import Path

from PySide6.QtCore import QSettings

CLOSE_ASK, CLOSE_BACKGROUND, CLOSE_QUIT = "ask", "background", "quit"


class Prefs:
    """Close behaviour, start minimised, keep awake, notifications; kept in ``gui.ini``."""

    def __init__(self, config_dir: Path) -> None:
        path = config_dir / "gui.ini"
        # Made owner-only first: Qt keeps an existing file's mode, but makes a new one 0644.
        with contextlib.suppress(OSError):
            path.touch(mode=0o600, exist_ok=True)
        self._store = QSettings(str(path), QSettings.Format.IniFormat)

    def _bool(self, key: str, default: bool) -> bool:
        return str(self._store.value(key, default)).lower() in ("true", "1")

    def _set(self, key: str, value: object) -> None:
        self._store.setValue(key, value)
        self._store.sync()

    @property
    def close_action(self) -> str:
        value = str(self._store.value("close_action", CLOSE_ASK))
        return value if value in (CLOSE_ASK, CLOSE_BACKGROUND, CLOSE_QUIT) else CLOSE_ASK

    @close_action.setter
    def close_action(self, value: str) -> None:
        self._set("close_action", value)

    @property
    def start_minimised(self) -> bool:
        return self._bool("start_minimised", False)

    @start_minimised.setter
    def start_minimised(self, value: bool) -> None:
        self._set("start_minimised", value)

    @property
    def keep_awake(self) -> bool:
        return self._bool("keep_awake", False)

    @keep_awake.setter
    def keep_awake(self, value: bool) -> None:
        self._set("keep_awake", value)

    @property
    def notifications(self) -> bool:
        return self._bool("notifications", True)

    @notifications.setter
    def notifications(self, value: bool) -> None:
        self._set("notifications", value)
