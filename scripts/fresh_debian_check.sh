#!/bin/sh
# tvdesk on a fresh Debian 12 with only make and Python, as a new user meets it (issue 18):
# a new Debian 12 root (debootstrap, minbase: what the debian:12 image holds) under
# build/fresh-debian/root, entered with chroot in a mount and PID namespace of its own
# (unshare), so every mount and every process started inside (a keyring test's D-Bus,
# a stray engine) ends with it. Inside, as root, with a clean environment:
#   1. apt-get install make python3 python3-venv git (nothing else, no recommends);
#      `git clone` of this repository's committed HEAD (FRESH_DEBIAN_SOURCE=worktree:
#      the work tree as it is, uncommitted changes included);
#   2. make setup (requirements.lock), make sysdeps; Qt's xcb plugin (the window on a
#      real desktop) finds every library it links;
#   3. `make run` with no OS keyring: still up after 30 s (waiting for the trader's
#      answer), then the same `tvdesk` driven by scripts/fresh_debian_window.py: asked
#      where to keep secrets, "this session only", the window shown with its engine in
#      paper, saved to docs/screenshots/fresh-debian.png;
#   4. scripts/wheel_check.sh (the wheel built, installed in a fresh venv, self-tested);
#   5. docs/server.md's systemd recipe from its own files: server_install.sh into
#      /opt/tvdesk, `--self-test --headless`, the secrets in /etc/tvdesk, then the unit's
#      ExecStart as systemd would run it (no systemd as PID 1 in a chroot: its own uid,
#      credentials directory, StateDirectory 0700, UMask 0077): ready, /health,
#      `tvdesk status` and `send-test` as the page shows them, a clean stop on SIGTERM;
#   6. make test (FRESH_DEBIAN_TESTS=0 skips it).
#
#     make fresh-debian-check    (root, Linux, apt; 11 min here on 2 shared cores, of
#                                 which make test 8; FRESH_DEBIAN_TESTS=0 skips it)
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
WORK=${FRESH_DEBIAN_DIR:-$ROOT/build/fresh-debian}
FS="$WORK/root"
SOURCE=${FRESH_DEBIAN_SOURCE:-commit}
TESTS=${FRESH_DEBIAN_TESTS:-1}
SHOT="$ROOT/docs/screenshots/fresh-debian.png"

die() { echo "fresh-debian-check: $*" >&2; exit 1; }
[ "$(uname -s)" = Linux ] || die "needs Linux (debootstrap, chroot, unshare)"
[ "$(id -u)" = 0 ] || die "needs root (debootstrap and chroot): sudo make fresh-debian-check"
case $SOURCE in commit | worktree) ;; *) die "FRESH_DEBIAN_SOURCE is commit or worktree" ;; esac

# The Debian mirror apt already uses here (deb822 or one-line sources), else Debian's own.
mirror() {
    for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        url=$(sed -n -e 's|^URIs: *\(http[^ ]*/debian\)/* *$|\1|p' \
            -e 's|^deb  *\(\[[^]]*\] *\)\{0,1\}\(http[^ ]*/debian\)/*  *bookworm .*|\2|p' "$f" | head -n 1)
        [ -n "$url" ] && { echo "$url"; return; }
    done
    echo http://deb.debian.org/debian
}
MIRROR=${DEBIAN_MIRROR:-$(mirror)}

