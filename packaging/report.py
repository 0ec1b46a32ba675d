"""What is inside a built bundle, by size; on Linux also what it needs from the system.

    python packaging/report.py [dist/tvdesk] [--top 30]

Prints Markdown for packaging/README.md: the total, the largest top-level items, the
largest files, and (Linux) the newest glibc symbol version any file needs (the
minimum glibc of the machines it runs on) and the shared libraries it loads from
the system (ldd) rather than from the bundle.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

MB = 1024 * 1024


def files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and not p.is_symlink()]


def sizes(root: Path, top: int) -> list[str]:
    everything = files(root)
    total = sum(p.stat().st_size for p in everything)
    inside = root / "_internal" if (root / "_internal").is_dir() else root
    groups: Counter[str] = Counter()
    for path in everything:
        rel = path.relative_to(inside) if path.is_relative_to(inside) else path.relative_to(root)
        parts = rel.parts
        # PySide6 and the Qt tree are most of it: show them one level deeper.
        depth = 3 if parts[:2] == ("PySide6", "Qt") else 2 if parts[0] == "PySide6" else 1
        key = "/".join(parts[: min(depth, len(parts) - 1)] or parts[:1])
        groups[key if len(parts) > 1 else parts[0]] += path.stat().st_size
    out = [f"Total: **{total / MB:.1f} MB** in {len(everything)} files ({root}).", ""]
    out += ["| by folder / file | MB |", "|---|---:|"]
    out += [f"| `{name}` | {size / MB:.1f} |" for name, size in groups.most_common(top)]
    out += ["", f"Largest {top} files:", "", "| file | MB |", "|---|---:|"]
    biggest = sorted(everything, key=lambda p: p.stat().st_size, reverse=True)[:top]
    out += [
        f"| `{p.relative_to(inside if p.is_relative_to(inside) else root)}` | "
        f"{p.stat().st_size / MB:.1f} |"
        for p in biggest
    ]
    return out


def _elves(root: Path) -> list[Path]:
    found = []
    for path in files(root):
        with open(path, "rb") as f:
            if f.read(4) == b"\x7fELF":
                found.append(path)
    return found


def glibc_needed(root: Path) -> tuple[str, str]:
    """(newest GLIBC_x.y version any file needs, one file that needs it)."""
    best, who = (0, 0), ""
    for path in _elves(root):
        text = subprocess.run(
            ["objdump", "-T", str(path)], capture_output=True, text=True, check=False
        ).stdout
        for major, minor in re.findall(r"GLIBC_(\d+)\.(\d+)", text):
            if (int(major), int(minor)) > best:
                best, who = (int(major), int(minor)), str(path.relative_to(root))
    return f"{best[0]}.{best[1]}", who


def system_libraries(root: Path) -> tuple[list[str], list[str]]:
    """(libraries loaded from the system, libraries no one could find), per ldd."""
    bundled = {p.name for p in root.rglob("*")}
    from_system, missing = set(), set()
    for path in _elves(root):
        out = subprocess.run(["ldd", str(path)], capture_output=True, text=True, check=False)
        for line in out.stdout.splitlines():
            name, _, where = line.strip().partition(" => ")
            if not where:
                continue
            if where.startswith("not found"):
                missing.add(name)
            elif name not in bundled and str(root) not in where:
                from_system.add(name)
    return sorted(from_system), sorted(missing)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("bundle", nargs="?", default="dist/tvdesk", type=Path)
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    if not args.bundle.is_dir():
        raise SystemExit(f"report: no bundle at {args.bundle} (make bundle)")
    print("\n".join(sizes(args.bundle, args.top)))
    if sys.platform.startswith("linux"):
        version, who = glibc_needed(args.bundle)
        system, missing = system_libraries(args.bundle.resolve())
        print(f"\nNeeds glibc >= {version} (first needed by `{who}`).")
        print(f"\nLoads from the system: {', '.join(system)}.")
        if missing:
            print(f"\nNot found on this machine (the X11 window needs them): {', '.join(missing)}.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
