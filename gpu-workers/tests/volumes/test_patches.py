"""Patch grid coverage, and blending equal to MONAI (gaussian, constant) and to a direct loop (tent)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.inferers import sliding_window_inference

from hounsfield.data.patches import PatchGrid, axis_starts, blend_weights, sliding_window_reconstruct


def test_last_patch_is_flush_with_the_border() -> None:
    assert axis_starts(604, 128, 96) == [0, 96, 192, 288, 384, 476]
    assert axis_starts(512, 256, 192) == [0, 192, 256]
    assert axis_starts(128, 128, 96) == [0]
    grid = PatchGrid.of((512, 512, 604), (256, 256, 128), (192, 192, 96))
    assert len(grid) == 3 * 3 * 6
    covered = np.zeros(grid.shape, dtype=bool)
    for position in grid.positions():
        covered[grid.slices(position)] = True
    assert covered.all()


def test_patch_larger_than_volume_is_refused() -> None:
    with pytest.raises(ValueError, match="larger than the volume"):
        PatchGrid.of((100, 100, 60), (64, 64, 64), (48, 48, 48))


def _predictor() -> torch.nn.Module:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv3d(1, 2, 3, padding=1), torch.nn.Tanh())
    return net.eval()


@pytest.mark.parametrize("mode", ["gaussian", "constant"])
def test_equals_monai_sliding_window_inference(mode: str) -> None:
    volume = torch.randn(2, 1, 41, 37, 30, generator=torch.Generator().manual_seed(1))
    patch = (16, 16, 12)
    stride = tuple(int(p * 0.75) for p in patch)
    net = _predictor()
    ours = sliding_window_reconstruct(volume, net, patch, stride, mode=mode, patches_in_flight=3)  # type: ignore[arg-type]
    with torch.no_grad():
        theirs = sliding_window_inference(
            volume, patch, sw_batch_size=3, predictor=net, overlap=0.25, mode=mode, sigma_scale=0.125
        )
    assert isinstance(theirs, torch.Tensor)
    assert ours.shape == (2, 2, 41, 37, 30)
    assert (ours - theirs).abs().max().item() <= 1e-5


def test_tent_blending_matches_a_direct_loop() -> None:
    rng = np.random.default_rng(2)
    volume = torch.from_numpy(rng.normal(size=(1, 1, 20, 18, 15)).astype(np.float32))
    patch, stride = (8, 8, 6), (5, 6, 4)

    def predictor(x: torch.Tensor) -> torch.Tensor:
        ramp = torch.arange(8, dtype=torch.float32)[:, None, None]  # position-dependent, so blending matters
        return x * 2 + ramp

    ours = sliding_window_reconstruct(volume, predictor, patch, stride, mode="tent").numpy()[0, 0]
    # reference: numpy accumulation with tent weights written out per voxel
    weights = np.zeros(patch)
    for idx in np.ndindex(*patch):
        w = 1.0
        for i, n in zip(idx, patch, strict=True):
            w *= min(i + 1, n - i) / np.ceil(n / 2)
        weights[idx] = w
    weights = np.maximum(weights, max(weights.min(), 1e-3))
    total, norm = np.zeros(volume.shape[2:]), np.zeros(volume.shape[2:])
    v = volume.numpy()[0, 0].astype(np.float64)
    for position in PatchGrid.of(v.shape, patch, stride).positions():
        sl = tuple(slice(p, p + n) for p, n in zip(position, patch, strict=True))
        total[sl] += weights * (v[sl] * 2 + np.arange(8)[:, None, None])
        norm[sl] += weights
    assert np.abs(ours - total / norm).max() < 1e-5
    assert blend_weights(patch, "tent").max().item() == pytest.approx(1.0)


def test_constant_prediction_is_reproduced_everywhere() -> None:
    volume = torch.zeros(1, 1, 30, 30, 30)
    out = sliding_window_reconstruct(volume, lambda x: x + 3.0, 16, 12, mode="gaussian", patches_in_flight=1)
    assert torch.allclose(out, torch.full_like(out, 3.0))
