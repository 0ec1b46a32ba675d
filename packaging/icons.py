"""Render tvdesk/resources/tvdesk.svg into the app icons PyInstaller embeds: .ico and .icns.

    python packaging/icons.py OUT_DIR      # writes OUT_DIR/tvdesk.ico and OUT_DIR/tvdesk.icns

Both formats are containers of PNG images, written here with the standard library,
so the build needs neither Pillow nor Apple's iconutil. Qt (already a dependency)
renders the SVG, offscreen. Linux has no embedded icon: the window sets its own
from the SVG, and packaging/tvdesk.desktop names it for menus.
"""

from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SVG = ROOT / "tvdesk" / "resources" / "tvdesk.svg"
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
# ICNS element types holding PNG data, by pixel size.
ICNS_TYPES = {16: b"icp4", 32: b"icp5", 64: b"icp6", 128: b"ic07", 256: b"ic08", 512: b"ic09"}
ICNS_RETINA = {1024: b"ic10"}  # 512@2x


def render_pngs(svg: Path, sizes: set[int]) -> dict[int, bytes]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication([])  # noqa: F841 (Qt needs one)
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"icons: cannot render {svg}")
    pngs = {}
    for size in sorted(sizes):
        image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        data = QByteArray()
        buffer = QBuffer(data)
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        image.save(buffer, "PNG")
        buffer.close()
        pngs[size] = bytes(data.data())
    return pngs


def ico_bytes(pngs: dict[int, bytes]) -> bytes:
    """A Windows .ico whose images are PNGs (Windows Vista and later read these)."""
    sizes = sorted(pngs)
    header = struct.pack("<HHH", 0, 1, len(sizes))
    offset = len(header) + 16 * len(sizes)
    entries, blobs = b"", b""
    for size in sizes:
        png = pngs[size]
        dim = 0 if size >= 256 else size  # 0 means 256
        entries += struct.pack("<BBBBHHII", dim, dim, 0, 0, 1, 32, len(png), offset)
        blobs += png
        offset += len(png)
    return header + entries + blobs


def icns_bytes(pngs: dict[int, bytes]) -> bytes:
    """A macOS .icns of PNG elements."""
    body = b""
    for size, kind in {**ICNS_TYPES, **ICNS_RETINA}.items():
        if size in pngs:
            body += kind + struct.pack(">I", 8 + len(pngs[size])) + pngs[size]
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def write_icons(out_dir: Path, svg: Path = SVG) -> tuple[Path, Path]:
    sizes = set(ICO_SIZES) | set(ICNS_TYPES) | set(ICNS_RETINA)
    pngs = render_pngs(svg, sizes)
    out_dir.mkdir(parents=True, exist_ok=True)
    ico, icns = out_dir / "tvdesk.ico", out_dir / "tvdesk.icns"
    ico.write_bytes(ico_bytes({s: pngs[s] for s in ICO_SIZES}))
    icns.write_bytes(icns_bytes(pngs))
    return ico, icns


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    for path in write_icons(Path(sys.argv[1])):
        print(path)
