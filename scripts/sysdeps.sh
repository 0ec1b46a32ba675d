#!/bin/sh
# Installs what the tests need from the system on Debian/Ubuntu when it is
# missing: the libraries Qt needs (offscreen GUI tests, the window), and
# gnome-keyring + dbus for the test against a real Secret Service keyring.
# Does nothing elsewhere or when everything is present.
set -e
[ "$(uname -s)" = "Linux" ] || exit 0
PKGS="libegl1 libgl1 libfontconfig1 libxkbcommon0 libglib2.0-0 libdbus-1-3 fonts-dejavu-core libxcb-cursor0 dbus gnome-keyring"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
    echo "tvdesk: Qt needs these system libraries:$missing (install them with your package manager)" >&2
    exit 0
fi
SUDO=""
[ "$(id -u)" = "0" ] || SUDO="sudo"
echo "tvdesk: installing system packages for Qt and the keyring test:$missing"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
