"""PSNR and 3-D SSIM against straightforward float64 implementations and scikit-image."""

import math

import numpy as np
import pytest
from scipy import ndimage
from skimage.metrics import structural_similarity

from hounsfield.evaluation import EvaluationError, EvaluationErrorCode, psnr, ssim3d


def reference_ssim(x: np.ndarray, y: np.ndarray, data_range: float) -> float:
    """Wang et al. with scipy's Gaussian filter in float64, averaged away from the 5-voxel border."""
    x, y = x.astype(np.float64), y.astype(np.float64)

    def blur(v: np.ndarray) -> np.ndarray:
        return ndimage.gaussian_filter(v, sigma=1.5, truncate=3.5, mode="reflect")

    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return float(s[5:-5, 5:-5, 5:-5].mean())


def test_psnr_matches_formula(rng: np.random.Generator) -> None:
    x = rng.uniform(size=(10, 11, 12))
    y = x + rng.normal(scale=0.05, size=x.shape)
    mse = np.mean((x - y) ** 2)
    assert psnr(y, x, 1.0) == pytest.approx(10 * np.log10(1.0 / mse), rel=1e-12)
    assert psnr(y.astype(np.float32), x, 2.0) == pytest.approx(
        10 * np.log10(4.0 / np.mean((y.astype(np.float32).astype(np.float64) - x) ** 2)), rel=1e-12
    )


def test_psnr_identical_is_infinite() -> None:
    x = np.ones((4, 4, 4))
    assert psnr(x, x, 1.0) == math.inf


def test_ssim_matches_float64_reference(rng: np.random.Generator) -> None:
    x = ndimage.gaussian_filter(rng.uniform(size=(24, 20, 30)), 1.0)
    y = np.clip(x + rng.normal(scale=0.05, size=x.shape), 0, 1)
    expected = reference_ssim(x, y, 1.0)
    assert ssim3d(y, x, 1.0) == pytest.approx(expected, abs=1e-12)
    assert ssim3d(y, x, 1.0, slab=3) == pytest.approx(expected, abs=1e-12)


def test_ssim_matches_scikit_image(rng: np.random.Generator) -> None:
    x = rng.uniform(size=(16, 18, 20))
    y = np.clip(x + rng.normal(scale=0.1, size=x.shape), 0, 1)
    expected = structural_similarity(
        x, y, data_range=1.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
    )
    assert ssim3d(x, y, 1.0) == pytest.approx(expected, abs=1e-10)


def test_ssim_identical_volumes_score_one() -> None:
    ramp = np.arange(12 * 13 * 14, dtype=np.float64).reshape(12, 13, 14) / 2000
    assert ssim3d(ramp, ramp, 1.0) == pytest.approx(1.0, abs=1e-12)
    constant = np.full((11, 11, 11), 0.3)
    assert ssim3d(constant, constant, 1.0) == 1.0


def test_ssim_refuses_volumes_smaller_than_the_window() -> None:
    with pytest.raises(EvaluationError) as raised:
        ssim3d(np.zeros((10, 20, 20)), np.zeros((10, 20, 20)), 1.0)
    assert raised.value.code is EvaluationErrorCode.VOLUME_TOO_SMALL


def test_refuses_non_positive_data_range() -> None:
    with pytest.raises(EvaluationError) as raised:
        psnr(np.zeros((3, 3, 3)), np.ones((3, 3, 3)), 0.0)
    assert raised.value.code is EvaluationErrorCode.INVALID_ARGUMENT