if ! command -v debootstrap >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi
# Mounts of an earlier run live in its own namespace and end with it; refuse anyway if
# something is mounted below the root, rather than deleting through it.
if grep -q " $FS/" /proc/self/mountinfo; then die "something is mounted under $FS"; fi
rm -rf "$FS"
mkdir -p "$WORK"
t0=$(date +%s)
echo "fresh-debian-check: debootstrap bookworm (minbase) from $MIRROR"
debootstrap --variant=minbase bookworm "$FS" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -n 20 "$WORK/debootstrap.log"; die "debootstrap failed"; }
cp /etc/resolv.conf "$FS/etc/resolv.conf"
# A network whose HTTPS is inspected (a company proxy; this project's CI machines) needs
# its CA for pip to reach PyPI: the one this machine's pip is told to trust (PIP_CERT, or
# cert = in /etc/pip.conf), handed over as the root's PIP_CERT. A user's own box has none.
host_ca=${PIP_CERT:-$(sed -n 's/^cert *= *//p' /etc/pip.conf 2>/dev/null | head -n 1)}
PIP_CA=""
if [ -n "$host_ca" ] && [ -f "$host_ca" ]; then
    mkdir -p "$FS/etc/ssl"
    cp "$host_ca" "$FS/etc/ssl/network-ca.crt"
    PIP_CA=/etc/ssl/network-ca.crt
fi
mkdir -p "$FS/src"
if [ "$SOURCE" = worktree ]; then
    # Tracked and new files as they are in the work tree, laid over the clone inside.
    git -C "$ROOT" ls-files -z --cached --others --exclude-standard \
        | (cd "$ROOT" && xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh) \
        | tar -C "$ROOT" --null -T - -cf "$FS/worktree.tar"
fi

cat >"$FS/fresh-inner.sh" <<'INNER'
set -eu
step() { echo; echo "== fresh-debian: $* ($(( $(date +%s) - START )) s)"; }
START=$(date +%s)
export DEBIAN_FRONTEND=noninteractive
step "apt-get install make python3 python3-venv git"
apt-get update -qq
apt-get install -y -qq --no-install-recommends make python3 python3-venv git >/dev/null
python3 --version; make --version | head -n 1
git clone --quiet /src /root/tvdesk
cd /root/tvdesk
[ -f /worktree.tar ] && tar -xf /worktree.tar && echo "(work tree laid over $(git rev-parse --short HEAD))"
git log --oneline -1

step "make setup"
make setup
step "make sysdeps"
make sysdeps
plugin=$(echo .venv/lib/python3*/site-packages/PySide6/Qt/plugins/platforms/libqxcb.so)
if ldd "$plugin" | grep "not found"; then echo "Qt's xcb plugin misses libraries"; exit 1; fi
echo "Qt's xcb plugin finds all $(ldd "$plugin" | wc -l) libraries it links"

step "make run (offscreen, no OS keyring): up after 30 s"
code=0
QT_QPA_PLATFORM=offscreen timeout 30 make run >/tmp/make-run.log 2>&1 || code=$?
if [ "$code" != 124 ]; then cat /tmp/make-run.log; echo "make run ended with $code"; exit 1; fi
echo "make run still running after 30 s (the no-keyring question waits for an answer)"
step "the window: no keyring, this session only, engine up, screenshot"
code=0
QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/fresh_debian_window.py \
    /root/fresh-debian.png /tmp/window-data >/tmp/window.log 2>&1 || code=$?
grep -v propagateSizeHints /tmp/window.log || true
[ "$code" = 0 ] || exit 1

step "scripts/wheel_check.sh"
sh scripts/wheel_check.sh

