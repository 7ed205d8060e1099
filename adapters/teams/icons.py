"""The app package's two icons, drawn in code: a 192×192 color icon and a 32×32 outline icon.

Teams wants a full-color PNG (192×192, background filled) and a transparent PNG outline
(32×32, white only). They are drawn here with a few lines of geometry and written with zlib,
rather than adding an imaging library for two small files: a white speech bubble on the
accent color, and the same bubble's outline.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable

ACCENT = "#4F46E5"
Pixel = tuple[int, int, int, int]


def color_icon() -> bytes:
    size = 192
    accent = _rgb(ACCENT)

    def pixel(x: float, y: float) -> Pixel:
        return (255, 255, 255, 255) if _in_bubble(x / size, y / size) else (*accent, 255)

    return png(size, pixel)


def outline_icon() -> bytes:
    size = 32

    def pixel(x: float, y: float) -> Pixel:
        u, v, edge = x / size, y / size, 1.6 / size
        inside = _in_bubble(u, v)
        near_out = any(
            not _in_bubble(u + du, v + dv) for du in (-edge, edge) for dv in (-edge, edge)
        )
        return (255, 255, 255, 255) if inside and near_out else (0, 0, 0, 0)

    return png(size, pixel)


def _in_bubble(u: float, v: float) -> bool:
    """A rounded speech bubble in the unit square, with its tail at the bottom left."""
    body = ((u - 0.5) / 0.36) ** 2 + ((v - 0.45) / 0.28) ** 2 <= 1.0
    tail = 0.24 <= u <= 0.42 and 0.6 <= v <= 0.82 and (u - 0.24) >= (v - 0.6) * 0.8
    return body or tail


def png(size: int, pixel: Callable[[float, float], Pixel]) -> bytes:
    """An RGBA PNG of `size`×`size`, each pixel sampled at its centre."""
    rows = bytearray()
    for y in range(size):
        rows.append(0)  # filter: none
        for x in range(size):
            rows.extend(pixel(x + 0.5, y + 0.5))
    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + _chunk(b"IEND", b"")
    )


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def _rgb(color: str) -> tuple[int, int, int]:
    value = int(color.lstrip("#"), 16)
    return (value >> 16) & 255, (value >> 8) & 255, value & 255
