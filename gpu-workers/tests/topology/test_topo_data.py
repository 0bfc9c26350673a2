"""Volume io (TIFF memmap and page access, NIfTI, NRRD), cached label maps, and patch sampling."""

from pathlib import Path

import nrrd
import numpy as np
import pytest
import tifffile
import torch

from hounsfield.data.errors import DataError
from hounsfield.data.sheet_phantoms import write_phantom_cases
from hounsfield.recipes.topo_unet import labelmaps
from hounsfield.recipes.topo_unet.cases import find_cases, prepare_case
from hounsfield.recipes.topo_unet.config import AugmentConfig
from hounsfield.recipes.topo_unet.io import TiffPages, open_volume, write_mask_like
from hounsfield.recipes.topo_unet.recipe import RECIPE
from hounsfield.recipes.topo_unet.sampling import PatchDataset, read_patch
from hounsfield.trainers.config_base import apply_overrides


def test_tiff_stacks_are_memory_mapped_or_read_by_pages(tmp_path: Path) -> None:
    volume = np.arange(6 * 7 * 8, dtype=np.uint16).reshape(6, 7, 8)
    tifffile.imwrite(tmp_path / "plain.tif", volume)
    tifffile.imwrite(tmp_path / "packed.tif", volume, compression="zlib")
    plain, _ = open_volume(tmp_path / "plain.tif")
    packed, geometry = open_volume(tmp_path / "packed.tif")
    assert isinstance(plain, np.memmap) and isinstance(packed, TiffPages)
    assert geometry.shape == (6, 7, 8)
    np.testing.assert_array_equal(packed[2:5, 1:4, 3:8], volume[2:5, 1:4, 3:8])
    np.testing.assert_array_equal(np.asarray(plain[1:3]), volume[1:3])


def test_nrrd_masks_keep_the_space_fields(tmp_path: Path) -> None:
    header = {
        "space": "left-posterior-superior",
        "space directions": np.diag([0.3, 0.4, 0.5]),
        "space origin": np.array([1.0, 2.0, 3.0]),
    }
    nrrd.write(str(tmp_path / "scan.nrrd"), np.zeros((5, 6, 7), np.float32), header)
    _, geometry = open_volume(tmp_path / "scan.nrrd")
    assert geometry.spacing == pytest.approx((0.3, 0.4, 0.5))
    write_mask_like(tmp_path / "mask.nrrd", np.ones((5, 6, 7), np.uint8), geometry)
    _, written = nrrd.read(str(tmp_path / "mask.nrrd"))
    np.testing.assert_allclose(written["space directions"], header["space directions"])
    np.testing.assert_allclose(written["space origin"], header["space origin"])


def test_bad_inputs_are_named(tmp_path: Path) -> None:
    (tmp_path / "x.png").write_bytes(b"")
    with pytest.raises(DataError, match="unsupported volume format"):
        open_volume(tmp_path / "x.png")
    with pytest.raises(DataError, match="data.imagesDir"):
        find_cases(tmp_path, "images", "labels")


@pytest.fixture
def prepared(tmp_path: Path):  # type: ignore[no-untyped-def]
    write_phantom_cases(tmp_path / "data", 2, (24, 40, 40), seed=1)
    config = apply_overrides(RECIPE.preset("cpu-tiny"), {"data": {"patch": [16, 32, 32]}})
    cases = [
        prepare_case(f, tmp_path / "cache", config) for f in find_cases(tmp_path / "data", "images", "labels")
    ]
    return cases, config


def test_label_maps_are_computed_once_and_memory_mapped(prepared, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    cases, config = prepared
    assert isinstance(cases[0].maps.signed_distance, np.memmap)

    def fail(*args: object) -> None:
        raise AssertionError("recomputed a cached map")

    monkeypatch.setattr(labelmaps, "skeleton_tube", fail)
    monkeypatch.setattr(labelmaps, "signed_distance", fail)
    again = prepare_case(find_cases(tmp_path / "data", "images", "labels")[0], tmp_path / "cache", config)
    np.testing.assert_array_equal(again.maps.skeleton_tube, cases[0].maps.skeleton_tube)


def test_patches_beyond_the_volume_are_unlabelled(prepared) -> None:  # type: ignore[no-untyped-def]
    cases, _ = prepared
    patch = read_patch(cases[0], (-4, 30, 30), (16, 32, 32))
    assert patch["labels"].shape == (16, 32, 32)
    assert (patch["labels"][:4] == 2).all() and (patch["labels"][:, 10:] == 2).all()
    inside = np.asarray(cases[0].labels[0:12, 30:40, 30:40])
    np.testing.assert_array_equal(patch["labels"][4:, :10, :10], inside)


@pytest.mark.parametrize("ratio", [0.0, 1.0])
def test_foreground_ratio_controls_how_many_patches_hold_surface(prepared, ratio: float) -> None:  # type: ignore[no-untyped-def]
    cases, config = prepared
    data = config.data.model_copy(
        update={"foreground_ratio": ratio, "samples_per_epoch": 40, "patch": (8, 8, 8)}
    )
    dataset = PatchDataset(cases, data, augment=None)
    torch.manual_seed(0)
    with_surface = np.mean([bool((dataset[i]["labels"] == 1).any()) for i in range(40)])
    if ratio == 1.0:
        assert with_surface == 1.0
    else:
        assert with_surface < 0.8


def test_augmented_items_are_reproducible_and_keep_the_label_values(prepared) -> None:  # type: ignore[no-untyped-def]
    cases, config = prepared
    augment = AugmentConfig(affine_prob=1.0, elastic_prob=1.0, rotate_degrees=20)
    dataset = PatchDataset(cases, config.data, augment)
    torch.manual_seed(5)
    first = dataset[3]
    torch.manual_seed(5)
    second = dataset[3]
    for key in first:
        torch.testing.assert_close(first[key], second[key])
    assert set(torch.unique(first["labels"]).tolist()) <= {0, 1, 2}
    assert first["image"].shape == (1, 16, 32, 32) and first["labels"].dtype == torch.uint8
    assert (first["labels"] == 2).any()  # rotated-in corners are unlabelled, not background


def test_spatial_augmentation_can_run_on_the_device_seeded_per_sample(prepared) -> None:  # type: ignore[no-untyped-def]
    from monai.transforms import Rand3DElasticd, RandAffined
    from torch.utils.data import default_collate

    from hounsfield.recipes.topo_unet.sampling import DeviceSpatialAugment, augmentations

    cases, config = prepared
    augment = AugmentConfig(affine_prob=1.0, elastic_prob=1.0, spatial_on="device")
    loader_side = augmentations(augment, config.data.patch)
    assert not any(isinstance(t, (RandAffined, Rand3DElasticd)) for t in loader_side.transforms)
    dataset = PatchDataset(cases, config.data, augment)
    torch.manual_seed(2)
    batch = default_collate([dataset[0], dataset[1]])
    assert batch["spatial_seed"].shape == (2,)
    on_device = DeviceSpatialAugment(augment)
    first, second = on_device(batch), on_device(batch)
    for key in ("image", "labels", "skeleton_tube", "signed_distance"):
        torch.testing.assert_close(first[key], second[key])
        assert first[key].shape == batch[key].shape and first[key].dtype == batch[key].dtype
    assert not torch.equal(first["image"], batch["image"])
    assert set(torch.unique(first["labels"]).tolist()) <= {0, 1, 2} and (first["labels"] == 2).any()
