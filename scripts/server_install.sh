#!/bin/sh
# tvdesk for a server, into a new venv: the dependencies pyproject.toml declares less the
# window's (PySide6, qasync: `tvdesk --headless` never imports them), at the versions of
# requirements.lock, then tvdesk itself without resolving anything again. The Dockerfile
# runs it; so does scripts/docker_check.sh, to prove the image's install without Docker.
#
#     sh scripts/server_install.sh VENV [SOURCE]     (SOURCE: a tvdesk checkout, default .)
set -eu
VENV=$1
SRC=${2:-.}
PYTHON=${PYTHON:-python3}

"$PYTHON" -m venv "$VENV"
"$PYTHON" - "$SRC/pyproject.toml" >"$VENV/server-requirements.txt" <<'PY'
import sys
import tomllib

with open(sys.argv[1], "rb") as f:
    deps = tomllib.load(f)["project"]["dependencies"]
window = ("pyside6", "shiboken6", "qasync")
print("\n".join(dep for dep in deps if not dep.lower().startswith(window)))
PY
"$VENV/bin/python" -m pip install --no-cache-dir --quiet --disable-pip-version-check \
    --constraint "$SRC/requirements.lock" --requirement "$VENV/server-requirements.txt"
"$VENV/bin/python" -m pip install --no-cache-dir --quiet --disable-pip-version-check \
    --no-deps "$SRC"
