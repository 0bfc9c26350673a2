"""Dice, clDice, surface Dice, VOI and the composite against direct computations (and MONAI)."""

import math

import cc3d
import numpy as np
import pytest
import torch
from monai.metrics import compute_surface_dice
from scipy import ndimage

from hounsfield.evaluation.errors import EvaluationError
from hounsfield.evaluation.topology import (
    cldice_hard,
    dice_valid,
    skeleton,
    surface_dice,
    topology_report,
    variation_of_information,
)


def _blob(rng: np.random.Generator, shape: tuple[int, int, int]) -> np.ndarray:
    field = ndimage.gaussian_filter(rng.standard_normal(shape), sigma=1.5)
    return np.asarray(field > np.quantile(field, 0.8))


@pytest.mark.parametrize(
    ("seed", "spacing", "tau"),
    [(0, (1.0, 1.0, 1.0), 1.0), (1, (0.5, 1.0, 2.0), 1.5), (2, (1.0, 0.7, 0.7), 2.0)],
)
def test_surface_dice_matches_monai(seed: int, spacing: tuple[float, float, float], tau: float) -> None:
    rng = np.random.default_rng(seed)
    pred, ref = _blob(rng, (20, 22, 18)), _blob(rng, (20, 22, 18))
    ours = surface_dice(pred, ref.astype(np.uint8), tau, spacing)
    monai = compute_surface_dice(
        torch.from_numpy(pred)[None, None].float(),
        torch.from_numpy(ref)[None, None].float(),
        class_thresholds=[tau],
        include_background=True,
        spacing=list(spacing),
    )
    assert ours == pytest.approx(float(monai[0, 0]), abs=1e-6)


def test_surface_dice_empty_conventions_and_bad_tau() -> None:
    empty = np.zeros((5, 5, 5), np.uint8)
    full = np.ones((5, 5, 5), np.uint8)
    assert surface_dice(empty, empty, 1.0) == 1.0
    assert surface_dice(full, empty, 1.0) == 0.0
    with pytest.raises(EvaluationError, match="tau_mm"):
        surface_dice(full, full, -1.0)


def test_label_two_is_ignored_by_every_metric() -> None:
    labels = np.zeros((16, 16, 16), np.uint8)
    labels[8, 2:14, 2:14] = 1
    labels[:, :, 12:] = 2  # unlabelled slab
    pred = labels == 1
    noisy = pred.copy()
    noisy[2:6, 2:6, 13:16] = True  # spurious blob entirely inside the unlabelled region
    assert topology_report(noisy, labels) == topology_report(pred, labels)
    assert dice_valid(noisy, labels) == 1.0


def test_dice_valid_direct() -> None:
    labels = np.array([[[0, 1, 1, 2, 0, 1]]], np.uint8)
    pred = np.array([[[1, 1, 0, 1, 0, 0]]], bool)
    # valid voxels: indices 0,1,2,4,5; P = {0,1}, G = {1,2,5}
    assert dice_valid(pred, labels) == pytest.approx(2 * 1 / (2 + 3))


def test_refused_label_values_name_the_allowed_ones() -> None:
    with pytest.raises(EvaluationError, match="0 \\(background\\), 1 \\(surface\\), 2"):
        dice_valid(np.zeros((2, 2, 2)), np.full((2, 2, 2), 3))


def test_cldice_of_a_broken_tube() -> None:
    """A tube cut in half: all predicted is on the tube (Tprec = 1), half its centreline is missed."""
    labels = np.zeros((9, 9, 41), np.uint8)
    labels[3:6, 3:6, 2:39] = 1
    pred = labels == 1
    half = pred.copy()
    half[:, :, 21:] = False
    assert cldice_hard(pred, labels) == 1.0
    sg = skeleton(labels == 1)
    sp = skeleton(half)
    tsens = np.count_nonzero(sg & half) / np.count_nonzero(sg)
    tprec = np.count_nonzero(sp & (labels == 1)) / np.count_nonzero(sp)
    assert tprec == 1.0 and 0.35 < tsens < 0.65
    assert cldice_hard(half, labels) == pytest.approx(2 * tprec * tsens / (tprec + tsens))


def _voi_by_loops(x: np.ndarray, y: np.ndarray) -> float:
    n = x.size
    joint: dict[tuple[int, int], int] = {}
    for a, b in zip(x.tolist(), y.tolist(), strict=True):
        joint[(a, b)] = joint.get((a, b), 0) + 1
    px: dict[int, int] = {}
    py: dict[int, int] = {}
    for (a, b), c in joint.items():
        px[a] = px.get(a, 0) + c
        py[b] = py.get(b, 0) + c
    voi = 0.0
    for (a, b), c in joint.items():
        p = c / n
        voi -= p * (math.log(p / (px[a] / n)) + math.log(p / (py[b] / n)))
    return voi


def test_voi_matches_a_direct_loop_over_component_labels() -> None:
    rng = np.random.default_rng(5)
    pred = _blob(rng, (14, 14, 14))
    labels = _blob(rng, (14, 14, 14)).astype(np.uint8)
    labels[:3] = 2
    keep = labels != 2
    x = cc3d.connected_components((pred & keep).astype(np.uint8), connectivity=26)[keep]
    y = cc3d.connected_components((labels == 1).astype(np.uint8), connectivity=26)[keep]
    assert variation_of_information(pred, labels) == pytest.approx(_voi_by_loops(x, y), abs=1e-9)
    assert variation_of_information(labels == 1, labels) == pytest.approx(0.0, abs=1e-12)


def test_report_of_a_perfect_prediction() -> None:
    labels = np.zeros((20, 20, 20), np.uint8)
    labels[10, 3:17, 3:17] = 1
    report = topology_report(labels == 1, labels)
    assert report["dice"] == report["cldice"] == report["surface_dice"] == 1.0
    assert report["voi"] == pytest.approx(0.0, abs=1e-12)
    assert report["b0_error"] == report["b1_error"] == report["b2_error"] == 0.0
    assert report["score"] == pytest.approx(1.0)


def test_report_counts_a_hole_as_a_b1_error() -> None:
    labels = np.zeros((20, 20, 20), np.uint8)
    labels[10, 3:17, 3:17] = 1
    pred = labels == 1
    pred[10, 8:11, 8:11] = False  # a hole through the sheet
    report = topology_report(pred, labels)
    assert (report["b0"], report["b1"], report["b2"]) == (1.0, 1.0, 0.0)
    assert report["b1_error"] == 1.0 and report["score"] < 1.0
