"""Prepare an intensity-volume dataset: validate every case, exclude with reasons, split by patient.

Validation comes before the split, so a broken file can never break a split mid-training. Each
case (a NIfTI/NRRD/TIFF file, or a directory holding a DICOM series) must be readable, 3-D, finite,
have a sane spacing (``spacing_mm`` range), be at least ``min_shape`` voxels, not have constant
intensity, and not duplicate the content of another case (sha256 of the voxel array; the first case
id wins). Failures are excluded with a code and a reason. The passing cases are windowed (HU ->
``[0, 1]`` or ``[-1, 1]``), optionally resampled to ``target_spacing``, stored as float32 ``.npy``
(memory-mapped by the trainers) and split **by patient**: a patient's volumes are all in one split.
The patient id comes from a regex on the case's relative path (named group ``patient``; default:
its first directory) or from a CSV ``case_id,patient_id``. A user split (CSV ``case_id,split``)
that puts one patient in two sets is refused, naming the patients.

Everything lands in ``out_dir``: ``volumes/<case_id>.npy`` and ``manifest.json`` (settings, each
case's source fingerprint, content hash, shape, spacing and split, the exclusions, counts). The
manifest's sha256 (:func:`manifest_hash`) goes into every checkpoint's meta; :func:`ensure_prepared`
re-prepares only when the manifest is missing or stale (other settings or changed source files).

CLI: ``python -m hounsfield.data.volumes.prepare ROOT OUT [--window ctpa] [--patient-csv F] ...``.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import logging
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from hounsfield.data.errors import DataError, DataErrorCode
from hounsfield.data.prepare import SplitFractions, SplitName
from hounsfield.data.volumes.io import (
    NIFTI_SUFFIXES,
    NRRD_SUFFIXES,
    TIFF_SUFFIXES,
    ImageVolume,
    read_image,
    volume_suffix,
)
from hounsfield.data.volumes.resample import resample_to_spacing
from hounsfield.data.volumes.windowing import OutputRange, Window, apply_window, resolve_window

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"
VOLUMES_DIR = "volumes"
MANIFEST_VERSION = 1
_SPLITS: tuple[SplitName, ...] = ("train", "val", "test")


class VolumePrepareConfig(BaseModel):
    """How to validate, preprocess and split one volume dataset (stored in the manifest)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    window: str | tuple[float, float] = Field(default="full", description="preset name or (level, width) HU")
    output_range: OutputRange = "0,1"
    target_spacing: tuple[float, float, float] | None = None
    min_shape: tuple[int, int, int] = (16, 16, 16)
    spacing_mm: tuple[float, float] = Field(
        default=(0.01, 20.0), description="allowed spacing range per axis"
    )
    tiff_spacing: tuple[float, float, float] | None = None
    patient_pattern: str = r"^(?P<patient>[^/]+)/"
    patient_csv: Path | None = None
    split_csv: Path | None = Field(default=None, description="user split: CSV case_id,split")
    fractions: SplitFractions = SplitFractions()
    seed: int = 0

    def resolved_window(self) -> Window:
        if isinstance(self.window, str):
            return resolve_window(self.window)
        return resolve_window(Window(level=self.window[0], width=self.window[1]))


class VolumeCase(BaseModel):
    """A case that passed validation, with where its prepared array is."""

    model_config = ConfigDict(frozen=True)

    case_id: str
    patient_id: str
    source: str
    source_fingerprint: str
    content_sha256: str
    shape: tuple[int, int, int]
    spacing: tuple[float, float, float]
    prepared: str  # relative to the manifest's directory
    split: SplitName


class VolumeExclusion(BaseModel):
    model_config = ConfigDict(frozen=True)

    case_id: str
    source: str
    code: DataErrorCode
    reason: str


class VolumeManifest(BaseModel):
    """What ``manifest.json`` holds."""

    version: int = MANIFEST_VERSION
    root: str
    settings: VolumePrepareConfig
    cases: list[VolumeCase]
    excluded: list[VolumeExclusion]
    split_counts: dict[str, int]

    def split(self, name: str) -> list[VolumeCase]:
        return [c for c in self.cases if c.split == name]


