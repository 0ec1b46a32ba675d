"""What the tvdesk bundle leaves out, and the pruning that follows from it.

Used by ``tvdesk.spec`` (PyInstaller) and checked by ``tests/test_packaging.py``
without building anything. Two kinds of trimming:

- Python modules PyInstaller's analysis would follow but tvdesk never runs
  (``EXCLUDED_MODULES``, passed to ``Analysis(excludes=...)``);
- files the Qt hooks collect for every Qt application, matched on their path
  inside the bundle (``dropped``), and then every shared library that only
  those files needed (``prune``): the GTK platform theme alone drags in GTK,
  GDK, pango, cairo, ATK and a dozen X extensions.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable

# Module names (and their submodules) the analysis must not follow.
EXCLUDED_MODULES = [
    # Tk: Python's stdlib GUI, never used (Qt is the GUI).
    "tkinter",
    "_tkinter",
    "turtle",
    "turtledemo",
    "idlelib",
    # gunicorn's aiohttp worker, unused. (uvloop stays: headless mode runs on it.)
    "aiohttp.worker",
    # Parts of ccxt that tvdesk never imports: websockets and ccxt's own tests. Of the
    # signers some exchanges import on demand only dYdX's goes: it needs protobuf, which
    # isn't installed, so it can't work anyway. The others (keccak, ethabi, msgpack,
    # starknet, lighter: Hyperliquid, Paradex, ...) work and weigh < 0.2 MB together.
    "ccxt.pro",
    "ccxt.test",
    "ccxt.static_dependencies.dydx_v4_client",
    # PySide6/__init__ imports QtNetwork on Windows only, inside try/except ImportError;
    # tvdesk's networking is aiohttp. Dropping it drops libQt6Network and its plugins.
    "PySide6.QtNetwork",
    # Development tools that ride along with the stdlib or the venv.
    "pydoc",
    "pydoc_data",
    "doctest",
    "lib2to3",
    "ensurepip",
    "venv",
    "pip",
    "setuptools",
    "pkg_resources",
    "PyInstaller",
    "pytest",
    "_pytest",
    "hypothesis",
]

# Qt plugins that tvdesk's window uses, by directory under PySide6/Qt/plugins/.
# A directory not listed here is dropped whole; a listed one keeps only the named
# plugins (None keeps every plugin in it).
QT_PLUGINS: dict[str, set[str] | None] = {
    # xcb (X11, also XWayland), offscreen (self-test, CI), windows, cocoa.
    "platforms": {"xcb", "offscreen", "windows", "cocoa"},
    "xcbglintegrations": None,  # OpenGL on X11: tiny, and Qt warns without them
    "platforminputcontexts": None,  # compose key and IBus input methods
    "iconengines": None,  # SVG icons (the app icon is an SVG)
    "imageformats": {"svg", "ico", "gif", "jpeg"},
    "styles": None,  # macOS (macstyle) and Windows (modernwindowsstyle) native looks
}

# Qt lives in PySide6/Qt/ on Linux and macOS, straight in PySide6/ on Windows.
_PLUGINS_DIR = re.compile(r"^PySide6/(?:Qt/)?plugins/")
_PLUGIN = re.compile(r"^PySide6/(?:Qt/)?plugins/([^/]+)/(?:lib)?q?([^/.]+)\.(?:so|dll|dylib)$")
_DROPPED_PATHS = [
    # Qt's own translations: tvdesk is English and installs no QTranslator (14 MB).
    re.compile(r"^PySide6/(?:Qt/)?translations/"),
]


def plugin_name(dest: str) -> tuple[str, str] | None:
    """(plugin dir, plugin name) of a Qt plugin's path in the bundle, else None.

    ``PySide6/Qt/plugins/platforms/libqxcb.so`` -> ("platforms", "xcb");
    ``.../platforms/qwindows.dll`` -> ("platforms", "windows").
    """
    match = _PLUGIN.match(dest.replace("\\", "/"))
    if match is None:
        return None
    return match.group(1), match.group(2)


def dropped(dest: str) -> bool:
    """True when the file at ``dest`` (its path inside the bundle) is left out."""
    dest = dest.replace("\\", "/")
    if any(pattern.match(dest) for pattern in _DROPPED_PATHS):
        return True
    inside = _PLUGINS_DIR.match(dest)
    if inside is None:
        return False
    plugin = plugin_name(dest)
    if plugin is None:  # a plugin's data file (json, qml) next to it
        directory = dest[inside.end() :].split("/")[0]
        return directory not in QT_PLUGINS
    directory, name = plugin
    if directory not in QT_PLUGINS:
        return True
    wanted = QT_PLUGINS[directory]
    return wanted is not None and name not in wanted


Entry = tuple[str, str, str]  # PyInstaller TOC entry: (dest, src, typecode)


def _is_library(entry: Entry) -> bool:
    dest, _src, typecode = entry
    name = os.path.basename(dest)
    return typecode == "BINARY" and (".so" in name or name.lower().endswith((".dll", ".dylib")))


def prune(
    binaries: Iterable[Entry],
    datas: Iterable[Entry],
    imports_of: Callable[[str], Iterable[str]],
    is_dropped: Callable[[str], bool] = dropped,
) -> tuple[list[Entry], list[Entry], list[str]]:
    """Leave out the dropped files, then every library only they needed.

    ``imports_of(src)`` names the shared libraries the file at ``src`` links to (full
    paths or base names). A library reached from a dropped file stays when a kept
    file reaches it too; a library nothing reaches (loaded with dlopen or ctypes)
    is never touched. Symlinks to a removed file go with it. Returns the kept
    binaries, the kept datas and the bundle paths removed, sorted.
    """
    binaries = list(binaries)
    datas = list(datas)
    libraries = [entry for entry in binaries if _is_library(entry)]
    by_key: dict[str, Entry] = {}
    for entry in libraries:
        by_key.setdefault(os.path.realpath(entry[1]), entry)
        by_key.setdefault(os.path.basename(entry[0]), entry)

    def reached(start: Iterable[Entry]) -> set[str]:
        seen: set[str] = set()
        todo = list(start)
        while todo:
            entry = todo.pop()
            for name in imports_of(entry[1]):
                target = by_key.get(os.path.realpath(name)) or by_key.get(os.path.basename(name))
                if target is not None and target[0] not in seen:
                    seen.add(target[0])
                    todo.append(target)
        return seen

    gone = [entry for entry in binaries if is_dropped(entry[0])]
    gone_names = {entry[0] for entry in gone}
    orphans = reached(gone) - gone_names
    roots = [e for e in binaries if e[0] not in gone_names and e[0] not in orphans]
    orphans -= reached(roots)
    removed = gone_names | orphans
    kept_binaries = [entry for entry in binaries if entry[0] not in removed]
    removed_paths = {os.path.normpath(name) for name in removed}
    kept_datas = []
    for entry in datas:
        dest, src, typecode = entry
        target = os.path.normpath(os.path.join(os.path.dirname(dest), src))
        if is_dropped(dest) or (typecode == "SYMLINK" and target in removed_paths):
            removed.add(dest)
        else:
            kept_datas.append(entry)
    return kept_binaries, kept_datas, sorted(removed)
