"""Point-cloud and voxelization datasets: counts, frames, fresh draws, mapping back to voxels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import ndimage
from torch.utils.data import DataLoader

from hounsfield.data import skullbreak
from hounsfield.data.cases import DatasetLayout, SkullCase, discover_cases
from hounsfield.data.coordinates import BoxNormalisation, psr_to_normalised
from hounsfield.data.dense_samples import DenseSamplingConfig
from hounsfield.data.skullbreak import (
    CompletionSamplingConfig,
    SkullCompletionDataset,
    SkullVoxelizationDataset,
    VoxelizationSamplingConfig,
)
from hounsfield.data.synthetic_skulls import generate_skullfix
from hounsfield.data.volume_io import read_mask

TINY = CompletionSamplingConfig.preset("cpu-tiny")
VOX = VoxelizationSamplingConfig(n_points=2_048, psr_resolution=32, dense=DenseSamplingConfig(n_dense=20_000))


def _distance_to(mask: np.ndarray, points_voxel: np.ndarray) -> np.ndarray:
    distance = ndimage.distance_transform_edt(~mask)
    index = np.clip(np.rint(points_voxel).astype(int), 0, np.asarray(mask.shape) - 1)
    return distance[tuple(index.T)]


def test_presets_follow_the_paper_counts() -> None:
    paper = CompletionSamplingConfig.preset("paper")
    assert (paper.n_defective, paper.n_implant) == (27_648, 3_072)
    assert (TINY.n_defective, TINY.n_implant) == (1_843, 205)


def test_completion_item_counts_metadata_and_defective_box(
    skullbreak_64: tuple[Path, list[SkullCase]], tmp_path: Path
) -> None:
    _, cases = skullbreak_64
    dataset = SkullCompletionDataset(cases, TINY, cache_dir=tmp_path)
    torch.manual_seed(0)
    item = dataset[3]
    assert item["defective_points"].shape == (1_843, 3) and item["implant_points"].shape == (205, 3)
    assert item["defective_points"].dtype == torch.float32
    assert (item["case_id"], item["defect_class"]) == (cases[3].case_id, cases[3].defect_class)
    # normalised by the defective skull's box: its longest axis spans [-3, 3]
    extent = item["defective_points"].abs().amax(dim=0)
    assert extent.max().item() == pytest.approx(3.0, abs=0.1) and extent.max().item() <= 3.0 + 1e-4
    assert item["implant_points"].abs().max().item() < 4.0


def test_every_load_draws_new_points_reproducibly(
    skullbreak_64: tuple[Path, list[SkullCase]], tmp_path: Path
) -> None:
    _, cases = skullbreak_64
    dataset = SkullCompletionDataset(cases, TINY, cache_dir=tmp_path)
    torch.manual_seed(1)
    a, b = dataset[0], dataset[0]
    torch.manual_seed(1)
    c = dataset[0]
    assert not torch.equal(a["defective_points"], b["defective_points"])
    torch.testing.assert_close(a["defective_points"], c["defective_points"])
    torch.testing.assert_close(a["centre_mm"], b["centre_mm"])  # the box does not depend on the draw


def test_points_map_back_onto_their_masks(
    skullbreak_64: tuple[Path, list[SkullCase]], tmp_path: Path
) -> None:
    _, cases = skullbreak_64
    loader = DataLoader(SkullCompletionDataset(cases[:4], TINY, cache_dir=tmp_path), batch_size=2)
    batch = next(iter(loader))
    for i in range(2):
        case = cases[i]
        norm = BoxNormalisation.from_batch(batch, i)
        defective, _ = read_mask(case.defective_path)
        implant, _ = read_mask(case.implant_path)
        assert norm.volume_shape == defective.shape
        for points, mask in (
            (batch["defective_points"][i], defective),
            (batch["implant_points"][i], implant),
        ):
            voxels = norm.normalised_to_voxel(points.numpy())
            assert _distance_to(mask, voxels).max() <= 1.0
        assert norm.normalised_to_voxel_indices(batch["implant_points"][i].numpy()).dtype == np.int64


def test_voxelization_item_points_normals_and_target(
    skullbreak_64: tuple[Path, list[SkullCase]], tmp_path: Path
) -> None:
    _, cases = skullbreak_64
    case = cases[0]
    item = SkullVoxelizationDataset([case], VOX, cache_dir=tmp_path)[0]
    complete, _ = read_mask(case.complete_path)
    norm = BoxNormalisation.from_batch(item)
    assert item["points"].shape == item["normals"].shape == (2_048, 3)
    assert item["gt_psr"].shape == (32, 32, 32)
    assert set(item["gt_psr"].unique().tolist()) == {-0.5, 0.5}
    # normals point out of the bone: one voxel outwards is empty, one voxel inwards is bone
    spacing = np.asarray(norm.spacing_mm)
    points_mm = norm.normalised_to_mm(item["points"].numpy())
    out_voxel = np.rint((points_mm + item["normals"].numpy() * spacing) / spacing).astype(int)
    in_voxel = np.rint((points_mm - item["normals"].numpy() * spacing) / spacing).astype(int)
    assert (~complete[tuple(out_voxel.T)]).mean() > 0.9 and complete[tuple(in_voxel.T)].mean() > 0.9
    # the target's inside nodes sit in the complete skull of the original volume
    inside_nodes = np.argwhere(item["gt_psr"].numpy() < 0) / 32
    voxels = norm.normalised_to_voxel(psr_to_normalised(inside_nodes, VOX.psr_half_extent))
    assert _distance_to(complete, voxels).max() <= 1.0
    assert len(inside_nodes) > 100


def test_voxelization_box_follows_the_configured_skull(skullbreak_64: tuple[Path, list[SkullCase]]) -> None:
    _, cases = skullbreak_64
    case = cases[0]
    from_defective = SkullVoxelizationDataset([case], VOX)[0]
    from_complete = SkullVoxelizationDataset([case], VOX.model_copy(update={"box_from": "complete"}))[0]
    diffusion_item = SkullCompletionDataset([case], TINY)[0]
    # default: the diffusion model's frame, so generated points can be voxelized as they are
    for key in ("centre_mm", "scale_mm"):
        torch.testing.assert_close(from_defective[key], diffusion_item[key])
    assert from_complete["points"].abs().max().item() == pytest.approx(3.0, abs=0.1)
    assert from_complete["points"].abs().max().item() <= 3.0 + 1e-4


def test_target_is_cached(
    skullbreak_64: tuple[Path, list[SkullCase]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, cases = skullbreak_64
    first = SkullVoxelizationDataset(cases[:1], VOX, cache_dir=tmp_path)[0]

    def no_recompute(*args: object, **kwargs: object) -> None:
        raise AssertionError("target recomputed although cached")

    monkeypatch.setattr(skullbreak, "psr_target", no_recompute)
    second = SkullVoxelizationDataset(cases[:1], VOX, cache_dir=tmp_path)[0]
    torch.testing.assert_close(first["gt_psr"], second["gt_psr"])


def test_skullfix_layout_feeds_the_same_datasets(tmp_path: Path) -> None:
    generate_skullfix(tmp_path / "skullfix", n_subjects=1, shape=(48, 48, 40), spacing_mm=(4.0, 4.0, 5.0))
    cases = discover_cases(tmp_path / "skullfix", DatasetLayout.SKULLFIX)
    item = SkullCompletionDataset(cases, TINY)[0]
    assert item["defect_class"] == "skullfix" and item["implant_points"].shape == (205, 3)
    assert BoxNormalisation.from_batch(item).spacing_mm == (4.0, 4.0, 5.0)
