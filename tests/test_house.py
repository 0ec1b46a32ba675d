"""The folders are the architecture (DESIGN.md, "Layers"): imports point down, never round.

Read from the source with ``ast``, lazy imports inside functions included: an import that
only runs later is still an arrow a reader has to follow.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import tvdesk

PACKAGE = Path(tvdesk.__file__).parent
ROOT = PACKAGE.parent
MAX_LINES = 400

# Floors from the ground up. A module may import its own package or a lower floor;
# packages on one floor (brokers, tunnel) are neighbours and do not import each other.
FLOORS = {
    "tvdesk": 0,  # the package's face: __version__ only
    "core": 0,
    "support": 1,
    "config": 2,
    "store": 3,
    "brokers": 4,
    "tunnel": 4,
    "door": 5,
    "engine": 6,
    "notify": 7,
    "gui": 8,
    "cli": 9,
    "__main__": 10,
}
QT = {"PySide6", "shiboken6", "qasync"}


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = modules()


def imports(name: str, path: Path) -> Iterator[tuple[str, int]]:
    """(absolute module name, line) for every import in the file; ``from x import y``
    names the module ``x.y`` when that is a module of tvdesk, else ``x``."""
    is_package = path.name == "__init__.py"
    package = name.split(".") if is_package else name.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, node.module] if node.module else base)
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                yield (sub if sub in MODULES else module), node.lineno


def tvdesk_imports(name: str, path: Path) -> Iterator[tuple[str, int]]:
    for target, line in imports(name, path):
        if target == "tvdesk" or target.startswith("tvdesk."):
            while target not in MODULES:  # a name imported from a module
                target = target.rsplit(".", 1)[0]
            yield target, line


def floor_of(module: str) -> tuple[str, int]:
    parts = module.split(".")
    room = parts[1] if len(parts) > 1 else "tvdesk"
    if room not in FLOORS:
        raise AssertionError(f"{module} is not in any floor: add its folder to FLOORS")
    return room, FLOORS[room]


def test_every_module_lives_on_a_floor():
    for name in MODULES:
        floor_of(name)
    flat = [n for n in MODULES if n.count(".") == 1 and n.split(".")[1] not in FLOORS]
    assert not flat, f"modules loose in tvdesk/: {flat}"


def test_imports_only_point_down_a_floor():
    upward = []
    for name, path in MODULES.items():
        room, floor = floor_of(name)
        for target, line in tvdesk_imports(name, path):
            other, other_floor = floor_of(target)
            if other == room or other_floor < floor:
                continue
            upward.append(f"{path.relative_to(ROOT)}:{line} ({room}) imports {target} ({other})")
    assert not upward, "imports that point up or sideways:\n" + "\n".join(upward)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_circle():
    graph = {
        name: {t for t, _ in tvdesk_imports(name, path) if t != name and t != "tvdesk"}
        for name, path in MODULES.items()
    }
    assert not cycles(graph), cycles(graph)


def test_the_circle_finder_finds_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_qt_only_inside_gui():
    outside = [
        f"{path.relative_to(ROOT)}:{line} imports {target}"
        for name, path in MODULES.items()
        if floor_of(name)[0] != "gui"
        for target, line in imports(name, path)
        if target.split(".")[0] in QT
    ]
    assert not outside, outside


def test_core_imports_only_the_standard_library():
    foreign = [
        f"{path.relative_to(ROOT)}:{line} imports {target}"
        for name, path in MODULES.items()
        if floor_of(name)[0] == "core"
        for target, line in imports(name, path)
        if not target.startswith("tvdesk.core")
        and target.split(".")[0] not in sys.stdlib_module_names
    ]
    assert not foreign, foreign


def test_no_module_over_400_lines(capsys: pytest.CaptureFixture[str]):
    sizes = sorted(
        ((len(p.read_text(encoding="utf-8").splitlines()), n) for n, p in MODULES.items()),
        reverse=True,
    )
    with capsys.disabled():
        print("\nlargest modules: " + ", ".join(f"{n} {lines}" for lines, n in sizes[:5]))
    over = [f"{n}: {lines} lines" for lines, n in sizes if lines > MAX_LINES]
    assert not over, f"split by responsibility (DESIGN.md, Layers): {over}"


def test_every_package_says_what_lives_there():
    silent = [
        str(path.relative_to(ROOT))
        for path in PACKAGE.rglob("__init__.py")
        if not ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert not silent, f"packages without a docstring: {silent}"
