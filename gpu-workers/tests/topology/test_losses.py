"""Every loss term against a direct numpy computation on hand-made volumes; label 2 is ignored."""

import numpy as np
import pytest
import torch
from scipy import ndimage
from skimage.morphology import skeletonize

from hounsfield.evaluation.topology import morphological_skeleton
from hounsfield.recipes.topo_unet.labelmaps import signed_distance, skeleton_tube
from hounsfield.recipes.topo_unet.losses import (
    Targets,
    loss_terms,
    skeleton_recall,
    soft_cldice,
    soft_dice,
    soft_skeleton,
    surface_loss,
    weighted_bce,
)

ALL = {"bce": 1.0, "dice": 1.0, "cldice": 1.0, "skeleton_recall": 1.0, "surface": 1.0}


def _case(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A curved two-voxel sheet, an unlabelled slab, and random logits."""
    rng = np.random.default_rng(seed)
    labels = np.zeros((12, 16, 16), np.uint8)
    for y in range(16):
        x = 5 + int(round(2 * np.sin(y / 3)))
        labels[x : x + 2, y, 2:14] = 1
    labels[:, :, 13:] = 2
    logits = rng.normal(0, 2, size=labels.shape)
    return labels, logits


def _targets(labels: np.ndarray) -> Targets:
    t = lambda a: torch.from_numpy(np.asarray(a, dtype=np.float32))[None, None]  # noqa: E731
    return Targets(
        labels=torch.from_numpy(labels)[None, None],
        skeleton_tube=t(skeleton_tube(labels, 1)),
        signed_distance=t(signed_distance(labels, 10.0)),
    )


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def test_weighted_bce_matches_a_direct_formula() -> None:
    labels, logits = _case()
    valid, g, p = labels != 2, (labels == 1).astype(float), _sigmoid(logits)
    per_voxel = -(3.0 * g * np.log(p) + (1 - g) * np.log(1 - p))
    expected = per_voxel[valid].mean()
    ours = weighted_bce(torch.from_numpy(logits)[None, None].float(), _targets(labels), 3.0)
    assert float(ours) == pytest.approx(expected, rel=1e-4)


def test_soft_dice_matches_a_direct_formula() -> None:
    labels, logits = _case()
    valid, g, p = labels != 2, labels == 1, _sigmoid(logits)
    expected = 1 - (2 * (p * g)[valid].sum() + 1) / (p[valid].sum() + g[valid].sum() + 1)
    ours = soft_dice(torch.from_numpy(p)[None, None].float(), _targets(labels))
    assert float(ours) == pytest.approx(expected, rel=1e-5)


def test_soft_skeleton_of_a_binary_volume_is_the_morphological_skeleton() -> None:
    """The reference definition's operators (cross erosion, cube dilation) reproduced with scipy."""
    rng = np.random.default_rng(3)
    blob = ndimage.gaussian_filter(rng.standard_normal((14, 15, 16)), 1.5) > 0.2
    soft = soft_skeleton(torch.from_numpy(blob.astype(np.float32))[None, None], iterations=20)[0, 0].numpy()
    np.testing.assert_array_equal(soft > 0.5, morphological_skeleton(blob))
    assert set(np.unique(soft)) <= {0.0, 1.0}


def test_a_thin_sheet_is_its_own_skeleton_where_lee_thinning_deletes_it() -> None:
    plate = np.zeros((10, 20, 20), bool)
    plate[4:6, 2:18, 2:18] = True
    assert not skeletonize(plate).any()  # why the surface family does not use Lee's curve skeleton
    assert morphological_skeleton(plate).sum() >= plate.sum() // 2


def _soft_skeleton_numpy(x: np.ndarray, iterations: int) -> np.ndarray:
    """Grey-level minimum/maximum filters: the same definition written independently."""

    def erode(v: np.ndarray) -> np.ndarray:
        return np.minimum.reduce(
            [ndimage.minimum_filter(v, size=s, mode="nearest") for s in ((3, 1, 1), (1, 3, 1), (1, 1, 3))]
        )

    def opened(v: np.ndarray) -> np.ndarray:
        return ndimage.maximum_filter(erode(v), size=3, mode="nearest")

    skel = np.maximum(x - opened(x), 0)
    for _ in range(iterations):
        x = erode(x)
        delta = np.maximum(x - opened(x), 0)
        skel = skel + np.maximum(delta - skel * delta, 0)
    return skel


def test_soft_cldice_matches_a_direct_computation() -> None:
    labels, logits = _case(1)
    valid, g, p = (labels != 2), (labels == 1).astype(float), _sigmoid(logits)
    p_masked = p * valid
    skel_p = _soft_skeleton_numpy(p_masked, 3) * valid
    skel_g = _soft_skeleton_numpy(g, 3) * valid
    tprec = ((skel_p * g).sum() + 1) / (skel_p.sum() + 1)
    tsens = ((skel_g * p_masked).sum() + 1) / (skel_g.sum() + 1)
    expected = 1 - 2 * tprec * tsens / (tprec + tsens)
    ours = soft_cldice(torch.from_numpy(p)[None, None].float(), _targets(labels), iterations=3)
    assert float(ours) == pytest.approx(expected, rel=1e-4)


def test_skeleton_recall_matches_a_direct_formula() -> None:
    labels, logits = _case(2)
    p = _sigmoid(logits)
    tube = ndimage.binary_dilation(
        morphological_skeleton(labels == 1), ndimage.generate_binary_structure(3, 3)
    ) & (labels != 2)
    expected = 1 - ((p * tube).sum() + 1) / (tube.sum() + 1)
    ours = skeleton_recall(torch.from_numpy(p)[None, None].float(), _targets(labels))
    assert float(ours) == pytest.approx(expected, rel=1e-5)


def test_surface_loss_matches_a_direct_formula_and_is_lowest_on_the_sheet() -> None:
    labels, logits = _case(3)
    valid, g = labels != 2, labels == 1
    phi = np.clip(ndimage.distance_transform_edt(~g) - ndimage.distance_transform_edt(g), -10, 10) / 10
    p = _sigmoid(logits)
    expected = (p * phi)[valid].mean()
    targets = _targets(labels)
    ours = surface_loss(torch.from_numpy(p)[None, None].float(), targets)
    assert float(ours) == pytest.approx(expected, abs=2e-3)  # φ is stored as float16
    perfect = surface_loss(torch.from_numpy(g.astype(np.float32))[None, None], targets)
    assert float(perfect) < 0 < float(ours)


def test_every_term_ignores_label_two() -> None:
    labels, logits = _case(4)
    other = logits.copy()
    other[labels == 2] = np.random.default_rng(9).normal(0, 5, size=int((labels == 2).sum()))
    targets = _targets(labels)
    a = loss_terms(torch.from_numpy(logits)[None, None].float(), targets, 2.0, 3, ALL)
    b = loss_terms(torch.from_numpy(other)[None, None].float(), targets, 2.0, 3, ALL)
    assert set(a) == set(ALL)
    for name in ALL:
        assert float(a[name]) == pytest.approx(float(b[name]), abs=1e-6), name


def test_ignored_voxels_get_no_gradient() -> None:
    labels, logits = _case(5)
    x = torch.from_numpy(logits)[None, None].float().requires_grad_(True)
    total = sum(loss_terms(x, _targets(labels), 2.0, 3, ALL).values())
    assert isinstance(total, torch.Tensor)
    total.backward()
    assert x.grad is not None
    ignored = torch.from_numpy(labels == 2)[None, None]
    assert float(x.grad[ignored].abs().max()) == 0.0
    assert float(x.grad[~ignored].abs().max()) > 0.0


def test_zero_weight_terms_are_not_computed() -> None:
    labels, logits = _case()
    terms = loss_terms(
        torch.from_numpy(logits)[None, None].float(),
        _targets(labels),
        1.0,
        3,
        {"bce": 1.0, "dice": 1.0, "cldice": 0.0},
    )
    assert set(terms) == {"bce", "dice"}
