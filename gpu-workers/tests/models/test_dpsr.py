"""DPSR against brute-force, float64 and analytic references."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from hounsfield.models.dpsr import DPSR, interpolate, rasterize, solve_poisson_spectral


def _brute_force_rasterize(points: np.ndarray, values: np.ndarray, res: tuple[int, int, int]) -> np.ndarray:
    grid = np.zeros((values.shape[1], *res))
    for p, v in zip(points, values, strict=True):
        x = p * np.asarray(res)
        base = np.floor(x).astype(int)
        frac = x - base
        for corner in itertools.product((0, 1), repeat=3):
            weight = np.prod([frac[d] if corner[d] else 1 - frac[d] for d in range(3)])
            index = tuple((base[d] + corner[d]) % res[d] for d in range(3))
            grid[(slice(None), *index)] += weight * v
    return grid


def _reference_solve(v: np.ndarray, sigma: float) -> np.ndarray:
    """laplace(phi) = div(G v) with explicit DFT matrices and a loop over frequencies (float64)."""
    n = v.shape[1:]
    dft = [np.exp(-2j * np.pi * np.outer(np.arange(m), np.arange(m)) / m) for m in n]
    v_hat = np.einsum("ai,bj,ck,dijk->dabc", dft[0], dft[1], dft[2], v)
    phi_hat = np.zeros(n, dtype=complex)
    for index in itertools.product(*[range(m) for m in n]):
        if index == (0, 0, 0):
            continue
        k = [i if i < m / 2 else i - m for i, m in zip(index, n, strict=True)]  # numpy fftfreq
        derivative = [
            0.0 if (m % 2 == 0 and i == m // 2) else 2 * np.pi * kk
            for i, m, kk in zip(index, n, k, strict=True)
        ]
        laplacian = -sum((2 * np.pi * kk) ** 2 for kk in k)
        lowpass = np.exp(-2 * sigma**2 * sum((kk / m) ** 2 for kk, m in zip(k, n, strict=True)))
        divergence = sum(1j * derivative[d] * v_hat[(d, *index)] for d in range(3))
        phi_hat[index] = divergence * lowpass / laplacian
    phi = np.einsum("ai,bj,ck,abc->ijk", dft[0].conj(), dft[1].conj(), dft[2].conj(), phi_hat) / np.prod(n)
    assert np.abs(phi.imag).max() < 1e-10
    return phi.real


def test_rasterize_matches_a_brute_force_loop() -> None:
    rng = np.random.default_rng(0)
    res = (5, 6, 7)
    points = rng.random((40, 3))
    points[0] = [0.99, 0.999, 0.0]  # wraps around the periodic border
    values = rng.normal(size=(40, 2))
    grid = rasterize(torch.from_numpy(points)[None], torch.from_numpy(values)[None], res)
    np.testing.assert_allclose(grid[0].numpy(), _brute_force_rasterize(points, values, res), atol=1e-12)


def test_interpolate_is_the_adjoint_of_rasterize() -> None:
    gen = torch.Generator().manual_seed(1)
    points = torch.rand(2, 30, 3, generator=gen, dtype=torch.float64)
    values = torch.randn(2, 30, 3, generator=gen, dtype=torch.float64)
    grid = torch.randn(2, 3, 4, 5, 6, generator=gen, dtype=torch.float64)
    lhs = (rasterize(points, values, (4, 5, 6)) * grid).sum()
    rhs = (values * interpolate(grid, points)).sum()
    torch.testing.assert_close(lhs, rhs)
    # at grid nodes interpolation returns the node value
    node = torch.tensor([[[1 / 4, 2 / 5, 3 / 6]]], dtype=torch.float64)
    torch.testing.assert_close(interpolate(grid, node.expand(2, 1, 3))[:, 0], grid[:, :, 1, 2, 3])


@pytest.mark.parametrize("sigma", [0.0, 2.0])
def test_spectral_solver_matches_float64_reference(sigma: float) -> None:
    rng = np.random.default_rng(2)
    v = rng.normal(size=(3, 8, 6, 5))
    reference = _reference_solve(v, sigma)
    in_float64 = solve_poisson_spectral(torch.from_numpy(v)[None], sigma)[0].numpy()
    np.testing.assert_allclose(in_float64, reference, atol=1e-12)
    in_float32 = solve_poisson_spectral(torch.from_numpy(v).float()[None], sigma)[0].numpy()
    np.testing.assert_allclose(in_float32, reference, atol=1e-5 * np.abs(reference).max())


def test_gradient_field_is_integrated_back_to_its_potential() -> None:
    res = (16, 12, 10)
    x, y, z = np.meshgrid(*[np.arange(n) / n for n in res], indexing="ij")
    two_pi = 2 * np.pi
    phi = np.sin(two_pi * x) * np.cos(2 * two_pi * y) + 0.3 * np.cos(3 * two_pi * z)
    grad = np.stack(
        [
            two_pi * np.cos(two_pi * x) * np.cos(2 * two_pi * y),
            -2 * two_pi * np.sin(two_pi * x) * np.sin(2 * two_pi * y),
            -0.9 * two_pi * np.sin(3 * two_pi * z),
        ]
    )
    solved = solve_poisson_spectral(torch.from_numpy(grad)[None], sigma=0.0)[0].numpy()
    np.testing.assert_allclose(solved, phi - phi.mean(), atol=1e-10)


def _sphere(n: int, radius: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    direction = torch.randn(1, n, 3, generator=gen)
    direction = direction / direction.norm(dim=-1, keepdim=True)
    return 0.5 + radius * direction, direction


@pytest.mark.parametrize("resolution", [32, 64])
def test_sphere_field_is_negative_inside_positive_outside(resolution: int) -> None:
    radius = 0.3
    points, normals = _sphere(8_000, radius, seed=3)
    field = DPSR(resolution, sigma=2.0)(points, normals)[0]
    nodes = torch.stack(torch.meshgrid(*[torch.arange(resolution) / resolution] * 3, indexing="ij"), dim=-1)
    distance = (nodes - 0.5).norm(dim=-1)
    assert field[distance < radius - 2 / resolution].max() < 0
    assert field[distance > radius + 2 / resolution].min() > 0
    truth, occupied = distance < radius, field <= 0
    iou = (truth & occupied).sum() / (truth | occupied).sum()
    assert iou > 0.97
    assert field[0, 0, 0].item() == pytest.approx(0.5)
    at_points = interpolate(field[None, None], points)
    assert at_points.mean().abs().item() < 1e-4


def test_gradients_flow_to_points_and_normals() -> None:
    gen = torch.Generator().manual_seed(4)
    points = (0.3 + 0.4 * torch.rand(1, 6, 3, generator=gen, dtype=torch.float64)).requires_grad_()
    normals = torch.randn(1, 6, 3, generator=gen, dtype=torch.float64).requires_grad_()
    dpsr = DPSR((6, 5, 4), sigma=1.0)
    assert torch.autograd.gradcheck(lambda p, n: dpsr(p, n), (points, normals), eps=1e-6, atol=1e-5)


def test_sigma_smooths_the_field() -> None:
    points, normals = _sphere(4_000, 0.25, seed=5)
    sharp = DPSR(32, sigma=0.0)(points, normals)[0]
    smooth = DPSR(32, sigma=4.0)(points, normals)[0]
    roughness = [float((f.diff(dim=0) ** 2).mean()) for f in (sharp, smooth)]
    assert roughness[1] < roughness[0]
    assert math.isfinite(roughness[0])
