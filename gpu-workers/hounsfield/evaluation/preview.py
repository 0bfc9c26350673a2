"""A case's preview image: three orthogonal slices through the implant, skull grey, implant red.

Served by the gateway (``GET /v1/evaluations/<id>/cases/<case>/preview.png``) so a person can look
at a result from any machine without a NRRD viewer. Encoded here as an 8-bit RGB PNG (zlib only)
so the shards need no imaging library.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np
import numpy.typing as npt

SKULL_GREY = 170
IMPLANT_RGB = (230, 40, 40)
GAP = 4


def preview_rgb(defective: npt.NDArray[np.bool_], implant: npt.NDArray[np.bool_]) -> npt.NDArray[np.uint8]:
    """Slices through the implant's centre (the volume's when empty) along each axis, side by side."""
    if defective.shape != implant.shape or defective.ndim != 3:
        raise ValueError(f"expected two 3-D masks of one shape, got {defective.shape} and {implant.shape}")
    where = np.argwhere(implant)
    centre = where.mean(axis=0).round().astype(int) if len(where) else np.array(implant.shape) // 2
    panels = []
    for axis in range(3):
        skull = np.take(defective, centre[axis], axis=axis)
        mask = np.take(implant, centre[axis], axis=axis)
        panel = np.zeros((*skull.shape, 3), dtype=np.uint8)
        panel[skull] = SKULL_GREY
        panel[mask] = IMPLANT_RGB
        panels.append(panel)
    height = max(p.shape[0] for p in panels)
    padded = [np.pad(p, ((0, height - p.shape[0]), (0, GAP), (0, 0))) for p in panels]
    return np.concatenate(padded, axis=1)[:, :-GAP]


def encode_png(rgb: npt.NDArray[np.uint8]) -> bytes:
    """An RGB image as PNG bytes (filter 0 on every row, one IDAT chunk)."""
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) uint8 image, got {rgb.dtype} {rgb.shape}")
    height, width, _ = rgb.shape
    rows = np.concatenate([np.zeros((height, 1), dtype=np.uint8), rgb.reshape(height, width * 3)], axis=1)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows.tobytes(), 6))
        + chunk(b"IEND", b"")
    )


def preview_png(defective: npt.NDArray[np.bool_], implant: npt.NDArray[np.bool_]) -> bytes:
    return encode_png(preview_rgb(defective, implant))
