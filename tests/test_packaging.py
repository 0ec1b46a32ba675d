"""The bundle's recipe, checked without building it (make bundle builds and self-tests it).

- what packaging/trim.py leaves out of the bundle, and the pruning of libraries that
  only left-out files needed;
- that nothing tvdesk runs imports a module the bundle excludes (it would be missing
  from the bundle only, so only the built app would fail);
- that the spec's hidden imports exist, and the icons it embeds are well formed.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import struct
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGING = ROOT / "packaging"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        f"tvdesk_packaging_{name}", PACKAGING / f"{name}.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


trim = _load("trim")


# -- what is left out ------------------------------------------------------------

KEPT = [
    "PySide6/Qt/lib/libQt6Core.so.6",
    "PySide6/Qt/lib/libicudata.so.73",
    "PySide6/Qt/plugins/platforms/libqxcb.so",
    "PySide6/Qt/plugins/platforms/libqoffscreen.so",
    "PySide6/Qt/plugins/platforms/libqcocoa.dylib",
    "PySide6/plugins/platforms/qwindows.dll",  # Windows wheels have no Qt/ level
    "PySide6/Qt/plugins/imageformats/libqsvg.so",
    "PySide6/Qt/plugins/iconengines/libqsvgicon.so",
    "PySide6/Qt/plugins/xcbglintegrations/libqxcb-glx-integration.so",
    "PySide6/Qt/plugins/platforminputcontexts/libcomposeplatforminputcontextplugin.so",
    "PySide6/plugins/styles/qmodernwindowsstyle.dll",
    "resources/tvdesk.svg",
    "keyring-25.7.0.dist-info/entry_points.txt",
]
DROPPED = [
    "PySide6/Qt/translations/qtbase_de.qm",
    "PySide6/translations/qtbase_de.qm",
    "PySide6/Qt/plugins/platformthemes/libqgtk3.so",
    "PySide6/Qt/plugins/platforms/libqwayland.so",
    "PySide6/Qt/plugins/platforms/libqeglfs.so",
    "PySide6/Qt/plugins/platforms/libqvnc.so",
    "PySide6/Qt/plugins/platforms/libqlinuxfb.so",
    "PySide6/Qt/plugins/wayland-shell-integration/libxdg-shell.so",
    "PySide6/Qt/plugins/egldeviceintegrations/libqeglfs-x11-integration.so",
    "PySide6/Qt/plugins/tls/libqopensslbackend.so",
    "PySide6/Qt/plugins/imageformats/libqtiff.so",
    "PySide6/plugins/platforms/qdirect2d.dll",
]


@pytest.mark.parametrize("dest", KEPT)
def test_the_files_the_app_needs_stay(dest):
    assert not trim.dropped(dest)


@pytest.mark.parametrize("dest", DROPPED)
def test_unused_qt_files_go(dest):
    assert trim.dropped(dest)


def test_plugin_names_across_platforms():
    assert trim.plugin_name("PySide6/Qt/plugins/platforms/libqxcb.so") == ("platforms", "xcb")
    assert trim.plugin_name("PySide6\\plugins\\platforms\\qwindows.dll") == ("platforms", "windows")
    assert trim.plugin_name("PySide6/Qt/lib/libQt6Gui.so.6") is None


def test_prune_drops_what_only_dropped_files_needed():
    gtk = ("PySide6/Qt/plugins/platformthemes/libqgtk3.so", "/q/libqgtk3.so", "BINARY")
    xcb = ("PySide6/Qt/plugins/platforms/libqxcb.so", "/q/libqxcb.so", "BINARY")
    qtgui = ("PySide6/Qt/lib/libQt6Gui.so.6", "/q/libQt6Gui.so.6", "BINARY")
    libgtk = ("libgtk-3.so.0", "/usr/lib/libgtk-3.so.0", "BINARY")
    cairo = ("libcairo.so.2", "/usr/lib/libcairo.so.2", "BINARY")
    glib = ("libglib-2.0.so.0", "/usr/lib/libglib-2.0.so.0", "BINARY")
    by_ctypes = ("libsigner.so", "/usr/lib/libsigner.so", "BINARY")  # nothing links to it
    ext = ("PySide6/QtGui.abi3.so", "/q/QtGui.abi3.so", "EXTENSION")
    links = {
        "/q/libqgtk3.so": ["/q/libQt6Gui.so.6", "/usr/lib/libgtk-3.so.0"],
        "/usr/lib/libgtk-3.so.0": ["/usr/lib/libcairo.so.2", "libglib-2.0.so.0"],
        "/q/libqxcb.so": ["/q/libQt6Gui.so.6"],
        "/q/libQt6Gui.so.6": ["/usr/lib/libglib-2.0.so.0"],
        "/q/QtGui.abi3.so": ["/q/libQt6Gui.so.6"],
    }
    symlink = ("libgtk-3.so", "libgtk-3.so.0", "SYMLINK")
    qm = ("PySide6/Qt/translations/qt_de.qm", "/q/qt_de.qm", "DATA")
    template = ("resources/templates/strategy.json", "/r/strategy.json", "DATA")

    binaries, datas, removed = trim.prune(
        [gtk, xcb, qtgui, libgtk, cairo, glib, by_ctypes, ext],
        [symlink, qm, template],
        lambda src: links.get(src, []),
    )

    assert binaries == [xcb, qtgui, glib, by_ctypes, ext]  # glib: Qt needs it too
    assert datas == [template]
    assert removed == sorted([gtk[0], libgtk[0], cairo[0], symlink[0], qm[0]])


# -- the excluded modules are never used --------------------------------------------

USES = """
import importlib, json, pkgutil, sys
import tvdesk
from tvdesk.cli.main import main
for module in pkgutil.walk_packages(tvdesk.__path__, "tvdesk."):
    if not module.name.endswith("__main__"):  # that one runs the app
        importlib.import_module(module.name)