def discover_volumes(root: Path) -> dict[str, Path]:
    """case_id (path relative to ``root`` without suffix) -> file or DICOM/TIFF-slice directory."""
    if not root.is_dir():
        raise DataError(DataErrorCode.MISSING_FILE, f"dataset root {root} is not a directory")
    found: dict[str, Path] = {}
    for path in sorted(root.rglob("*")):
        suffix = volume_suffix(path)
        if path.is_file() and suffix in (*NIFTI_SUFFIXES, *NRRD_SUFFIXES, *TIFF_SUFFIXES):
            if suffix in TIFF_SUFFIXES and _is_slice_directory(path.parent):
                continue  # one slice of a directory stack, which is the case
            found[path.relative_to(root).as_posix()[: -len(suffix)]] = path
        elif path.is_dir() and (
            _is_slice_directory(path) or any(p.suffix.lower() == ".dcm" for p in path.iterdir())
        ):
            found[path.relative_to(root).as_posix()] = path
    return found


def _is_slice_directory(path: Path) -> bool:
    return sum(1 for p in path.iterdir() if volume_suffix(p) in TIFF_SUFFIXES) > 1


def prepare_volumes(root: Path, out_dir: Path, config: VolumePrepareConfig | None = None) -> VolumeManifest:
    """Validate, preprocess, split and write ``out_dir/manifest.json`` (see the module docstring)."""
    config = config or VolumePrepareConfig()
    window = config.resolved_window()
    sources = discover_volumes(root)
    patients = _patients(sources, config)
    user_split = _read_user_split(config.split_csv, patients) if config.split_csv else None
    volumes_dir = out_dir / VOLUMES_DIR
    volumes_dir.mkdir(parents=True, exist_ok=True)
    kept: list[dict[str, Any]] = []
    excluded: list[VolumeExclusion] = []
    seen: dict[str, str] = {}
    for case_id, source in sources.items():
        try:
            hu, spacing, content = _validate(source, config)
            if content in seen:
                raise DataError(DataErrorCode.DUPLICATE, f"{case_id}: same voxels as {seen[content]}")
            seen[content] = case_id
            if user_split is not None and case_id not in user_split:
                raise DataError(DataErrorCode.NOT_IN_SPLIT, f"{case_id} is not listed in {config.split_csv}")
        except DataError as exc:
            logger.warning("excluding %s: %s", case_id, exc)
            excluded.append(
                VolumeExclusion(case_id=case_id, source=str(source), code=exc.code, reason=exc.message)
            )
            continue
        prepared = _preprocess(hu, spacing, window, config)
        relative = f"{VOLUMES_DIR}/{case_id}.npy"
        (out_dir / relative).parent.mkdir(parents=True, exist_ok=True)
        np.save(out_dir / relative, prepared.data)
        kept.append(
            {
                "case_id": case_id,
                "patient_id": patients[case_id],
                "source": str(source),
                "source_fingerprint": _fingerprint(source),
                "content_sha256": content,
                "shape": prepared.shape,
                "spacing": prepared.spacing,
                "prepared": relative,
            }
        )
    splits = user_split or split_by_patient(
        {c["case_id"]: c["patient_id"] for c in kept}, config.fractions, config.seed
    )
    cases = [VolumeCase(**c, split=splits[c["case_id"]]) for c in kept]
    manifest = VolumeManifest(
        root=str(root),
        settings=config,
        cases=cases,
        excluded=excluded,
        split_counts={s: sum(1 for c in cases if c.split == s) for s in _SPLITS},
    )
    (out_dir / MANIFEST).write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return manifest


def _validate(
    source: Path, config: VolumePrepareConfig
) -> tuple[np.ndarray[Any, Any], tuple[float, float, float], str]:
    volume = read_image(source, tiff_spacing=config.tiff_spacing)
    data = volume.array(np.float32) if volume.data.dtype.kind == "f" else np.asarray(volume.data)
    if not np.all(np.isfinite(data)):
        bad = int(np.count_nonzero(~np.isfinite(data)))
        raise DataError(DataErrorCode.NOT_FINITE, f"{source}: {bad} voxels are NaN or infinite")
    low, high = config.spacing_mm
    if not all(low <= s <= high for s in volume.spacing):
        raise DataError(
            DataErrorCode.INVALID_SPACING,
            f"{source}: spacing {tuple(round(s, 4) for s in volume.spacing)} mm is outside "
            f"[{low}, {high}] (spacing_mm)",
        )
    if any(n < m for n, m in zip(volume.shape, config.min_shape, strict=True)):
        raise DataError(
            DataErrorCode.TOO_SMALL, f"{source}: shape {volume.shape} below min_shape {config.min_shape}"
        )
    if float(data.min()) == float(data.max()):
        raise DataError(DataErrorCode.CONSTANT_INTENSITY, f"{source}: every voxel is {float(data.min())}")
    digest = hashlib.sha256(f"{data.dtype.str}{data.shape}".encode())
    digest.update(np.ascontiguousarray(data).tobytes())
    return data, volume.spacing, digest.hexdigest()


