"""CT intensity windowing: clip Hounsfield units to a window and scale to [0, 1] or [-1, 1].

A window is given by its level (centre) and width, as on a radiology workstation, so a voxel at
``level - width/2`` maps to the low end and one at ``level + width/2`` to the high end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

OutputRange = Literal["0,1", "-1,1"]


@dataclass(frozen=True)
class Window:
    """A HU window: ``level`` (centre) and ``width``, both in HU."""

    level: float
    width: float

    @property
    def low(self) -> float:
        return self.level - self.width / 2

    @property
    def high(self) -> float:
        return self.level + self.width / 2


#: Common CT presets (level, width in HU). ``full`` keeps air to dense bone (-1024..3071, 12 bits).
WINDOW_PRESETS: dict[str, Window] = {
    "full": Window(level=1023.5, width=4095.0),
    "lung": Window(level=-600.0, width=1500.0),
    "mediastinum": Window(level=50.0, width=350.0),
    "soft-tissue": Window(level=40.0, width=400.0),
    "bone": Window(level=400.0, width=1800.0),
    "ctpa": Window(level=100.0, width=700.0),
}


def resolve_window(window: str | Window) -> Window:
    """A preset by name, or the window itself; an unknown name lists the presets."""
    if isinstance(window, Window):
        if window.width <= 0:
            raise ValueError(f"window width must be > 0, got {window.width}")
        return window
    try:
        return WINDOW_PRESETS[window]
    except KeyError:
        raise ValueError(
            f"unknown window preset {window!r}; choose from {', '.join(WINDOW_PRESETS)}"
        ) from None


def apply_window(
    hu: npt.ArrayLike, window: str | Window, output_range: OutputRange = "0,1"
) -> npt.NDArray[np.float32]:
    """Clip ``hu`` to the window and scale linearly to ``output_range`` (float32)."""
    w = resolve_window(window)
    x = np.asarray(hu, dtype=np.float32)
    scaled = (np.clip(x, w.low, w.high) - np.float32(w.low)) / np.float32(w.width)
    return scaled * 2 - 1 if output_range == "-1,1" else scaled


def invert_window(
    values: npt.NDArray[Any], window: str | Window, output_range: OutputRange = "0,1"
) -> npt.NDArray[np.float32]:
    """Map windowed values back to HU (inside the window; clipped values stay at its ends)."""
    w = resolve_window(window)
    x = np.asarray(values, dtype=np.float32)
    unit = (x + 1) / 2 if output_range == "-1,1" else x
    return (unit * np.float32(w.width) + np.float32(w.low)).astype(np.float32)


def output_data_range(output_range: OutputRange) -> float:
    """The span of windowed values (the ``data_range`` of PSNR/SSIM on them)."""
    return 2.0 if output_range == "-1,1" else 1.0