import ccxt.async_support
code = main(["--self-test"])
print(json.dumps([code, sorted(sys.modules)]))
"""


def test_nothing_tvdesk_runs_imports_an_excluded_module(tmp_path):
    """The self-test plus every module of the app: none imports what the bundle leaves out."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path)}
    env = {k: v for k, v in env.items() if not k.startswith("TVDESK_")}
    child = subprocess.run(
        [sys.executable, "-c", USES], capture_output=True, text=True, env=env, cwd=ROOT, timeout=90
    )
    assert child.returncode == 0, child.stderr[-3000:]
    code, modules = json.loads(child.stdout.strip().splitlines()[-1])
    assert code == 0, child.stderr[-3000:]
    excluded = [
        name
        for name in modules
        if any(name == ex or name.startswith(ex + ".") for ex in trim.EXCLUDED_MODULES)
    ]
    assert excluded == [], "the bundle leaves these out (packaging/trim.py): " + ", ".join(excluded)


# -- the spec ---------------------------------------------------------------------------


def _spec_tree() -> ast.Module:
    return ast.parse((PACKAGING / "tvdesk.spec").read_text(encoding="utf-8"), "tvdesk.spec")


def test_the_specs_hidden_imports_exist():
    names = []
    for node in ast.walk(_spec_tree()):
        if isinstance(node, ast.Assign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "hiddenimports" for t in targets):
                value = node.value
                if isinstance(value, ast.List):
                    names += [e.value for e in value.elts if isinstance(e, ast.Constant)]
    assert "ccxt.async_support" in names  # imported lazily: the analysis can't see it
    missing = [name for name in names if importlib.util.find_spec(name) is None]
    assert missing == []


def test_the_spec_bundles_resources_and_keyring_metadata():
    source = (PACKAGING / "tvdesk.spec").read_text(encoding="utf-8")
    assert 'copy_metadata("keyring")' in source  # keyring finds backends by entry points
    assert '"resources"' in source
    assert (ROOT / "resources" / "tvdesk.svg").is_file()


def test_the_app_icons_are_well_formed(tmp_path):
    icons = _load("icons")
    # As the spec runs it: a process of its own (its QGuiApplication must not outlive it).
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    made = subprocess.run(
        [sys.executable, str(PACKAGING / "icons.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    ico, icns = tmp_path / "tvdesk.ico", tmp_path / "tvdesk.icns"
    data = ico.read_bytes()
    reserved, kind, count = struct.unpack("<HHH", data[:6])
    assert (reserved, kind, count) == (0, 1, len(icons.ICO_SIZES))
    widths = set()
    for i in range(count):
        width, _h, _c, _r, _p, bpp, size, offset = struct.unpack(
            "<BBBBHHII", data[6 + 16 * i : 22 + 16 * i]
        )
        widths.add(width)
        assert bpp == 32 and data[offset : offset + 8] == b"\x89PNG\r\n\x1a\n"
        assert offset + size <= len(data)
    assert {16, 32, 48, 0} <= widths  # 0 is 256
    data = icns.read_bytes()
    assert data[:4] == b"icns" and struct.unpack(">I", data[4:8])[0] == len(data)
    kinds, at = [], 8
    while at < len(data):
        kinds.append(data[at : at + 4])
        at += struct.unpack(">I", data[at + 4 : at + 8])[0]
    assert at == len(data) and {b"ic07", b"ic08", b"ic09", b"ic10"} <= set(kinds)
