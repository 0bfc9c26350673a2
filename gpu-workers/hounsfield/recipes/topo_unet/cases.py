"""Finding a topo_unet dataset's cases and preparing each once (label maps, foreground, intensity).

Layout (``data.imagesDir`` / ``data.labelsDir`` rename the folders)::

    <dataRoot>/images/<case>.tif|.tiff|.nii|.nii.gz|.nrrd   the scan (any numeric type)
    <dataRoot>/labels/<case>.<same or any supported ext>     0 background, 1 surface, 2 unlabelled

Preparation runs once per case and is cached under ``cacheDir`` (default ``<output>/cache``):
the skeleton tube and signed distance map (``labelmaps``), up to 200,000 foreground coordinates
for foreground-centred patches, and the image's intensity mean and standard deviation for
z-scoring. Reruns and DataLoader workers memory-map the cache instead of recomputing it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from hounsfield.data.errors import DataError, DataErrorCode
from hounsfield.data.sheet_phantoms import write_phantom_cases
from hounsfield.evaluation.topology import LABEL_SURFACE
from hounsfield.recipes.topo_unet.config import TopoUNetTrainConfig
from hounsfield.recipes.topo_unet.io import SUFFIXES, Geometry, LazyVolume, open_volume
from hounsfield.recipes.topo_unet.labelmaps import CachedMaps, LabelMapSettings, cached_label_maps

MAX_FOREGROUND_POINTS = 200_000


@dataclass(frozen=True)
class CaseFiles:
    case_id: str
    image: Path
    labels: Path


@dataclass(frozen=True)
class PreparedCase:
    """One case ready for patch sampling: lazy arrays plus everything cached about it."""

    case_id: str
    image: LazyVolume
    labels: LazyVolume
    geometry: Geometry
    maps: CachedMaps
    foreground: npt.NDArray[np.int32]
    mean: float
    std: float

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.geometry.shape


def case_id_of(path: Path) -> str:
    name = path.name
    for suffix in sorted(SUFFIXES, key=len, reverse=True):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def find_cases(root: Path, images_dir: str, labels_dir: str) -> list[CaseFiles]:
    """Every image with a label volume of the same case id, sorted by id."""
    images, labels = root / images_dir, root / labels_dir
    for folder, field in ((images, "data.imagesDir"), (labels, "data.labelsDir")):
        if not folder.is_dir():
            raise DataError(
                DataErrorCode.INVALID_LAYOUT,
                f"{folder} is not a directory: dataRoot must hold {images_dir}/ and {labels_dir}/ "
                f"(see {field})",
            )
    label_files = {case_id_of(p): p for p in labels.iterdir() if is_volume_file(p)}
    cases = []
    for image in sorted(p for p in images.iterdir() if is_volume_file(p)):
        case_id = case_id_of(image)
        if case_id not in label_files:
            raise DataError(DataErrorCode.MISSING_FILE, f"{image.name} has no label volume in {labels}")
        cases.append(CaseFiles(case_id, image, label_files[case_id]))
    if not cases:
        raise DataError(DataErrorCode.INVALID_LAYOUT, f"no volumes ({', '.join(SUFFIXES)}) in {images}")
    return cases


def is_volume_file(path: Path) -> bool:
    return path.is_file() and any(path.name.lower().endswith(s) for s in SUFFIXES)


def dataset_root(config: TopoUNetTrainConfig, output_dir: Path) -> Path:
    """``dataRoot``, or the sheet phantoms written under the output directory (``synthetic``)."""
    if config.data_root is not None:
        return config.data_root
    if config.synthetic is None:
        raise DataError(DataErrorCode.INVALID_LAYOUT, "set dataRoot (or synthetic for sheet phantoms)")
    root = output_dir / "phantoms"
    side = config.synthetic.shape
    write_phantom_cases(
        root, config.synthetic.subjects, (max(24, side // 2), side, side), config.synthetic.seed
    )
    return root


def split_cases(cases: list[CaseFiles], held_out: int) -> tuple[list[CaseFiles], list[CaseFiles]]:
    """``(training, validation)``: the last ``held_out`` ids are validation."""
    if held_out >= len(cases):
        raise DataError(
            DataErrorCode.INVALID_LAYOUT,
            f"data.validationCases={held_out} leaves no training case out of {len(cases)}",
        )
    cut = len(cases) - held_out
    return cases[:cut], cases[cut:]


def intensity_stats(image: LazyVolume, shape: tuple[int, int, int]) -> tuple[float, float]:
    """Mean and standard deviation over about 32 evenly spaced slices (for z-scoring)."""
    step = max(1, shape[0] // 32)
    sample = np.asarray(image[::step], dtype=np.float64)
    return float(sample.mean()), float(sample.std()) or 1.0


def prepare_case(files: CaseFiles, cache_dir: Path, config: TopoUNetTrainConfig) -> PreparedCase:
    image, geometry = open_volume(files.image)
    labels, label_geometry = open_volume(files.labels)
    if label_geometry.shape != geometry.shape:
        raise DataError(
            DataErrorCode.SHAPE_MISMATCH,
            f"{files.case_id}: image {geometry.shape} and labels {label_geometry.shape} differ",
        )
    full_labels = np.asarray(labels[:, :, :])
    values = np.unique(full_labels)
    if not set(values.tolist()) <= {0, 1, 2}:
        raise DataError(
            DataErrorCode.NOT_BINARY,
            f"{files.labels}: labels must be 0 (background), 1 (surface), 2 (unlabelled); found {values[:8]}",
        )
    settings = LabelMapSettings(tube_radius=config.data.tube_radius, clip=config.data.sdf_clip)
    maps = cached_label_maps(files.case_id, files.labels, full_labels, cache_dir, settings)
    stats_file = cache_dir / f"{files.case_id}-stats.json"
    if stats_file.exists():
        stats = json.loads(stats_file.read_text())
    else:
        foreground = np.argwhere(full_labels == LABEL_SURFACE).astype(np.int32)
        if len(foreground) > MAX_FOREGROUND_POINTS:
            keep = np.random.default_rng(0).choice(len(foreground), MAX_FOREGROUND_POINTS, replace=False)
            foreground = foreground[np.sort(keep)]
        np.save(cache_dir / f"{files.case_id}-foreground.npy", foreground)
        mean, std = intensity_stats(image, geometry.shape)
        stats = {"mean": mean, "std": std}
        stats_file.write_text(json.dumps(stats))
    return PreparedCase(
        case_id=files.case_id,
        image=image,
        labels=labels,
        geometry=geometry,
        maps=maps,
        foreground=np.load(cache_dir / f"{files.case_id}-foreground.npy", mmap_mode="r"),
        mean=float(stats["mean"]),
        std=float(stats["std"]),
    )