@dataclass(frozen=True)
class _Prepared:
    data: np.ndarray[Any, Any]
    spacing: tuple[float, float, float]

    @property
    def shape(self) -> tuple[int, int, int]:
        return (int(self.data.shape[0]), int(self.data.shape[1]), int(self.data.shape[2]))


def _preprocess(
    hu: np.ndarray[Any, Any], spacing: tuple[float, float, float], window: Window, config: VolumePrepareConfig
) -> _Prepared:
    if config.target_spacing is not None:
        resampled = resample_to_spacing(
            ImageVolume(hu.astype(np.float32), spacing, np.diag([*spacing, 1.0])), config.target_spacing
        )
        hu, spacing = np.asarray(resampled.data), resampled.spacing
    return _Prepared(apply_window(hu, window, config.output_range), spacing)


def _patients(sources: dict[str, Path], config: VolumePrepareConfig) -> dict[str, str]:
    if config.patient_csv is not None:
        with config.patient_csv.open(newline="", encoding="utf-8") as handle:
            table = {row["case_id"]: row["patient_id"] for row in csv.DictReader(handle)}
        missing = sorted(set(sources) - set(table))
        if missing:
            raise DataError(
                DataErrorCode.NO_PATIENT, f"{config.patient_csv} has no patient_id for {missing[:5]}"
            )
        return {case_id: table[case_id] for case_id in sources}
    pattern = re.compile(config.patient_pattern)
    patients = {}
    for case_id in sources:
        match = pattern.search(case_id)
        if match is None or not match.groupdict().get("patient"):
            raise DataError(
                DataErrorCode.NO_PATIENT,
                f"case {case_id!r} does not match patient_pattern {config.patient_pattern!r} "
                "(a regex with a named group 'patient'); fix the pattern or give patient_csv",
            )
        patients[case_id] = match.group("patient")
    return patients


def _read_user_split(path: Path, patients: dict[str, str]) -> dict[str, SplitName]:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    split: dict[str, SplitName] = {}
    for row in rows:
        name = row.get("split", "")
        if name not in _SPLITS:
            raise DataError(
                DataErrorCode.INVALID_LAYOUT,
                f"{path}: split {name!r} of {row.get('case_id')} is not train/val/test",
            )
        split[row["case_id"]] = name  # type: ignore[assignment]
    sets: dict[str, set[str]] = {}
    for case_id, name in split.items():
        if case_id in patients:
            sets.setdefault(patients[case_id], set()).add(name)
    overlapping = {p: sorted(s) for p, s in sorted(sets.items()) if len(s) > 1}
    if overlapping:
        named = "; ".join(f"{p} in {', '.join(s)}" for p, s in overlapping.items())
        raise DataError(
            DataErrorCode.SPLIT_OVERLAP,
            f"{path} puts patients in more than one split: {named}; move each patient's cases into one split",
        )
    return split


def split_by_patient(patients: dict[str, str], fractions: SplitFractions, seed: int) -> dict[str, SplitName]:
    """case_id -> split, whole patients per split, ordered by a seeded hash of the patient id.

    At least one patient goes to ``val`` when there are two or more patients and ``val`` > 0, so
    validation always has a case.
    """
    order = sorted(set(patients.values()), key=lambda p: hashlib.sha256(f"{seed}:{p}".encode()).hexdigest())
    n = len(order)
    n_val = min(max(int(round(fractions.val * n)), 1 if fractions.val > 0 and n > 1 else 0), n)
    n_train = min(int(round(fractions.train * n)), n - n_val)
    chosen: dict[str, SplitName] = {}
    for rank, patient in enumerate(order):
        chosen[patient] = "train" if rank < n_train else "val" if rank < n_train + n_val else "test"
    return {case_id: chosen[p] for case_id, p in patients.items()}


def _fingerprint(source: Path) -> str:
    """Size and mtime of the source file(s): cheap, and changes whenever a file is replaced."""
    files = sorted(source.rglob("*")) if source.is_dir() else [source]
    parts = [f"{f.name}:{f.stat().st_size}:{f.stat().st_mtime_ns}" for f in files if f.is_file()]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def manifest_hash(out_dir: Path) -> str:
    """sha256 of ``manifest.json`` (the provenance recorded in checkpoints)."""
    return hashlib.sha256((out_dir / MANIFEST).read_bytes()).hexdigest()


