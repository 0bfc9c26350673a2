"""Marching cubes + area-weighted sampling, and the cache that makes it a one-time cost."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from hounsfield.data import dense_samples
from hounsfield.data.dense_samples import DenseSamplingConfig, DenseSurfaceSampler
from hounsfield.data.npz_cache import NpzCache
from hounsfield.data.surface import SurfaceMesh, extract_surface, sample_surface
from hounsfield.data.volume_io import write_mask_nrrd


def _ball(shape: tuple[int, int, int], centre: tuple[float, float, float], radius: float) -> np.ndarray:
    return np.linalg.norm(np.indices(shape) - np.reshape(centre, (3, 1, 1, 1)), axis=0) <= radius


def test_samples_lie_on_the_surface_with_outward_normals() -> None:
    spacing = (1.0, 1.5, 2.0)
    centre_index = (17.0, 13.0, 11.0)
    # an ellipsoid in index space that is a ball of radius 12 mm in mm space
    idx = np.indices((36, 28, 24)).astype(float)
    mm = [(idx[a] - centre_index[a]) * spacing[a] for a in range(3)]
    mask = np.sqrt(mm[0] ** 2 + mm[1] ** 2 + mm[2] ** 2) <= 12.0
    samples = sample_surface(extract_surface(mask, spacing), 20_000, np.random.default_rng(0))
    offset = samples.points_mm - np.asarray(centre_index) * np.asarray(spacing)
    radius = np.linalg.norm(offset, axis=1)
    assert np.abs(radius - 12.0).max() < 2.0  # within a voxel (largest spacing 2 mm)
    radial = offset / radius[:, None]
    assert (np.sum(samples.normals * radial, axis=1) > 0).mean() > 0.99
    np.testing.assert_allclose(np.linalg.norm(samples.normals, axis=1), 1.0, atol=1e-5)
    # uniform on the sphere: each octant holds about an eighth of the samples
    octant = (radial > 0).astype(int) @ np.array([1, 2, 4])
    assert np.all(np.abs(np.bincount(octant, minlength=8) / 20_000 - 0.125) < 0.02)


def test_sampling_is_proportional_to_triangle_area() -> None:
    # two disjoint triangles with areas 0.5 and 1.5: a brute-force count reference
    vertices = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [5, 0, 0], [8, 0, 0], [5, 1, 0]], dtype=float)
    mesh = SurfaceMesh(vertices_mm=vertices, faces=np.array([[0, 1, 2], [3, 4, 5]]))
    samples = sample_surface(mesh, 40_000, np.random.default_rng(1))
    in_small = samples.points_mm[:, 0] < 2.5
    assert in_small.mean() == pytest.approx(0.25, abs=0.01)
    small = samples.points_mm[in_small]
    assert np.all(small[:, 0] + small[:, 1] <= 1.0 + 1e-6) and np.all(small >= -1e-9)


def test_cropping_keeps_positions_in_the_volume_frame() -> None:
    mask = _ball((40, 40, 40), (30.0, 8.0, 21.0), 5.0)
    samples = sample_surface(extract_surface(mask, (1.0, 1.0, 1.0)), 5_000, np.random.default_rng(2))
    distance_to_bone = ndimage.distance_transform_edt(~mask)
    voxel = np.rint(samples.points_mm).astype(int)
    assert distance_to_bone[tuple(voxel.T)].max() <= 1.0
    np.testing.assert_allclose(samples.bbox_min_mm, [24.5, 2.5, 15.5], atol=0.51)


def test_cache_computes_once_and_notices_changed_files(tmp_path: Path) -> None:
    source = tmp_path / "m.nrrd"
    write_mask_nrrd(source, _ball((20, 20, 20), (10, 10, 10), 5), (1.0, 1.0, 1.0))
    cache = NpzCache(tmp_path / "cache")
    calls: list[int] = []

    def compute() -> dict[str, np.ndarray]:
        calls.append(1)
        return {"value": np.array([len(calls)])}

    assert cache.get_or_compute("k", [source], {"n": 1}, compute)["value"][0] == 1
    assert cache.get_or_compute("k", [source], {"n": 1}, compute)["value"][0] == 1
    assert cache.get_or_compute("k", [source], {"n": 2}, compute)["value"][0] == 2  # other params
    write_mask_nrrd(source, _ball((20, 20, 20), (10, 10, 10), 6), (1.0, 1.0, 1.0))  # new mtime/size
    assert cache.get_or_compute("k", [source], {"n": 1}, compute)["value"][0] == 3
    for entry in (tmp_path / "cache").glob("*.npz"):
        entry.write_bytes(b"torn write")
    assert cache.get_or_compute("k", [source], {"n": 1}, compute)["value"][0] == 4


def test_dense_sampler_meshes_each_file_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "m.nrrd"
    write_mask_nrrd(source, _ball((24, 24, 24), (12, 12, 12), 6), (0.5, 0.5, 0.5))
    config = DenseSamplingConfig(n_dense=3_000, seed=4)
    first = DenseSurfaceSampler(config, tmp_path / "cache").load(source)

    def no_meshing(*args: object, **kwargs: object) -> None:
        raise AssertionError("meshed again although the cache holds the samples")

    monkeypatch.setattr(dense_samples, "extract_surface", no_meshing)
    second = DenseSurfaceSampler(config, tmp_path / "cache").load(source)
    np.testing.assert_array_equal(first.samples.points_mm, second.samples.points_mm)
    assert second.volume_shape == (24, 24, 24) and second.spacing_mm == (0.5, 0.5, 0.5)
    assert first.samples.points_mm.shape == (3_000, 3)
