"""The preview PNG decodes (with an independent decoder) to the slices a direct numpy indexing gives."""

from __future__ import annotations

import io

import imageio.v3 as iio
import numpy as np

from hounsfield.evaluation.preview import GAP, IMPLANT_RGB, SKULL_GREY, preview_png


def test_preview_shows_the_three_slices_through_the_implant_centre() -> None:
    rng = np.random.default_rng(0)
    defective = rng.random((20, 24, 28)) < 0.3
    implant = np.zeros_like(defective)
    implant[8:13, 10:15, 2:7] = True  # centre (10, 12, 4)
    defective &= ~implant
    image = iio.imread(io.BytesIO(preview_png(defective, implant)), extension=".png")
    assert image.shape == (24, 24 + 28 + 28 + 2 * GAP, 3)

    def expected(skull: np.ndarray, mask: np.ndarray) -> np.ndarray:
        out = np.zeros((*skull.shape, 3), dtype=np.uint8)
        for i in range(skull.shape[0]):
            for j in range(skull.shape[1]):
                out[i, j] = IMPLANT_RGB if mask[i, j] else (SKULL_GREY,) * 3 if skull[i, j] else (0, 0, 0)
        return out

    axial = expected(defective[10], implant[10])
    coronal = expected(defective[:, 12], implant[:, 12])
    sagittal = expected(defective[:, :, 4], implant[:, :, 4])
    np.testing.assert_array_equal(image[:24, :28], axial)
    np.testing.assert_array_equal(image[:20, 28 + GAP : 56 + GAP], coronal)
    np.testing.assert_array_equal(image[:20, 56 + 2 * GAP :], sagittal)
    assert not image[20:, 28 + GAP :].any()  # the shorter panels are padded with black
