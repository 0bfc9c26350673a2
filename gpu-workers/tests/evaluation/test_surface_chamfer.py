"""The surface Chamfer distance of the implant reports, against Chamfer distance on explicit point lists."""

import numpy as np
import pytest
from scipy import ndimage

from hounsfield.evaluation import chamfer_distance, surface_chamfer
from hounsfield.evaluation.inputs import volume_diagonal_mm


def _surface_points_mm(mask: np.ndarray, spacing: tuple[float, float, float]) -> np.ndarray:
    """Surface voxel centres in mm, written out point by point: the reference."""
    eroded = ndimage.binary_erosion(mask, structure=ndimage.generate_binary_structure(3, 1), border_value=0)
    return np.argwhere(mask & ~eroded).astype(np.float64) * np.asarray(spacing)


def _ball(shape: tuple[int, int, int], centre: tuple[float, float, float], radius: float) -> np.ndarray:
    grid = np.indices(shape).astype(np.float64)
    return sum((g - c) ** 2 for g, c in zip(grid, centre, strict=True)) <= radius**2


@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (0.5, 0.8, 2.0)])
def test_it_equals_chamfer_distance_of_the_surface_point_lists(spacing: tuple[float, float, float]) -> None:
    rng = np.random.default_rng(3)
    pred = _ball((24, 26, 20), (11.0, 12.0, 9.0), 6.0) & (rng.random((24, 26, 20)) > 0.05)
    truth = _ball((24, 26, 20), (12.5, 13.0, 10.0), 5.5)
    expected = chamfer_distance(_surface_points_mm(pred, spacing), _surface_points_mm(truth, spacing))
    assert surface_chamfer(pred, truth, spacing) == pytest.approx(expected, rel=1e-12)
    assert surface_chamfer(truth, pred, spacing) == pytest.approx(expected, rel=1e-12)


def test_identical_masks_score_zero_and_empty_masks_follow_hd95s_conventions() -> None:
    ball = _ball((16, 16, 16), (8.0, 8.0, 8.0), 4.0)
    empty = np.zeros_like(ball)
    assert surface_chamfer(ball, ball, 1.0) == 0.0
    assert surface_chamfer(empty, empty, 1.0) == 0.0
    assert surface_chamfer(ball, empty, (1.0, 2.0, 1.0)) == volume_diagonal_mm(ball.shape, (1.0, 2.0, 1.0))
