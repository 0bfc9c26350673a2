"""Patch sampling and augmentation for topo_unet: slices of prepared cases, then MONAI transforms.

Each item draws a case (round robin over the training cases by index), a patch position —
centred on a cached foreground voxel (with a random offset of up to a quarter patch) with
probability ``data.foregroundRatio``, uniform otherwise — and slices image, labels, skeleton tube
and signed distance map. Beyond the volume the patch is padded as unlabelled (label 2), so padding
never teaches "background". All randomness is drawn from torch's global generator, which the
training loop seeds for every sample position, so an item is the same on any rank and worker.

Augmentations transform all four arrays together: flips on every axis; 90° rotations in the last
two axes (when the patch is square there); a small random rotation and scaling; an elastic
deformation; intensity scale, shift and Gaussian noise on the image only. The two resampling
transforms cost most of a loader's time on CPU (seconds per 72×136×136 patch for the elastic one),
so ``augment.spatialOn: device`` moves them to the training device (``DeviceSpatialAugment``, run
on each micro-batch before the forward pass, seeded per sample). Label-like arrays are
resampled with nearest neighbour; the signed distance map bilinearly. Labels are shifted by one
around the spatial transforms so voxels brought in from outside (zeros) become unlabelled.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from monai.transforms import (
    Compose,
    Rand3DElasticd,
    RandAffined,
    RandFlipd,
    RandGaussianNoised,
    RandRotate90d,
    RandScaleIntensityd,
    RandShiftIntensityd,
)
from torch.utils.data import Dataset

from hounsfield.evaluation.topology import LABEL_IGNORE
from hounsfield.recipes.topo_unet.cases import PreparedCase
from hounsfield.recipes.topo_unet.config import AugmentConfig, TopoDataConfig

Triple = tuple[int, int, int]
KEYS = ("image", "labels", "skeleton_tube", "signed_distance")
_MODES = ("bilinear", "nearest", "nearest", "bilinear")


def _window(start: int, size: int, limit: int) -> tuple[slice, tuple[int, int]]:
    """The in-volume slice of ``[start, start + size)`` and the padding before/after it."""
    lo, hi = max(start, 0), min(start + size, limit)
    return slice(lo, hi), (lo - start, start + size - hi)


def read_patch(case: PreparedCase, start: Triple, size: Triple) -> dict[str, np.ndarray]:
    """Image (z-scored), labels, tube and signed distance of one patch, padded beyond the volume."""
    windows = [_window(s, n, limit) for s, n, limit in zip(start, size, case.shape, strict=True)]
    key = tuple(w[0] for w in windows)
    pad = [w[1] for w in windows]
    image = (np.asarray(case.image[key], dtype=np.float32) - case.mean) / case.std
    arrays = {
        "image": np.pad(image, pad, constant_values=0.0),
        "labels": np.pad(np.asarray(case.labels[key], dtype=np.uint8), pad, constant_values=LABEL_IGNORE),
        "skeleton_tube": np.pad(np.asarray(case.maps.skeleton_tube[key], dtype=np.float32), pad),
        "signed_distance": np.pad(
            np.asarray(case.maps.signed_distance[key], dtype=np.float32), pad, constant_values=1.0
        ),
    }
    return arrays


def draw_start(case: PreparedCase, size: Triple, foreground_ratio: float, rng: np.random.Generator) -> Triple:
    if len(case.foreground) and rng.random() < foreground_ratio:
        centre = np.asarray(case.foreground[int(rng.integers(len(case.foreground)))], dtype=np.int64)
        jitter = np.array([int(rng.integers(-(n // 4), n // 4 + 1)) for n in size])
        start = centre + jitter - np.array(size) // 2
    else:
        start = np.array(
            [int(rng.integers(0, max(limit - n, 0) + 1)) for limit, n in zip(case.shape, size, strict=True)]
        )
    return (int(start[0]), int(start[1]), int(start[2]))


def spatial_transforms(config: AugmentConfig, device: torch.device | None = None) -> list[Any]:
    """The resampling transforms (small rotation/scaling, elastic), on ``device`` when given."""
    keys = list(KEYS)
    angle = math.radians(config.rotate_degrees)
    transforms: list[Any] = [
        RandAffined(
            keys,
            prob=config.affine_prob,
            rotate_range=(angle, angle, angle),
            scale_range=(config.scale, config.scale, config.scale),
            mode=_MODES,
            padding_mode="zeros",
            device=device,
        )
    ]
    if config.elastic_prob > 0:
        transforms.append(
            Rand3DElasticd(
                keys,
                sigma_range=(5.0, 8.0),
                magnitude_range=(50.0, 150.0),
                prob=config.elastic_prob,
                mode=_MODES,
                padding_mode="zeros",
                device=device,
            )
        )
    return transforms


def augmentations(config: AugmentConfig, patch: Triple) -> Compose:
    """What the loader applies: flips, 90° rotations, the spatial transforms unless they run on the
    device (``spatial_on``), and the intensity jitter."""
    keys = list(KEYS)
    transforms: list[Any] = [RandFlipd(keys, prob=config.flip_prob, spatial_axis=axis) for axis in range(3)]
    if patch[1] == patch[2]:
        transforms.append(RandRotate90d(keys, prob=config.rot90_prob, max_k=3, spatial_axes=(1, 2)))
    if config.spatial_on == "loader":
        transforms += spatial_transforms(config)
    transforms += [
        RandScaleIntensityd("image", factors=0.1, prob=config.intensity_prob),
        RandShiftIntensityd("image", offsets=0.1, prob=config.intensity_prob),
        RandGaussianNoised("image", std=0.05, prob=config.intensity_prob),
    ]
    return Compose(transforms)


def _shift_labels(item: dict[str, torch.Tensor]) -> None:
    item["labels"] = item["labels"] + 1.0  # 0 after a spatial transform = came from outside


def _unshift_labels(item: dict[str, torch.Tensor]) -> None:
    shifted = torch.round(item["labels"])
    item["labels"] = torch.where(shifted < 0.5, float(LABEL_IGNORE), shifted - 1.0)


class DeviceSpatialAugment:
    """The spatial transforms applied to a micro-batch on its device (``augment.spatialOn: device``).

    Each sample carries the seed its loader item drew (``spatial_seed``), so its deformation is the
    same on any rank and resume, exactly as if the loader had applied it.
    """

    def __init__(self, config: AugmentConfig) -> None:
        self.config = config
        self._by_device: dict[str, Compose] = {}

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        device = batch["image"].device
        transforms = self._by_device.setdefault(str(device), Compose(spatial_transforms(self.config, device)))
        out: dict[str, list[torch.Tensor]] = {key: [] for key in KEYS}
        # No autograd, and float32 resampling even inside the loop's bf16 autocast.
        with torch.no_grad(), torch.autocast(device.type, enabled=False):
            for i, seed in enumerate(batch["spatial_seed"].tolist()):
                item = {key: batch[key][i].float() for key in KEYS}
                _shift_labels(item)
                transforms.set_random_state(seed=int(seed))
                item = {k: torch.as_tensor(v) for k, v in transforms(item).items()}
                _unshift_labels(item)
                for key in KEYS:
                    out[key].append(item[key].to(device))
        result = dict(batch)
        for key in KEYS:
            result[key] = torch.stack(out[key]).to(batch[key].dtype)
        return result


class PatchDataset(Dataset[dict[str, torch.Tensor]]):
    """``samples_per_epoch`` augmented patches from the prepared training cases (module docstring)."""

    def __init__(
        self, cases: list[PreparedCase], data: TopoDataConfig, augment: AugmentConfig | None
    ) -> None:
        if not cases:
            raise ValueError("no training cases")
        self.cases = cases
        self.data = data
        self.transforms = augmentations(augment, data.patch) if augment is not None else None

    def __len__(self) -> int:
        return self.data.samples_per_epoch

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        seed = int(torch.randint(0, 2**31 - 1, ()))
        rng = np.random.default_rng(seed)
        case = self.cases[index % len(self.cases)]
        start = draw_start(case, self.data.patch, self.data.foreground_ratio, rng)
        arrays = read_patch(case, start, self.data.patch)
        item = {
            k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32))[None] for k, v in arrays.items()
        }
        if self.transforms is not None:
            _shift_labels(item)
            self.transforms.set_random_state(seed=seed)
            item = {k: torch.as_tensor(v) for k, v in self.transforms(item).items()}
            _unshift_labels(item)
        return {
            "image": item["image"].float().contiguous(),
            "labels": item["labels"].to(torch.uint8).contiguous(),
            "skeleton_tube": item["skeleton_tube"].float().contiguous(),
            "signed_distance": item["signed_distance"].float().contiguous(),
            "spatial_seed": torch.tensor(int(rng.integers(0, 2**31 - 1)), dtype=torch.int64),
        }
