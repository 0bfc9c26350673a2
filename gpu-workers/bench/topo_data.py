"""Benchmark: topo_unet data-loader time per patch, cached label maps vs per-patch EDT + skeleton.

Run: `gpu-workers/.venv/bin/python gpu-workers/bench/topo_data.py [--patches 48] [--workers 2]`.

The field report's loader computed the distance transform and the skeleton of every 72×136×136
patch it drew (its A100 sat at 17 % utilisation). Here both loaders draw the same patches (same
seeds) from sheet phantoms written as TIFF stacks, through a DataLoader with 2 workers and batch 1:

* ``cached``: topo_unet's ``PatchDataset`` — the skeleton tube and signed distance map were
  computed once per case at preparation and are memory-mapped; a patch is four slices;
* ``per-patch``: the same dataset, but each patch's tube and signed distance map are computed from
  its labels on the fly with the same functions (``labelmaps.skeleton_tube``/``signed_distance``).

Three augmentation settings: none; the vesuvius preset's augmentations all in the loader
(``spatialOn: loader``); and the vesuvius preset as shipped, whose rotation/scaling and elastic
resampling run on the training device instead (``spatialOn: device``; not timed here, the loader
only draws their seeds). The program prints the one-off preparation time per case, the time per
patch of each loader (wall time over the patches after a warm-up batch per worker) and the ratio
per-patch / cached. Target: >= 5x. Augmentation in the loader costs the same in both columns and
shrinks the ratio; that row is why the preset moves the resampling to the device.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from hounsfield.data.sheet_phantoms import write_phantom_cases
from hounsfield.recipes.topo_unet.cases import PreparedCase, find_cases, prepare_case
from hounsfield.recipes.topo_unet.config import AugmentConfig, TopoDataConfig
from hounsfield.recipes.topo_unet.labelmaps import signed_distance, skeleton_tube
from hounsfield.recipes.topo_unet.recipe import RECIPE
from hounsfield.recipes.topo_unet.sampling import PatchDataset


class PerPatchDataset(PatchDataset):
    """The report's set-up: label maps from each patch's own labels, every time it is drawn."""

    def __init__(
        self, cases: list[PreparedCase], data: TopoDataConfig, augment: AugmentConfig | None
    ) -> None:
        super().__init__(cases, data, augment)
        self.tube_radius, self.clip = data.tube_radius, data.sdf_clip

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        item = super().__getitem__(index)
        labels = item["labels"][0].numpy()
        item["skeleton_tube"] = torch.from_numpy(skeleton_tube(labels, self.tube_radius).astype(np.float32))[
            None
        ]
        item["signed_distance"] = torch.from_numpy(signed_distance(labels, self.clip).astype(np.float32))[
            None
        ]
        return item


def _seed_worker(worker_id: int) -> None:
    torch.manual_seed(1000 + worker_id)


def time_per_patch(dataset: PatchDataset, patches: int, workers: int) -> float:
    loader = DataLoader(
        dataset,
        batch_size=1,
        num_workers=workers,
        worker_init_fn=_seed_worker,
        persistent_workers=workers > 0,
        prefetch_factor=2 if workers else None,
    )
    iterator = iter(loader)
    for _ in range(max(workers, 1)):  # warm-up: workers started, files opened
        next(iterator)
    started = time.perf_counter()
    for _ in range(patches):
        next(iterator)
    return (time.perf_counter() - started) / patches


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--patches", type=int, default=48)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cases", type=int, default=3)
    parser.add_argument("--shape", type=int, nargs=3, default=(96, 200, 200))
    args = parser.parse_args()
    preset = RECIPE.preset("vesuvius")
    data = preset.data.model_copy(update={"samples_per_epoch": 10_000})
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_phantom_cases(root / "data", args.cases, tuple(args.shape), seed=0)
        files = find_cases(root / "data", "images", "labels")
        started = time.perf_counter()
        cases = [prepare_case(f, root / "cache", preset) for f in files]
        prep = (time.perf_counter() - started) / len(cases)
        print(
            f"load: {os.getloadavg()[0]:.2f} (1-min), workers {args.workers}, patch {data.patch}, "
            f"phantoms {tuple(args.shape)} x {args.cases}"
        )
        print(f"one-off preparation per case (tube + signed distance + foreground + stats): {prep:.2f} s")
        print(f"{'augmentation':<16}{'cached s/patch':>16}{'per-patch s/patch':>20}{'ratio':>8}")
        in_loader = preset.augment.model_copy(update={"spatial_on": "loader"})
        rows = (("none", None), ("all in loader", in_loader), ("vesuvius", preset.augment))
        for label, augment in rows:
            cached = time_per_patch(PatchDataset(cases, data, augment), args.patches, args.workers)
            per_patch = time_per_patch(PerPatchDataset(cases, data, augment), args.patches, args.workers)
            print(f"{label:<16}{cached:>16.4f}{per_patch:>20.4f}{per_patch / cached:>7.1f}x")


if __name__ == "__main__":
    main()
