#!/bin/sh
# The wheel as a user gets it: built from this checkout, installed in a fresh venv under
# /tmp with the locked versions of its own dependencies only (no test or dev tools), then
# `tvdesk --self-test` run there, from outside the checkout, so nothing can come from the
# source tree. Fails if the wheel misses a file the app loads (tvdesk/resources/...), a
# dependency pyproject.toml forgot, or the licence.
#
#     sh scripts/wheel_check.sh          (make wheel-check; .ci/run calls it after make test)
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PYTHON=${PYTHON:-python3}
WORK=$(mktemp -d /tmp/tvdesk-wheel.XXXXXX)
trap 'rm -rf "$WORK"' EXIT INT TERM

echo "wheel-check: building the wheel"
# From a copy of the work tree: setuptools builds in place, and a build/ left over from
# an earlier build would carry files the checkout no longer has into the wheel.
"$PYTHON" -c '
import shutil, sys
junk = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__")
shutil.copytree(sys.argv[1], sys.argv[2], ignore=junk)
' "$ROOT" "$WORK/src"
# Built by the fresh venv's pip (Debian's python3 has none); building installs nothing there.
"$PYTHON" -m venv "$WORK/venv"
"$WORK/venv/bin/python" -m pip install --quiet --upgrade pip
"$WORK/venv/bin/python" -m pip wheel --quiet --no-deps --wheel-dir "$WORK/dist" "$WORK/src"
WHEEL=$(ls "$WORK"/dist/tvdesk-*.whl)
echo "wheel-check: built $(basename "$WHEEL")"

# What the window loads and what the licence requires must be inside the wheel.
"$PYTHON" - "$WHEEL" <<'EOF'
import sys
import zipfile

names = set(zipfile.ZipFile(sys.argv[1]).namelist())
needed = [
    "tvdesk/resources/tvdesk.svg",
    "tvdesk/resources/templates/strategy.json",
    "tvdesk/resources/templates/strategy_position_sync.json",
    "tvdesk/resources/templates/indicator.json",
]
missing = [name for name in needed if name not in names]
if not any(name.endswith(".dist-info/licenses/LICENSE") for name in names):
    missing.append("*.dist-info/licenses/LICENSE")
strays = sorted(name for name in names if name.startswith(("tests/", "resources/")))
if missing or strays:
    sys.exit(f"wheel-check: the wheel misses {missing} and carries strays {strays[:5]}")
print(f"wheel-check: {len(names)} files, resources and licence inside")
EOF

echo "wheel-check: installing it in a fresh venv ($WORK/venv) with the locked versions"
"$WORK/venv/bin/python" -m pip install --quiet --constraint "$ROOT/requirements.lock" "$WHEEL"

cd "$WORK"
VERSION=$("$WORK/venv/bin/tvdesk" --version)
echo "wheel-check: $VERSION"
# Offscreen Qt, a temporary HOME: the self-test touches neither a display nor the
# trader's files; TVDESK_* settings of the calling shell are left out.
for name in $(env | sed -n 's/^\(TVDESK_[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$name"; done
HOME="$WORK/home" QT_QPA_PLATFORM=offscreen "$WORK/venv/bin/tvdesk" --self-test
echo "wheel-check: ok"
