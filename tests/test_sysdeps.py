"""scripts/sysdeps.sh installs every system library Qt's xcb platform plugin links.

The truth comes from the plugin itself: the ELF NEEDED entries of libqxcb.so, of
libQt6XcbQpa.so.6 and of the Qt libraries under them. Whatever is not shipped inside the
PySide6 wheel must come from a Debian package that sysdeps.sh installs (or from the base
system). A library a new Qt starts needing is missing from SONAME_PACKAGE below and fails
here, instead of crashing `make run` with a message that blames another library.
"""

from __future__ import annotations

import os
import re
import struct
import subprocess
from pathlib import Path

import PySide6

ROOT = Path(__file__).resolve().parent.parent
SYSDEPS = ROOT / "scripts" / "sysdeps.sh"
QT = Path(PySide6.__file__).parent / "Qt"
LINKED = [
    QT / "plugins" / "platforms" / "libqxcb.so",
    QT / "lib" / "libQt6XcbQpa.so.6",
    QT / "lib" / "libQt6Gui.so.6",
    QT / "lib" / "libQt6Core.so.6",
    QT / "lib" / "libQt6DBus.so.6",
]

# soname -> the Debian/Ubuntu package that provides it (packages.debian.org, dpkg -S).
SONAME_PACKAGE = {
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libdbus-1.so.3": "libdbus-1-3",
    "libzstd.so.1": "libzstd1",
    "libz.so.1": "zlib1g",
    "libX11.so.6": "libx11-6",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libxcb.so.1": "libxcb1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libstdc++.so.6": "libstdc++6",
    "libgcc_s.so.1": "libgcc-s1",
    "libc.so.6": "libc6",
    "libm.so.6": "libc6",
    "ld-linux-x86-64.so.2": "libc6",
    "ld-linux-aarch64.so.1": "libc6",
}
# On every Debian and Ubuntu system (apt and dpkg themselves need them).
BASE_SYSTEM = {"libc6", "libgcc-s1", "libstdc++6", "zlib1g"}

DT_NEEDED, SHT_DYNAMIC = 1, 6


def elf_needed(path: Path) -> list[str]:
    """The DT_NEEDED sonames of an ELF file, read from its dynamic section (no binutils:
    a bare desktop has no readelf)."""
    data = path.read_bytes()
    assert data[:4] == b"\x7fELF", f"{path} is not an ELF file"
    wide, order = data[4] == 2, "<" if data[5] == 1 else ">"
    if wide:
        shoff, shentsize, shnum = (
            struct.unpack_from(order + "Q", data, 0x28)[0],
            *struct.unpack_from(order + "HH", data, 0x3A),
        )
        section, dyn = order + "IIQQQQIIQQ", order + "qQ"
    else:
        shoff, shentsize, shnum = (
            struct.unpack_from(order + "I", data, 0x20)[0],
            *struct.unpack_from(order + "HH", data, 0x2E),
        )
        section, dyn = order + "IIIIIIIIII", order + "iI"
    sections = [struct.unpack_from(section, data, shoff + i * shentsize) for i in range(shnum)]
    needed = []
    for _, kind, _, _, offset, size, link, *_ in sections:
        if kind != SHT_DYNAMIC:
            continue
        strtab = sections[link][4]
        for at in range(offset, offset + size, struct.calcsize(dyn)):
            tag, value = struct.unpack_from(dyn, data, at)
            if tag == DT_NEEDED:
                end = data.index(b"\0", strtab + value)
                needed.append(data[strtab + value : end].decode())
    return needed


def installed_by_sysdeps() -> set[str]:
    """The package names sysdeps.sh checks and installs (its PKGS, variables expanded)."""
    text = SYSDEPS.read_text()
    values = dict(re.findall(r'^(\w+)="([^"]*)"', text, re.MULTILINE))
    expanded = re.sub(r"\$(\w+)", lambda m: values[m.group(1)], values["PKGS"])
    return set(expanded.split())


def test_elf_reader_agrees_with_the_plugin_loader():
    needed = elf_needed(LINKED[0])
    assert "libQt6XcbQpa.so.6" in needed
    assert "libxcb-icccm.so.4" in needed


def test_every_library_the_xcb_plugin_links_is_installed_by_sysdeps():
    shipped = {path.name for path in (QT / "lib").iterdir()}
    system = {
        soname
        for lib in LINKED
        for soname in elf_needed(lib)
        if soname not in shipped  # Qt's own libraries and ICU come with the wheel
    }
    unknown = sorted(system - SONAME_PACKAGE.keys())
    assert not unknown, (
        f"Qt now links {unknown}: add the Debian package of each to scripts/sysdeps.sh "
        "and to SONAME_PACKAGE here"
    )
    installs = installed_by_sysdeps()
    missing = {
        soname: SONAME_PACKAGE[soname]
        for soname in sorted(system)
        if SONAME_PACKAGE[soname] not in installs | BASE_SYSTEM
    }
    assert not missing, f"scripts/sysdeps.sh does not install {missing}"


def test_sysdeps_installs_exactly_what_is_missing(tmp_path):
    """On a box that lacks the two libraries of the issue, apt-get is asked for both."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "apt.log"
    (bin_dir / "dpkg-query").write_text(
        '#!/bin/sh\ncase "$3" in libxcb-icccm4*|libxcb-keysyms1*) exit 1;; esac\n'
        'printf "install ok installed"\n'
    )
    (bin_dir / "apt-get").write_text(f'#!/bin/sh\necho "$@" >> {log}\n')
    (bin_dir / "id").write_text("#!/bin/sh\necho 0\n")
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    done = subprocess.run(["sh", str(SYSDEPS)], env=env, capture_output=True, text=True, check=True)
    assert "libxcb-icccm4 libxcb-keysyms1" in done.stdout
    install = [line for line in log.read_text().splitlines() if "install" in line]
    assert install and install[0].split()[-2:] == ["libxcb-icccm4", "libxcb-keysyms1"]


def test_sysdeps_does_nothing_when_everything_is_present(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "apt.log"
    (bin_dir / "dpkg-query").write_text('#!/bin/sh\nprintf "install ok installed"\n')
    (bin_dir / "apt-get").write_text(f'#!/bin/sh\necho "$@" >> {log}\n')
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    done = subprocess.run(["sh", str(SYSDEPS)], env=env, capture_output=True, text=True, check=True)
    assert done.stdout == "" and not log.exists()


def test_sysdeps_counts_ubuntu_t64_renames_as_installed(tmp_path):
    """Ubuntu 24.04 ships libglib2.0-0 as libglib2.0-0t64: apt is not asked every run."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "apt.log"
    (bin_dir / "dpkg-query").write_text(
        '#!/bin/sh\ncase "$3" in libglib2.0-0) exit 1;; esac\nprintf "install ok installed"\n'
    )
    (bin_dir / "apt-get").write_text(f'#!/bin/sh\necho "$@" >> {log}\n')
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    done = subprocess.run(["sh", str(SYSDEPS)], env=env, capture_output=True, text=True, check=True)
    assert done.stdout == "" and not log.exists()
