#!/bin/sh
# Installs what the window and the tests need from the system on Debian/Ubuntu when it
# is missing: every library Qt (QtCore, QtGui, QtDBus) and its xcb platform plugin link
# (tests/test_sysdeps.py reads them from the plugin itself, so a library a new Qt starts
# needing fails that test), a font, and gnome-keyring + dbus for the test against a real
# Secret Service keyring. Does nothing elsewhere or when everything is present.
set -e
[ "$(uname -s)" = "Linux" ] || exit 0
QT_CORE="libegl1 libgl1 libfontconfig1 libfreetype6 libglib2.0-0 libdbus-1-3 libzstd1 fonts-dejavu-core"
QT_XCB="libx11-6 libx11-xcb1 libxcb1 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1
 libxcb-randr0 libxcb-render0 libxcb-render-util0 libxcb-shape0 libxcb-shm0 libxcb-sync1
 libxcb-util1 libxcb-xfixes0 libxcb-xkb1 libxkbcommon0 libxkbcommon-x11-0"
KEYRING_TEST="dbus gnome-keyring"
PKGS="$QT_CORE $QT_XCB $KEYRING_TEST"
missing=""
for p in $PKGS; do
    # Ubuntu 24.04 renamed some libraries with a t64 suffix (libglib2.0-0t64): either counts.
    for name in "$p" "${p}t64"; do
        dpkg-query -W -f='${Status}' "$name" 2>/dev/null | grep -q "ok installed" && continue 2
    done
    missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
    echo "tvdesk: Qt needs these system libraries:$missing (install them with your package manager)" >&2
    exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
    # A fresh Debian has no sudo unless the installer set it up: say what to run as root.
    if ! command -v sudo >/dev/null 2>&1; then
        echo "tvdesk: Qt needs these system packages:$missing" >&2
        echo "tvdesk: install them as root (su -c '...'), then run make again:" >&2
        echo "    apt-get install --no-install-recommends$missing" >&2
        exit 1
    fi
    SUDO="sudo"
fi
echo "tvdesk: installing system packages for Qt and the keyring test:$missing"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
