"""Per-case scoring of slice interpolation: the trilinear baseline, the metrics and the coronal preview.

References are independent: a per-slice loop for the baseline (and torch's trilinear resize where
it applies), plain numpy for PSNR and scikit-image's SSIM (Gaussian window, population moments).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from hounsfield.data.errors import DataError
from hounsfield.evaluation.slice_interpolation import PREVIEW_GAP, coronal_preview, interpolate_case
from hounsfield.recipes.slice_interp.pairs import PairGeometry, thicken, trilinear_baseline

SPACING = (1.0, 1.0, 1.0)


def reference_baseline(thick: np.ndarray, factor: int, centre: float) -> np.ndarray:
    """Slice by slice: thin slice i sits at thick coordinate (i - centre) / factor, held at the ends."""
    n = thick.shape[-1]
    out = np.empty((*thick.shape[:-1], n * factor))
    for i in range(n * factor):
        p = min(max((i - centre) / factor, 0.0), n - 1.0)
        k = int(math.floor(p))
        k1 = min(k + 1, n - 1)
        out[..., i] = (1 - (p - k)) * thick[..., k].astype(np.float64) + (p - k) * thick[..., k1]
    return out


CENTRES = [(5, "average", 2.0), (4, "average", 1.5), (4, "subsample", 2.0), (3, "subsample", 1.0)]


@pytest.mark.parametrize(("factor", "mode", "centre"), CENTRES)
def test_trilinear_baseline_places_each_thick_slice_at_its_slab(
    factor: int, mode: str, centre: float
) -> None:
    thick = np.random.default_rng(factor).random((5, 6, 7)).astype(np.float32)
    out = trilinear_baseline(thick, factor, mode)  # type: ignore[arg-type]
    assert out.shape == (5, 6, 7 * factor) and out.dtype == np.float32
    np.testing.assert_allclose(out, reference_baseline(thick, factor, centre), atol=1e-6)
    if mode == "average":  # the slab centre is where align_corners=False puts a coarse voxel
        resized = torch.nn.functional.interpolate(
            torch.from_numpy(thick)[None, None], size=out.shape, mode="trilinear", align_corners=False
        )[0, 0].numpy()
        np.testing.assert_allclose(out, resized, atol=1e-6)


def test_the_baseline_restores_a_linear_ramp_between_the_outer_slab_centres() -> None:
    ramp = np.broadcast_to(np.arange(40, dtype=np.float32) / 40, (4, 4, 40))
    out = trilinear_baseline(thicken(ramp, 5, "average"), 5, "average")
    np.testing.assert_allclose(out[..., 2:38], ramp[..., 2:38], atol=1e-6)


GEOMETRY = PairGeometry(thin_spacing_mm=1.0, thick_spacing_mm=2.0, in_plane=(12, 12), thin_slices=16)


def smooth_volume(depth: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x, y, z = np.meshgrid(np.arange(12), np.arange(12), np.arange(depth), indexing="ij")
    field = 0.5 + 0.3 * np.sin(x / 3.0 + rng.random()) * np.cos(z / 2.5) + 0.1 * np.sin(y / 2.0)
    return (field + 0.02 * rng.standard_normal(field.shape)).astype(np.float32)


def test_case_scores_match_numpy_psnr_and_scikit_image_ssim() -> None:
    volume = smooth_volume(16)
    blurred = lambda thick: np.clip(np.repeat(thick, 2, axis=2) * 0.97 + 0.01, 0, 1)  # noqa: E731
    result = interpolate_case(blurred, volume, SPACING, GEOMETRY)
    thin = volume.astype(np.float64)
    model = np.clip(np.repeat(thicken(volume, 2), 2, axis=2) * 0.97 + 0.01, 0, 1).astype(np.float64)
    assert result.metrics["psnr"] == pytest.approx(
        10 * math.log10(1 / np.mean((model - thin) ** 2)), rel=1e-5
    )
    ssim = structural_similarity(model, thin, data_range=1.0, gaussian_weights=True, sigma=1.5,
                                 use_sample_covariance=False)  # fmt: skip
    assert result.metrics["ssim"] == pytest.approx(ssim, abs=1e-4)
    trilinear = reference_baseline(thicken(volume, 2), 2, 0.5)
    assert result.metrics["psnr_trilinear"] == pytest.approx(
        10 * math.log10(1 / np.mean((trilinear - thin) ** 2)), rel=1e-5
    )
    ssim_trilinear = structural_similarity(trilinear, thin, data_range=1.0, gaussian_weights=True, sigma=1.5,
                                           use_sample_covariance=False)  # fmt: skip
    assert result.metrics["ssim_trilinear"] == pytest.approx(ssim_trilinear, abs=1e-4)
    # A model no better than the baseline scores like it; the smooth field favours trilinear over repeats.
    same = interpolate_case(lambda t: trilinear_baseline(t, 2, "average"), volume, SPACING, GEOMETRY)
    assert same.metrics["psnr"] == pytest.approx(same.metrics["psnr_trilinear"])
    assert result.metrics["psnr_trilinear"] > result.metrics["psnr"]


def test_a_long_volume_is_scored_on_every_centred_block_and_the_model_output_is_clipped() -> None:
    volume = smooth_volume(2 * 16 + 3)
    seen: list[tuple[int, ...]] = []

    def overshoot(thick: np.ndarray) -> np.ndarray:
        seen.append(thick.shape)
        return np.repeat(thick, 2, axis=2) * 3 - 1  # far outside [0, 1]

    result = interpolate_case(overshoot, volume, SPACING, GEOMETRY)
    assert seen == [(12, 12, 8), (12, 12, 8)]
    np.testing.assert_array_equal(result.thin, volume[:, :, 1:33])  # blocks at 1 and 17
    assert result.model.min() >= 0 and result.model.max() <= 1
    np.testing.assert_array_equal(
        result.thick_repeated[..., 16:18], np.repeat(thicken(volume[..., 17:33], 2)[..., :1], 2, 2)
    )


def test_volumes_that_do_not_fit_are_refused_naming_the_setting() -> None:
    with pytest.raises(DataError, match="fewer than the checkpoint's thin_slices 16"):
        interpolate_case(lambda t: t, smooth_volume(12), SPACING, GEOMETRY, case_id="P1")
    with pytest.raises(DataError, match="z spacing 2 mm differs from thin_spacing_mm 1.0"):
        interpolate_case(lambda t: t, smooth_volume(16), (1.0, 1.0, 2.0), GEOMETRY)
    with pytest.raises(
        ValueError, match=r"turned thick \(12, 12, 8\) into \(12, 12, 8\), not the thin block's"
    ):
        interpolate_case(lambda t: t, smooth_volume(16), SPACING, GEOMETRY)


def test_the_coronal_preview_shows_each_volume_at_mid_y_superior_up() -> None:
    volume = smooth_volume(16)
    result = interpolate_case(lambda t: trilinear_baseline(t, 2, "average"), volume, SPACING, GEOMETRY)
    image = result.preview
    scale = 10  # 16 slices scaled to at least 160 pixels
    assert image.shape == (16 * scale, 4 * 12 * scale + 3 * PREVIEW_GAP)
    width = 12 * scale + PREVIEW_GAP
    thin_panel = image[::scale, 3 * width :: scale]
    np.testing.assert_array_equal(
        thin_panel, np.round(np.clip(volume[:, 6, ::-1].T, 0, 1) * 255).astype(np.uint8)
    )
    thick_panel = image[::scale, 0 : 12 * scale : scale].astype(int)
    assert np.array_equal(thick_panel[0::2], thick_panel[1::2])  # each thick slice spans its 2-slice slab
    assert not image[:, 12 * scale : 12 * scale + PREVIEW_GAP].any()
    with pytest.raises(ValueError, match="one shape"):
        coronal_preview([volume, volume[:, :, :8]])


def test_the_preview_makes_pixels_about_square_in_mm() -> None:
    volume = smooth_volume(16)
    wide = coronal_preview([volume, volume], spacing_xz=(11.25, 1.0))  # 11 columns per x voxel
    assert wide.shape == (160, 2 * 12 * 11 * 10 + PREVIEW_GAP)
    np.testing.assert_array_equal(wide[::10, : 12 * 110 : 110], coronal_preview([volume])[::10, :120:10])
    tall = coronal_preview([volume], spacing_xz=(0.7, 2.0))  # 3 rows per z slice, then ×4 to 192 rows
    assert tall.shape == (16 * 3 * 4, 12 * 4)
