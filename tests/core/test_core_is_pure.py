"""tvdesk.core imports only the standard library (STYLE.md, habit 1), proven two ways."""

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import tvdesk.core

CORE = Path(tvdesk.core.__file__).parent
BLOCKED = ("aiohttp", "ccxt", "PySide6", "qasync", "keyring", "pyngrok")

IMPORT_EVERYTHING = textwrap.dedent(
    """
    import importlib, importlib.abc, pkgutil, sys

    BLOCKED = {blocked!r}

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"tvdesk.core must not import {{name}}")
            return None

    sys.meta_path.insert(0, Block())
    import tvdesk.core.alert.parse, tvdesk.core.auth, tvdesk.core.lockout
    import tvdesk.core
    names = [m.name for m in pkgutil.walk_packages(tvdesk.core.__path__, "tvdesk.core.")]
    for name in names:
        importlib.import_module(name)
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
    assert not loaded, loaded
    print("\\n".join(names))
    """
).format(blocked=BLOCKED)


def test_core_imports_with_third_party_packages_blocked():
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_EVERYTHING], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    imported = set(result.stdout.split())
    assert {"tvdesk.core.alert", "tvdesk.core.auth", "tvdesk.core.lockout"} <= imported


def imports_of(path: Path) -> list[str]:
    package = list(path.relative_to(CORE.parent.parent).with_suffix("").parts[:-1])
    return imports_in(path.read_text(encoding="utf-8"), package)


def imports_in(source: str, package: list[str]) -> list[str]:
    """Absolute names of every module the source imports (relative imports resolved)."""
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            names.append(".".join([*base, node.module] if node.module else base))
    return names


def test_core_imports_only_the_standard_library():
    offenders = []
    for path in sorted(CORE.rglob("*.py")):
        for name in imports_of(path):
            inside = name == "tvdesk.core" or name.startswith("tvdesk.core.")
            if not inside and name.split(".")[0] not in sys.stdlib_module_names:
                offenders.append(f"{path.relative_to(CORE)}: {name}")
    assert not offenders, offenders


def test_the_scan_resolves_relative_imports():
    assert "json" in imports_of(CORE / "alert" / "json_body.py")
    source = "from . import alert\nfrom .. import cli\nfrom .x import y\nimport aiohttp.web\n"
    assert imports_in(source, ["tvdesk", "core"]) == [
        "tvdesk.core",
        "tvdesk",
        "tvdesk.core.x",
        "aiohttp.web",
    ]
