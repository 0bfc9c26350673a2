"""The slice_interp data: prepared thin-slice volumes, their (thick, thin) pairs and cached latents.

Rank 0 generates phantoms if asked (``synthetic``; 1 mm slices over the phantoms' 362 mm) and
prepares the dataset (``hounsfield.data.volumes.prepare``: broken cases excluded *before* the
patient-level split), then encodes every pair of the training and validation cases with the frozen
VAE into the latent cache (:class:`~hounsfield.recipes.slice_interp.chunking.LatentCache`, keyed
by the VAE hash, chunk settings and the pair's content), and computes the latent scale factor from
the training thin latents. The other ranks wait at a barrier and then read the same files, so the
VAE runs once per pair and job (and not at all when the cache is warm), never once per epoch.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor
from torch.utils.data import Dataset

from hounsfield.data.ct_phantoms import FIELD_OF_VIEW_MM
from hounsfield.data.errors import DataError, DataErrorCode
from hounsfield.data.prepare import SplitFractions
from hounsfield.data.volumes.prepare import (
    VolumeCase,
    VolumeManifest,
    VolumePrepareConfig,
)
from hounsfield.recipes.slice_interp.chunking import (
    LatentCache,
    latent_scale_factor,
    read_scale_factor,
    write_scale_factor,
)
from hounsfield.recipes.slice_interp.config import SliceInterpConfig
from hounsfield.recipes.slice_interp.pairs import PairGeometry, make_pair, pair_starts
from hounsfield.recipes.slice_interp.vae import FrozenVAE
from hounsfield.recipes.volume_cases import Phantoms, prepared_volumes
from hounsfield.trainers.ddp import DistributedContext, barrier
from hounsfield.trainers.errors import TrainerError, TrainerErrorCode

_log = logging.getLogger(__name__)

LATENT_DIR = "latents"


def prepare_config(config: SliceInterpConfig) -> VolumePrepareConfig:
    v, g = config.volumes, config.pairs
    return VolumePrepareConfig(
        window=v.window,
        output_range="0,1",  # the MAISI VAE's input range
        target_spacing=v.target_spacing,
        min_shape=(g.in_plane[0], g.in_plane[1], g.thin_slices),
        tiff_spacing=v.tiff_spacing,
        patient_pattern=v.patient_pattern,
        patient_csv=v.patient_csv,
        split_csv=config.split_csv,
        fractions=SplitFractions(train=0.6, val=0.2, test=0.2),
        seed=config.seed,
    )


def prepared_dataset(
    config: SliceInterpConfig, output_dir: Path, context: DistributedContext
) -> tuple[Path, VolumeManifest]:
    """The prepared directory and its manifest, the same on every rank."""
    phantoms = None
    if config.synthetic is not None:
        depth = round(FIELD_OF_VIEW_MM[2] / config.pairs.thin_spacing_mm)
        shape = (config.pairs.in_plane[0], config.pairs.in_plane[1], depth)
        phantoms = Phantoms(config.synthetic.subjects, shape, config.synthetic.seed)
    prepare = prepare_config(config)
    return prepared_volumes(config, phantoms, prepare, output_dir, context, expects="thin-slice CT volumes")


@dataclass(frozen=True)
class PairRef:
    """One pair of one prepared case: where it starts and its cache keys."""

    case: VolumeCase
    z_start: int
    thin_key: str
    thick_key: str


def pair_refs(cases: list[VolumeCase], geometry: PairGeometry, per_case: int | None) -> list[PairRef]:
    """The pairs of ``cases`` (case order, then z), at most ``per_case`` centred ones per case."""
    refs = []
    for case in cases:
        starts = pair_starts(case.shape[2], geometry)
        if not starts:
            raise DataError(
                DataErrorCode.TOO_SMALL,
                f"{case.case_id}: {case.shape[2]} slices, fewer than pairs.thinSlices {geometry.thin_slices}",
            )
        if per_case is not None and len(starts) > per_case:
            first = (len(starts) - per_case) // 2
            starts = starts[first : first + per_case]
        for start in starts:
            material = json.dumps(
                {"case": case.content_sha256, "z": start, "pair": geometry.describe()}, sort_keys=True
            )
            key = hashlib.sha256(material.encode()).hexdigest()[:32]
            refs.append(PairRef(case, start, f"{key}-thin", f"{key}-thick"))
    return refs


def load_pair_arrays(
    prepared: Path, ref: PairRef, geometry: PairGeometry
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """``(thick, thin)`` volumes of a pair, ``(x, y, z)`` in the prepared intensity range."""
    volume = np.load(prepared / ref.case.prepared, mmap_mode="r")
    pair = make_pair(
        np.asarray(volume[:, :, ref.z_start : ref.z_start + geometry.thin_slices]),
        ref.case.spacing,
        geometry,
        z_start=0,
        case_id=ref.case.case_id,
    )
    return pair.thick, pair.thin


def encode_pairs(cache: LatentCache, prepared: Path, refs: list[PairRef], geometry: PairGeometry) -> None:
    """Fills the latent cache for ``refs`` (the VAE runs only for missing entries)."""
    for ref in refs:
        if cache.path(ref.thin_key).is_file() and cache.path(ref.thick_key).is_file():
            continue
        thick, thin = load_pair_arrays(prepared, ref, geometry)
        cache.get_or_encode(ref.thin_key, constant(thin))
        cache.get_or_encode(ref.thick_key, constant(thick))


def constant(array: npt.NDArray[np.float32]) -> Callable[[], npt.NDArray[np.float32]]:
    """A volume the cache may ask for (it already is in memory)."""

    def get() -> npt.NDArray[np.float32]:
        return array

    return get


def latent_cache(config: SliceInterpConfig, prepared: Path, vae: FrozenVAE) -> LatentCache:
    directory = config.volumes.latent_cache_dir or prepared / LATENT_DIR
    return LatentCache(directory, vae, config.vae.chunks())


def ensure_latents(
    config: SliceInterpConfig,
    prepared: Path,
    vae: FrozenVAE,
    training: list[PairRef],
    validation: list[PairRef],
    context: DistributedContext,
) -> tuple[LatentCache, float]:
    """Rank 0 encodes what is missing and stores the scale factor; every rank returns both."""
    cache = latent_cache(config, prepared, vae)
    geometry = config.pairs.geometry()
    if context.is_main:
        encode_pairs(cache, prepared, training + validation, geometry)
        _log.info("latent cache %s: %d pair volume(s) encoded by this run", cache.directory, cache.encoded)
        scale = read_scale_factor(cache.directory / _scale_dir(training), vae)
        if scale is None:
            scale = latent_scale_factor(np.load(cache.path(ref.thin_key), mmap_mode="r") for ref in training)
            write_scale_factor(
                cache.directory / _scale_dir(training), scale, vae, [r.thin_key for r in training]
            )
    barrier(context)
    stored = read_scale_factor(cache.directory / _scale_dir(training), vae)
    if stored is None:
        raise TrainerError(TrainerErrorCode.MISSING_DATA, f"no latent scale factor in {cache.directory}")
    return cache, stored


def _scale_dir(training: list[PairRef]) -> str:
    """One scale factor per set of training pairs (another split gets its own)."""
    keys = "\n".join(sorted(r.thin_key for r in training))
    return "scale-" + hashlib.sha256(keys.encode()).hexdigest()[:16]


class LatentPairDataset(Dataset[dict[str, Tensor]]):
    """``{"thin": C×x×y×z, "thick": C×x×y×z_thick}`` scaled latents of the training pairs."""

    def __init__(self, cache: LatentCache, refs: list[PairRef], scale: float) -> None:
        self.thin = [cache.path(r.thin_key) for r in refs]
        self.thick = [cache.path(r.thick_key) for r in refs]
        self.scale = scale

    def __len__(self) -> int:
        return len(self.thin)

    def __getitem__(self, item: int) -> dict[str, Tensor]:
        thin = np.load(self.thin[item]).astype(np.float32) * self.scale
        thick = np.load(self.thick[item]).astype(np.float32) * self.scale
        return {"thin": torch.from_numpy(thin), "thick": torch.from_numpy(thick)}