step "docs/server.md, systemd: server_install.sh, self-test, secrets, the unit's ExecStart"
apt-get install -y -qq --no-install-recommends python3.11 python3.11-venv >/dev/null
PYTHON=python3.11 sh scripts/server_install.sh /opt/tvdesk
/opt/tvdesk/bin/tvdesk --self-test --headless
install -d -m 700 /etc/tvdesk
python3 -c "import secrets; print(secrets.token_urlsafe(32))" | tee /etc/tvdesk/webhook_secret >/dev/null
chmod 600 /etc/tvdesk/*
install -d /etc/systemd/system
install -m 644 packaging/systemd/tvdesk.service /etc/systemd/system/
UNIT=/etc/systemd/system/tvdesk.service
# What systemd does for the unit: %S=/var/lib, the credential copied for the service's
# user, a user of its own, the state folder 0700, UMask 0077; the reverse-proxy variant
# (--no-tunnel: ngrok's servers are the internet), on a free port.
exec_start=$(sed -n 's/^ExecStart=//p' "$UNIT" | sed 's|%S|/var/lib|g')
case $exec_start in "/opt/tvdesk/bin/tvdesk --headless --data-dir /var/lib/tvdesk") ;;
    *) echo "the unit's ExecStart changed: $exec_start (update this check)"; exit 1 ;; esac
uid=61234
creds=/run/credentials/tvdesk.service
install -d -m 700 -o $uid -g $uid /var/lib/tvdesk "$creds"
install -m 400 -o $uid -g $uid /etc/tvdesk/webhook_secret "$creds/webhook_secret"
setpriv --reuid=$uid --regid=$uid --clear-groups --no-new-privs env -i \
    HOME=/var/lib/tvdesk TVDESK_WEBHOOK_SECRET_FILE="$creds/webhook_secret" \
    sh -c "umask 077; cd /var/lib/tvdesk; exec $exec_start --no-tunnel --port 0" \
    >/tmp/service.out 2>/tmp/service.err &
service=$!
for _ in $(seq 120); do
    grep -q "tvdesk ready on" /tmp/service.out && break
    kill -0 $service 2>/dev/null || break
    sleep 0.5
done
if ! grep "tvdesk ready on" /tmp/service.out; then
    cat /tmp/service.out /tmp/service.err; echo "the service did not start"; exit 1
fi
python3 - <<'PY'
import json, urllib.request
port = json.load(open("/var/lib/tvdesk/engine.json"))["port"]
with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=4) as reply:
    health = json.load(reply)
assert health["status"] == "ok", health
print("/health:", health["status"], health["mode"], health["version"])
PY
env TVDESK_WEBHOOK_SECRET_FILE=/etc/tvdesk/webhook_secret \
    /opt/tvdesk/bin/tvdesk status --data-dir /var/lib/tvdesk
env TVDESK_WEBHOOK_SECRET_FILE=/etc/tvdesk/webhook_secret \
    /opt/tvdesk/bin/tvdesk send-test --data-dir /var/lib/tvdesk | tee /tmp/send-test
grep -q "outcome: dry_run" /tmp/send-test
owners=$(find /var/lib/tvdesk ! -user $uid | head -n 3)
[ -z "$owners" ] || { echo "not the service's files: $owners"; exit 1; }
kill -TERM $service
code=0; wait $service || code=$?
[ "$code" = 0 ] || { cat /tmp/service.err; echo "SIGTERM ended the service with $code"; exit 1; }
echo "the service stopped cleanly on SIGTERM"

if [ "${TESTS:-1}" = 1 ]; then
    step "make test"
    make test
fi
step "done"
INNER

echo "fresh-debian-check: into the fresh root (namespaces end with it: no mounts, no daemons left)"
code=0
unshare --mount --pid --fork --kill-child --propagation private sh -eu -c '
    fs=$1 root=$2
    mount -t proc proc "$fs/proc"
    mount -t sysfs sysfs "$fs/sys"
    mount --rbind /dev "$fs/dev"
    mount --bind "$root" "$fs/src"
    mount -o remount,bind,ro "$fs/src"
    exec chroot "$fs" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb TESTS="$3" ${4:+PIP_CERT=$4} \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        /bin/sh /fresh-inner.sh
' sh "$FS" "$ROOT" "$TESTS" "$PIP_CA" 2>&1 | tee "$WORK/run.log" || code=$?
# tee hides the chroot's status: the log's last step says whether it got to the end.
grep -q "== fresh-debian: done" "$WORK/run.log" || code=1
if [ -f "$FS/root/fresh-debian.png" ]; then
    cp "$FS/root/fresh-debian.png" "$SHOT"
    echo "fresh-debian-check: the window as a fresh Debian 12 shows it: $SHOT"
fi
echo "fresh-debian-check: $(( $(date +%s) - t0 )) s in all, log in $WORK/run.log"
[ "$code" = 0 ] || die "failed (see above)"
echo "fresh-debian-check: ok"
