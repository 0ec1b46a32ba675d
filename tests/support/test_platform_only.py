"""Every OS branch of tvdesk lives in tvdesk/support/platform/, where each OS's
implementation is tested here (test_platform*.py): a check of the OS, an OS-only module or
a signal anywhere else is a branch no test runs on the OS it is for.

Read from the source with ``ast``: comments and docstrings may name the OSes freely.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import tvdesk

PACKAGE = Path(tvdesk.__file__).parent
PLATFORM = PACKAGE / "support" / "platform"

# Modules that exist, or behave, on one OS only; `platform` is the standard library's.
OS_MODULES = {
    "_winapi",
    "fcntl",
    "msvcrt",
    "platform",
    "pwd",
    "grp",
    "signal",
    "termios",
    "uvloop",
    "winreg",
    "winsound",
    "win32api",
    "win32con",
}
# module.attribute reads that ask which OS this is, or act as only one OS can.
OS_ATTRIBUTES = {
    ("sys", "platform"),
    ("sys", "getwindowsversion"),
    ("os", "name"),
    ("os", "uname"),
    ("os", "kill"),
    ("os", "killpg"),
    ("os", "getpgid"),
    ("os", "setsid"),
    ("os", "startfile"),
    ("os", "O_BINARY"),
    ("ctypes", "windll"),
    ("ctypes", "WinDLL"),
    ("ctypes", "wintypes"),
}
OS_CALL_NAMES = {"add_signal_handler", "remove_signal_handler"}
OS_KEYWORDS = {"start_new_session", "creationflags", "preexec_fn", "startupinfo"}
OS_STRINGS = {"win32", "darwin", "nt", "cygwin", "O_BINARY", "SIGHUP", "SIGBREAK"}


def platform_checks(source: str) -> list[tuple[int, str]]:
    """(line, what) for each OS branch in ``source``."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in OS_MODULES:
                    found.append((node.lineno, f"import {alias.name}"))
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            root = node.module.split(".")[0]
            names = {alias.name for alias in node.names}
            if root in OS_MODULES or (root == "ctypes" and names & {"windll", "WinDLL"}):
                found.append((node.lineno, f"from {node.module} import ..."))
        elif isinstance(node, ast.Attribute):
            if isinstance(node.value, ast.Name) and (node.value.id, node.attr) in OS_ATTRIBUTES:
                found.append((node.lineno, f"{node.value.id}.{node.attr}"))
            elif node.attr in OS_CALL_NAMES:
                found.append((node.lineno, node.attr))
        elif isinstance(node, ast.keyword) and node.arg in OS_KEYWORDS:
            # Only a value written in: one that a platform call gives is that OS's own.
            if isinstance(node.value, ast.Constant):
                found.append((node.value.lineno, f"{node.arg}={node.value.value!r}"))
        elif isinstance(node, ast.Constant) and node.value in OS_STRINGS:
            found.append((node.lineno, repr(node.value)))
    return sorted(found)


def test_no_platform_branch_outside_the_platform_module():
    outside = [
        f"{path.relative_to(PACKAGE.parent)}:{line}: {what}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if PLATFORM not in path.parents
        for line, what in platform_checks(path.read_text(encoding="utf-8"))
    ]
    assert outside == [], (
        "OS branches belong in tvdesk/support/platform/ (one method per concern, one "
        "implementation per OS, each tested in tests/support/test_platform*.py):\n"
        + "\n".join(outside)
    )


def test_the_platform_module_is_where_they_are():
    inside = [
        what
        for path in PLATFORM.glob("*.py")
        for _, what in platform_checks(path.read_text(encoding="utf-8"))
    ]
    assert {"import fcntl", "import msvcrt", "import signal", "import uvloop"} <= set(inside)
    assert "ctypes.windll" in inside


@pytest.mark.parametrize(
    "source",
    [
        "import sys\nif sys.platform == 'win32':\n    pass\n",
        "import sys\nwindows = sys.platform.startswith('win')\n",
        "import os\nif os.name == 'posix':\n    pass\n",
        "import platform\nplatform.system()\n",
        "import msvcrt\n",
        "from fcntl import flock\n",
        "import winreg\n",
        "import ctypes\nctypes.windll.kernel32\n",
        "from ctypes import windll\n",
        "import os\nos.kill(1, 0)\n",
        "import signal\n",
        "loop.add_signal_handler(2, stop)\n",
        "subprocess.Popen(['x'], start_new_session=True)\n",
        "subprocess.Popen(['x'], creationflags=0x200)\n",
        "flags = getattr(os, 'O_BINARY', 0)\n",
        "import uvloop\n",
    ],
)
def test_each_kind_of_os_branch_is_found(source):
    assert platform_checks(source), source


def test_what_only_looks_like_an_os_branch_is_not():
    source = (
        '"""Windows and macOS: sys.platform in a docstring."""\n'
        "from tvdesk.support import platform\n"
        "platform.current().has_display({})\n"
        "button.clicked.signal.connect(slot)  # a Qt signal, sys.platform in a comment\n"
        "name = 'tvdesk on darwin'\n"
        "subprocess.Popen(['x'], **platform.current().detached())\n"
    )
    assert platform_checks(source) == []
