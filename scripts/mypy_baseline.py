"""mypy over tvdesk, failing only on errors that mypy-baseline.txt does not list.

The baseline holds the errors found before the check came in (`make typecheck`), keyed by
file, error code and message but not line number, so an edit above an old error does not
fail the check; the same error once more in that file does. `--update` rewrites the
baseline from the current run (after fixing old errors, or to accept new ones on purpose).
tvdesk/core and tvdesk/store are strict (pyproject.toml) and kept out of the baseline.

PySide6 takes any Qt property as a constructor keyword (`QLabel(objectName="x")`, and a
misspelt one raises when the line runs); its stubs do not list them, so mypy calls each
such call wrong. Those calls are not counted, rather than baselining every new widget.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "mypy-baseline.txt"
HEADER = (
    "# mypy errors that predate `make typecheck` (scripts/mypy_baseline.py): file, code and\n"
    "# message, one line per occurrence. Only errors not listed here fail the check; fix\n"
    "# one and `make mypy-baseline` drops it. tvdesk/core and tvdesk/store may not appear.\n"
)
ERROR = re.compile(
    r"^(?P<path>[^:]+):\d+(?::\d+)?: error: (?P<message>.*?)(?:  \[(?P<code>[\w-]+)\])?$"
)
STRICT = ("tvdesk/core/", "tvdesk/store/")
QT_KEYWORDS = re.compile(r'Unexpected keyword arguments? .* for (?:overloaded function )?"Q\w+"')
QT_NO_OVERLOAD = re.compile(r'No overload variant of "Q\w+" matches argument types?')


def key(line: str) -> str | None:
    """`path: [code] message` for an error line, None for notes and the summary."""
    match = ERROR.match(line)
    if match is None:
        return None
    path = match["path"].replace("\\", "/")  # mypy on Windows prints backslashes
    return f"{path}: [{match['code'] or 'error'}] {match['message']}"


def read_baseline() -> Counter[str]:
    if not BASELINE.exists():
        return Counter()
    lines = BASELINE.read_text(encoding="utf-8").splitlines()
    return Counter(line for line in lines if line and not line.startswith("#"))


def main(argv: list[str]) -> int:
    run = subprocess.run(
        [sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if run.returncode not in (0, 1):  # 2: mypy itself failed (bad config, crash)
        sys.stderr.write(run.stdout + run.stderr)
        return run.returncode
    errors = [line for line in run.stdout.splitlines() if key(line) is not None]
    qt_calls = {line.split(": error:")[0] for line in errors if QT_KEYWORDS.search(line)}
    errors = [
        line
        for line in errors
        if not QT_KEYWORDS.search(line)
        and not (QT_NO_OVERLOAD.search(line) and line.split(": error:")[0] in qt_calls)
    ]
    qt_note = f", {len(qt_calls)} Qt calls with property keywords not counted"
    current = Counter(key(line) for line in errors)
    if "--update" in argv:
        strict = sorted(k for k in current if k.startswith(STRICT))
        if strict:
            print("core/ and store/ are strict and may not be baselined; fix these:")
            print("\n".join(strict))
            return 1
        BASELINE.write_text(
            HEADER + "".join(f"{k}\n" for k in sorted(current.elements())), encoding="utf-8"
        )
        print(f"mypy-baseline.txt: {sum(current.values())} errors")
        return 0
    baseline = read_baseline()
    new = current - baseline
    if new:
        allowed = baseline.copy()
        print("mypy: new errors (not in mypy-baseline.txt):")
        for line in errors:
            k = key(line)
            if allowed[k] > 0:
                allowed[k] -= 1
            else:
                print(line)
        print("Fix them; only if one is meant to stay, `make mypy-baseline` accepts it.")
        return 1
    gone = sum((baseline - current).values())
    note = f"; {gone} baselined errors fixed, `make mypy-baseline` drops them" if gone else ""
    print(f"mypy: no new errors ({sum(current.values())} baselined{qt_note}){note}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
