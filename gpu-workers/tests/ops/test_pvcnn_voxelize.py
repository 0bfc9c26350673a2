"""Voxelization and trilinear devoxelization against the loop references."""

import numpy as np
import torch

from hounsfield.ops import avg_voxelize, normalize_voxel_coords, trilinear_devoxelize, voxelize
from hounsfield.ops.reference import avg_voxelize_loop, normalize_voxel_coords_loop, trilinear_devoxelize_loop


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_coordinate_normalisation_matches_pvcnn() -> None:
    coords = torch.randn(2, 3, 50, generator=_gen(0)) * 3 + 1
    for normalize in (True, False):
        got = normalize_voxel_coords(coords, 8, normalize=normalize)
        np.testing.assert_allclose(got.numpy(), normalize_voxel_coords_loop(coords, 8, normalize), atol=1e-5)
    got = normalize_voxel_coords(coords, 8)
    assert got.min() >= 0 and got.max() <= 7
    assert torch.isfinite(normalize_voxel_coords(torch.ones(1, 3, 4), 8)).all()


def test_average_voxelization_matches_loop() -> None:
    coords = torch.rand(2, 3, 300, generator=_gen(1))
    features = torch.randn(2, 5, 300, generator=_gen(2))
    grid, vc = voxelize(features, coords, 6)
    assert grid.shape == (2, 5, 6, 6, 6)
    np.testing.assert_allclose(grid.numpy(), avg_voxelize_loop(features, vc, 6), atol=1e-5)


def test_grid_is_indexed_x_y_z() -> None:
    vc = torch.tensor([[[3.0], [1.0], [0.0]]])  # one point at voxel x=3, y=1, z=0
    grid = avg_voxelize(torch.tensor([[[7.0]]]), vc, 4)
    assert grid[0, 0, 3, 1, 0] == 7.0 and grid.sum() == 7.0
    grid = torch.zeros(1, 1, 4, 4, 4)
    grid[0, 0, 3, 1, 0] = 2.0
    assert trilinear_devoxelize(grid, vc).item() == 2.0


def test_trilinear_devoxelization_matches_loop_including_the_last_plane() -> None:
    r = 5
    grid = torch.randn(2, 4, r, r, r, generator=_gen(3))
    vc = torch.rand(2, 3, 40, generator=_gen(4)) * (r - 1)
    vc[:, :, :4] = torch.tensor([[0.0], [float(r - 1)], [2.0]])  # integer and boundary coordinates
    vc[:, 0, 4] = r - 1
    got = trilinear_devoxelize(grid, vc)
    np.testing.assert_allclose(got.numpy(), trilinear_devoxelize_loop(grid, vc), atol=1e-5)


def test_devoxelize_gradients_flow_to_the_grid_only() -> None:
    grid = torch.randn(1, 2, 3, 3, 3, dtype=torch.float64, generator=_gen(5), requires_grad=True)
    vc = (torch.rand(1, 3, 10, dtype=torch.float64, generator=_gen(6)) * 2).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda g: trilinear_devoxelize(g, vc), (grid,))
    trilinear_devoxelize(grid, vc).sum().backward()
    assert vc.grad is None


def test_sampling_occupied_voxel_centres_returns_their_averages() -> None:
    coords = torch.rand(1, 3, 200, generator=_gen(7))
    grid, vc = voxelize(torch.full((1, 3, 200), 2.5), coords, 8)
    torch.testing.assert_close(trilinear_devoxelize(grid, torch.round(vc)), torch.full((1, 3, 200), 2.5))
