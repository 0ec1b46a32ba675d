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

import tvdesk

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
    "tvdesk/resources/tvdesk.svg",
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
    template = ("tvdesk/resources/templates/strategy.json", "/r/strategy.json", "DATA")

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
    assert (ROOT / "tvdesk" / "resources" / "tvdesk.svg").is_file()


def test_the_bundle_carries_the_licence_and_the_lgpl_notice_for_qt():
    source = (PACKAGING / "tvdesk.spec").read_text(encoding="utf-8")
    assert '"LICENSE"' in source and '"THIRD-PARTY-NOTICES.md"' in source
    assert '"licenses"' in source
    notices = (PACKAGING / "THIRD-PARTY-NOTICES.md").read_text(encoding="utf-8")
    assert "PySide6" in notices and "LGPL-3.0" in notices and "licenses/LGPL-3.0.txt" in notices
    lgpl = (PACKAGING / "licenses" / "LGPL-3.0.txt").read_text(encoding="utf-8")
    assert "GNU LESSER GENERAL PUBLIC LICENSE" in lgpl and "Version 3" in lgpl
    gpl = (PACKAGING / "licenses" / "GPL-3.0.txt").read_text(encoding="utf-8")
    assert "GNU GENERAL PUBLIC LICENSE" in gpl and "Version 3" in gpl


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


# -- version and windowing per OS ------------------------------------------------

version_info = _load("version_info")


class _Built:
    """Stands for one of PyInstaller's versioninfo classes: records how it was called."""

    def __init__(self, kind: str, *args: object, **kwargs: object) -> None:
        self.kind, self.args, self.kwargs = kind, args, kwargs


def _windows_version_resource(text: str) -> _Built:
    names = ("VSVersionInfo", "FixedFileInfo", "StringFileInfo", "StringTable")
    names += ("StringStruct", "VarFileInfo", "VarStruct")
    scope = {n: (lambda *a, _n=n, **k: _Built(_n, *a, **k)) for n in names}
    # PyInstaller reads the file the same way: eval() of one expression of these classes.
    return eval(compile(text, "version_info.txt", "eval"), {"__builtins__": {}}, scope)


def test_the_windows_version_resource_comes_from_the_one_version_source(tmp_path):
    path = version_info.write_windows_version_file(ROOT, tmp_path / "version_info.txt")
    resource = _windows_version_resource(path.read_text(encoding="utf-8"))
    ffi = resource.kwargs["ffi"]
    expected = version_info.numbers(tvdesk.__version__)
    assert ffi.kwargs["filevers"] == ffi.kwargs["prodvers"] == expected
    (strings,) = [kid for kid in resource.kwargs["kids"] if kid.kind == "StringFileInfo"]
    table = dict(s.args for s in strings.args[0][0].args[1])
    version = tvdesk.__version__
    assert table["FileVersion"] == table["ProductVersion"] == version
    assert (table["ProductName"], table["OriginalFilename"]) == ("tvdesk", "tvdesk.exe")


@pytest.mark.parametrize(
    ("version", "numbers"),
    [
        ("0.1.0", (0, 1, 0, 0)),
        ("1.2.3.4", (1, 2, 3, 4)),
        ("2.0.0rc1", (2, 0, 0, 0)),
        ("3.1", (3, 1, 0, 0)),
    ],
)
def test_version_numbers_for_windows(version, numbers):
    assert version_info.numbers(version) == numbers


def test_a_version_windows_cannot_hold_is_named():
    with pytest.raises(ValueError, match="at most 65535"):
        version_info.numbers("1.70000.0")
    with pytest.raises(ValueError, match="does not start with a number"):
        version_info.numbers("dev")


def _exe_calls() -> list[dict[str, ast.expr]]:
    calls = []
    for node in ast.walk(_spec_tree()):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "EXE":
            calls.append({kw.arg: kw.value for kw in node.keywords if kw.arg})
    return calls


def test_the_windows_exe_is_windowed_with_icon_and_version_and_a_console_twin():
    by_name = {ast.literal_eval(call["name"]): call for call in _exe_calls()}
    assert set(by_name) == {"tvdesk", "tvdesk-cli"}
    app, cli = by_name["tvdesk"], by_name["tvdesk-cli"]
    # console=not (IS_WIN or IS_MAC): no console window on Windows (and macOS).
    assert ast.unparse(app["console"]) == "not (IS_WIN or IS_MAC)"
    assert ast.literal_eval(cli["console"]) is True
    for call in (app, cli):
        assert (
            ast.unparse(call["icon"]) == "icon" and ast.unparse(call["version"]) == "version_info"
        )
    source = (PACKAGING / "tvdesk.spec").read_text(encoding="utf-8")
    assert 'icon = str(BUILD / "icons" / ("tvdesk.ico" if IS_WIN else "tvdesk.icns"))' in source
    assert "write_windows_version_file(ROOT," in source


def test_the_macos_app_has_its_info_plist():
    bundles = [
        node
        for node in ast.walk(_spec_tree())
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "BUNDLE"
    ]
    (bundle,) = bundles
    kwargs = {kw.arg: ast.unparse(kw.value) for kw in bundle.keywords}
    assert kwargs["name"] == "'tvdesk.app'" and kwargs["icon"] == "icon"
    assert kwargs["bundle_identifier"] == "version_info_module.BUNDLE_ID"
    assert kwargs["info_plist"] == "version_info_module.mac_info_plist(__version__)"
    version = tvdesk.__version__
    plist = version_info.mac_info_plist(version)
    assert version_info.BUNDLE_ID == "io.github.tvdesk"
    assert plist["CFBundleShortVersionString"] == plist["CFBundleVersion"] == version
    assert plist["NSHighResolutionCapable"] is True
    assert plist["LSMinimumSystemVersion"] == "13.0"