def load_manifest(out_dir: Path) -> VolumeManifest:
    path = out_dir / MANIFEST
    if not path.is_file():
        raise DataError(
            DataErrorCode.MISSING_FILE, f"{path} does not exist; run hounsfield.data.volumes.prepare"
        )
    return VolumeManifest.model_validate_json(path.read_text(encoding="utf-8"))


def is_stale(root: Path, out_dir: Path, config: VolumePrepareConfig) -> str | None:
    """Why ``out_dir``'s manifest cannot be reused for ``root`` and ``config`` (``None``: it can)."""
    try:
        manifest = load_manifest(out_dir)
    except (DataError, ValueError) as exc:
        return f"no usable manifest ({exc})"
    if manifest.version != MANIFEST_VERSION or manifest.settings != config:
        return "the preparation settings changed"
    sources = discover_volumes(root)
    known = {c.case_id: c.source_fingerprint for c in manifest.cases}
    known_excluded = {e.case_id for e in manifest.excluded}
    if set(sources) != set(known) | known_excluded:
        return "cases were added or removed"
    if any(_fingerprint(sources[cid]) != fp for cid, fp in known.items()):
        return "a source file changed"
    if any(not (out_dir / c.prepared).is_file() for c in manifest.cases):
        return "a prepared volume is missing"
    return None


def ensure_prepared(root: Path, out_dir: Path, config: VolumePrepareConfig) -> VolumeManifest:
    """The manifest in ``out_dir``, prepared again first if it is missing or stale."""
    reason = is_stale(root, out_dir, config)
    if reason is None:
        return load_manifest(out_dir)
    logger.info("preparing %s into %s: %s", root, out_dir, reason)
    return prepare_volumes(root, out_dir, config)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m hounsfield.data.volumes.prepare", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "root", type=Path, help="dataset directory (NIfTI/NRRD/TIFF files, DICOM directories)"
    )
    parser.add_argument("out", type=Path, help="where the manifest and prepared volumes go")
    parser.add_argument(
        "--window",
        default="full",
        help="HU window preset (full, lung, ctpa, ...) or LEVEL,WIDTH (write --window=-600,1500)",
    )
    parser.add_argument("--range", dest="output_range", choices=["0,1", "-1,1"], default="0,1")
    parser.add_argument(
        "--spacing", type=float, nargs=3, metavar=("X", "Y", "Z"), help="resample to this spacing (mm)"
    )
    parser.add_argument("--min-shape", type=int, nargs=3, default=(16, 16, 16), metavar=("X", "Y", "Z"))
    parser.add_argument("--tiff-spacing", type=float, nargs=3, metavar=("X", "Y", "Z"))
    parser.add_argument("--patient-pattern", default=r"^(?P<patient>[^/]+)/")
    parser.add_argument("--patient-csv", type=Path)
    parser.add_argument("--split-csv", type=Path, help="user split: CSV with case_id,split")
    parser.add_argument(
        "--fractions", type=float, nargs=3, default=(0.7, 0.1, 0.2), metavar=("TRAIN", "VAL", "TEST")
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    window: str | tuple[float, float] = args.window
    if "," in args.window:
        level, width = (float(v) for v in args.window.split(","))
        window = (level, width)
    try:
        config = VolumePrepareConfig(
            window=window,
            output_range=args.output_range,
            target_spacing=tuple(args.spacing) if args.spacing else None,
            min_shape=tuple(args.min_shape),
            tiff_spacing=tuple(args.tiff_spacing) if args.tiff_spacing else None,
            patient_pattern=args.patient_pattern,
            patient_csv=args.patient_csv,
            split_csv=args.split_csv,
            fractions=SplitFractions(train=args.fractions[0], val=args.fractions[1], test=args.fractions[2]),
            seed=args.seed,
        )
        manifest = prepare_volumes(args.root, args.out, config)
    except (DataError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{len(manifest.cases)} usable, {len(manifest.excluded)} excluded; split {manifest.split_counts}")
    for exclusion in manifest.excluded:
        print(f"  excluded {exclusion.case_id}: {exclusion.code.value}: {exclusion.reason}")
    print(f"manifest {args.out / MANIFEST} sha256 {manifest_hash(args.out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
