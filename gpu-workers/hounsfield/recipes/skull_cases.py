"""The skull cases the implant recipes (pcdiff, voxelization) train on: a prepared split of a
dataset, or synthetic skulls made first.

Rank 0 does the work (generation, validation, the split CSV) while the other ranks wait at a
barrier and then read the same split, so every rank trains on identical case lists.
"""

from __future__ import annotations

import logging
from pathlib import Path

from hounsfield.data.cases import DatasetLayout, SkullCase
from hounsfield.data.prepare import PrepareConfig, load_split_cases, prepare_dataset
from hounsfield.data.synthetic_skulls import generate_skullbreak
from hounsfield.trainers.config_base import TrainerConfigBase
from hounsfield.trainers.ddp import DistributedContext, barrier
from hounsfield.trainers.errors import TrainerError, TrainerErrorCode

_log = logging.getLogger(__name__)

SYNTHETIC_DIR = "synthetic-skulls"
PREPARED_DIR = "dataset"
SYNTHETIC_PRESETS = ("cpu-tiny",)


def dataset_root(config: TrainerConfigBase, output_dir: Path) -> Path:
    """The dataset directory: ``data_root`` if it exists, else the synthetic skulls' directory."""
    if config.data_root is not None and config.data_root.is_dir():
        return config.data_root
    if config.synthetic is None:
        missing = (
            "no dataRoot given" if config.data_root is None else f"dataRoot {config.data_root} is missing"
        )
        raise TrainerError(
            TrainerErrorCode.MISSING_DATA,
            f"{missing}; give a SkullBreak/SkullFix directory, or (preset cpu-tiny) synthetic skulls "
            "with --synthetic N / config synthetic: {subjects: N}",
        )
    if config.preset not in SYNTHETIC_PRESETS:
        raise TrainerError(
            TrainerErrorCode.MISSING_DATA,
            f"synthetic skulls are for the {'/'.join(SYNTHETIC_PRESETS)} preset; preset {config.preset} "
            "needs a real dataset (dataRoot)",
        )
    return output_dir / SYNTHETIC_DIR


def split_cases(config: TrainerConfigBase, output_dir: Path, split: str) -> list[SkullCase]:
    """The cases of another split of the dataset ``training_cases`` prepared (call it after that)."""
    root = dataset_root(config, output_dir)
    split_csv = config.split_csv or output_dir / PREPARED_DIR / "split.csv"
    layout = DatasetLayout.SKULLBREAK if root.name == SYNTHETIC_DIR else config.layout
    return load_split_cases(root, split_csv, split, layout)  # type: ignore[arg-type]


def validation_cases(config: TrainerConfigBase, output_dir: Path) -> list[SkullCase]:
    """The cases validation runs on: ``validation.split``, at most ``validation.maxCases``."""
    cases = split_cases(config, output_dir, config.validation.split)
    limit = config.validation.max_cases
    return cases if limit is None else cases[:limit]


def training_cases(
    config: TrainerConfigBase, output_dir: Path, context: DistributedContext
) -> list[SkullCase]:
    """The cases of ``config.split``; generates synthetic skulls and prepares the split if needed."""
    root = dataset_root(config, output_dir)
    split_csv = config.split_csv or output_dir / PREPARED_DIR / "split.csv"
    if context.is_main:
        if config.synthetic is not None and root == output_dir / SYNTHETIC_DIR and not root.is_dir():
            synthetic = config.synthetic
            _log.info(
                "generating %d synthetic subjects (%d^3) in %s", synthetic.subjects, synthetic.shape, root
            )
            shape = (synthetic.shape,) * 3
            generate_skullbreak(root, synthetic.subjects, shape=shape, seed=synthetic.seed)
        if config.split_csv is None:
            layout = DatasetLayout.SKULLBREAK if root.name == SYNTHETIC_DIR else config.layout
            prepared = prepare_dataset(root, split_csv.parent, PrepareConfig(layout=layout, seed=config.seed))
            _log.info(
                "dataset %s: %d cases included, %d excluded (report %s)",
                root,
                len(prepared.included),
                len(prepared.excluded),
                prepared.report_path,
            )
    barrier(context)
    layout = DatasetLayout.SKULLBREAK if root.name == SYNTHETIC_DIR else config.layout
    cases = load_split_cases(root, split_csv, config.split, layout)
    if not cases:
        raise TrainerError(
            TrainerErrorCode.EMPTY_SPLIT, f"split {config.split!r} of {split_csv} has no cases"
        )
    return cases
