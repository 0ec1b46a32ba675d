#!/bin/sh
# What building the Linux bundle needs from the system, installed on Debian/Ubuntu
# when missing (as root or with sudo); does nothing elsewhere or when all is there.
# - binutils: PyInstaller runs objdump on every binary, and strip shrinks them;
# - the X11 (xcb) libraries Qt's window plugin links to: present at build time, they
#   are copied into the bundle, so the trader's machine needs fewer of its own.
set -e
[ "$(uname -s)" = "Linux" ] || exit 0
PKGS="binutils libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0
libxcb-render-util0 libxcb-shape0 libxcb-shm0 libxcb-sync1 libxcb-util1 libxcb-xfixes0
libxcb-xkb1 libxkbcommon-x11-0"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
    echo "tvdesk: building the bundle needs:$missing (install them with your package manager)" >&2
    exit 0
fi
SUDO=""
[ "$(id -u)" = "0" ] || SUDO="sudo"
echo "tvdesk: installing what the bundle build needs:$missing"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
