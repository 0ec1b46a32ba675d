"""Keeps the running engine's settings and settings.toml in step.

Two directions: a trader edits the file while tvdesk runs (headless users do)
and the next alert obeys it, without a restart; the window or a command
changes a setting and the file is updated. Command-line flags (``--port``,
``--mode`` …) override the file for this run only and are never written back.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from tvdesk.config.load import SettingsError, load_settings
from tvdesk.config.save import save_settings
from tvdesk.config.schema import Settings, settings_to_dict

log = logging.getLogger(__name__)

_NONE = object()  # hold(): the key had no override before

# Changing these needs a restart (listeners) or the trader's consent (mode).
_NOT_LIVE = ("schema_version", "mode", "listener", "tunnel")


def apply_overrides(settings: Settings, overrides: Mapping[str, Any]) -> Settings:
    """``settings`` with dotted keys (``"listener.port"``, ``"mode"``) replaced."""
    for dotted, value in overrides.items():
        settings = _set(settings, dotted.split("."), value)
    return settings


def _set(obj: Any, path: list[str], value: Any) -> Any:
    if len(path) == 1:
        return dataclasses.replace(obj, **{path[0]: value})
    child = getattr(obj, path[0])
    return dataclasses.replace(obj, **{path[0]: _set(child, path[1:], value)})


def _get(obj: Any, path: list[str]) -> Any:
    for name in path:
        obj = getattr(obj, name)
    return obj


def changes(old: Settings, new: Settings) -> list[str]:
    """What differs, as "section.key: old → new" lines (the symbol table as a whole)."""
    a, b = settings_to_dict(old), settings_to_dict(new)
    out = []
    for section in sorted(set(a) | set(b)):
        left, right = a.get(section), b.get(section)
        if isinstance(left, dict) and isinstance(right, dict):
            for key in sorted(set(left) | set(right)):
                if left.get(key) != right.get(key):
                    out.append(f"{section}.{key}: {left.get(key)} → {right.get(key)}")
        elif left != right:
            what = f"{len(right)} rows" if isinstance(right, list) else right
            out.append(f"{section}: now {what}")
    return out


class SettingsSync:
    def __init__(
        self,
        path: Path,
        overrides: Mapping[str, Any],
        current: Callable[[], Settings],
        adopt: Callable[[Settings], None],
    ) -> None:
        self.path = path
        self.overrides = dict(overrides)
        self._current = current
        self._adopt = adopt
        self._mtime = self._stat()
        self._held: dict[str, Any] = {}  # dotted key -> the override it replaced (or _NONE)
        # What the file itself last said about the kill switch: only the file going from
        # on to off lifts it; a file that never said "on" (its save failed) does not.
        self._file_kill_switch = current().risk.kill_switch
        # Why the file on disk was last refused (None: it loaded), for the window to show.
        self.problem: str | None = None

    def hold(self, dotted: str, value: Any) -> None:
        """Run with ``value`` for ``dotted`` while the file keeps its own, until release()."""
        if dotted not in self._held:
            self._held[dotted] = self.overrides.get(dotted, _NONE)
        self.overrides[dotted] = value

    def release(self, dotted: str) -> None:
        """End a hold(): the key is as the command line left it (written back unless a flag)."""
        if dotted not in self._held:
            return
        previous = self._held.pop(dotted)
        if previous is _NONE:
            del self.overrides[dotted]
        else:
            self.overrides[dotted] = previous

    def _stat(self) -> float | None:
        try:
            return self.path.stat().st_mtime_ns
        except OSError:
            return None

    def save(self, settings: Settings) -> None:
        """Write ``settings`` to the file, keeping the file's own value for overridden keys."""
        to_save = settings
        if self.overrides:
            on_file = load_settings(self.path)
            for dotted in self.overrides:
                path = dotted.split(".")
                to_save = _set(to_save, path, _get(on_file, path))
        save_settings(to_save, self.path)
        self._mtime = self._stat()
        self.problem = None  # what was just written loads again
        self._file_kill_switch = to_save.risk.kill_switch

    def poll(self) -> list[str]:
        """Reload if the file changed since we last read or wrote it."""
        mtime = self._stat()
        if mtime == self._mtime:
            return []
        self._mtime = mtime
        return self.reload()

    def reload(self) -> list[str]:
        """Take the file's settings for the next alert; returns what changed.

        A file with an error is reported and ignored: the previous settings stay.
        """
        try:
            on_file = apply_overrides(load_settings(self.path), self.overrides)
        except SettingsError as exc:
            log.error("settings.toml not reloaded, the previous settings stay: %s", exc)
            self.problem = str(exc)
            return []
        self.problem = None
        current = self._current()
        pinned = {name: getattr(current, name) for name in _NOT_LIVE}
        needs_restart = [
            line for line in changes(current, on_file) if line.split(".")[0].split(":")[0] in pinned
        ]
        for line in needs_restart:
            log.warning("settings.toml: %s — takes effect after a restart", line)
        new = dataclasses.replace(on_file, **pinned)
        file_was_on, self._file_kill_switch = self._file_kill_switch, on_file.risk.kill_switch
        if current.risk.kill_switch and not new.risk.kill_switch and not file_was_on:
            # The switch is on although the file never said so (kept in the journal when
            # the file could not be saved): an unrelated edit must not lift it.
            log.warning(
                "settings.toml says risk.kill_switch = false, but the kill switch stays ON "
                "(kept in the journal): lift it with `tvdesk resume` or in the window"
            )
            risk = dataclasses.replace(new.risk, kill_switch=True)
            new = dataclasses.replace(new, risk=risk)
        changed = changes(current, new)
        if changed:
            self._adopt(new)
            for line in changed:
                log.info("settings.toml reloaded: %s", line)
        return changed
