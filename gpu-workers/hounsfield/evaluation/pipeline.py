"""The implant pipeline of one evaluation case, from trained networks to metrics.

For a defective skull: sample ``n`` implant point clouds (DDPM or DDIM, in one batch), voxelize
defective skull + each implant's points, keep what is not defective skull, vote the members
voxel-wise, post-process (with fallback to the unfiltered vote when cleaning empties it), and score
DSC, boundary DSC (10 mm band), HD95 (mm) and the surface Chamfer distance CD (mm) against the
ground-truth implant.

A case's randomness comes from its seed only (surface sampling and diffusion noise), so the same
case gives the same result on any shard and after any redelivery.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from hounsfield.checkpoints.reader import read_checkpoint
from hounsfield.data.cases import SkullCase
from hounsfield.data.coordinates import BoxNormalisation
from hounsfield.data.skullbreak import SkullCompletionDataset
from hounsfield.data.volume_io import read_mask
from hounsfield.diffusion import NoiseSchedule, SamplerConfig, sample_implants
from hounsfield.evaluation.ensemble import majority_vote
from hounsfield.evaluation.metrics import boundary_dice, dice, hd95, surface_chamfer
from hounsfield.evaluation.postprocess import PostprocessOptions, postprocess_implant
from hounsfield.models.pvcnn2 import PVCNN2
from hounsfield.models.voxelization import Encode2Points
from hounsfield.recipes.pcdiff.config import PCDiffTrainConfig
from hounsfield.recipes.pcdiff.recipe import RECIPE as PCDIFF
from hounsfield.recipes.runner import assemble_config
from hounsfield.recipes.voxelization.recipe import RECIPE as VOXELIZATION

Mask = npt.NDArray[np.bool_]

#: The metrics every case reports, in report order.
CASE_METRICS = ("DSC", "bDSC", "HD95", "CD")


@dataclass(frozen=True)
class ImplantNetworks:
    """The diffusion model (with its noise schedule and point counts) and the voxelizer, in eval mode."""

    config: PCDiffTrainConfig
    diffusion: PVCNN2
    schedule: NoiseSchedule
    voxelizer: Encode2Points

    @classmethod
    def load(
        cls,
        diffusion_dir: Path,
        diffusion_config: Mapping[str, Any],
        voxelizer_dir: Path,
        voxelizer_config: Mapping[str, Any],
        weights: str = "ema",
    ) -> ImplantNetworks:
        """Builds both networks from their trainer configs and loads the checkpoints' weights (CPU)."""
        config = assemble_config(PCDIFF, diffusion_config, {}, {})
        vox_config = assemble_config(VOXELIZATION, voxelizer_config, {}, {})
        state, _ = read_checkpoint(diffusion_dir)
        diffusion = PVCNN2(config.model)
        use_ema = weights == "ema" and "ema" in state
        diffusion.load_state_dict(state["ema"]["shadow"] if use_ema else state["model"])
        vox_state, _ = read_checkpoint(voxelizer_dir)
        voxelizer = Encode2Points(vox_config.model)
        voxelizer.load_state_dict(vox_state["model"])
        diffusion.eval()
        voxelizer.eval()
        return cls(config, diffusion, NoiseSchedule.from_config(config.schedule), voxelizer)


@dataclass(frozen=True)
class CaseInputs:
    """A case's point clouds in the diffusion frame, its box normalisation and its masks."""

    case: SkullCase
    skull: torch.Tensor  # (3, S) normalised defective-skull points
    norm: BoxNormalisation
    defective: Mask
    truth: Mask


@dataclass(frozen=True)
class CaseOutcome:
    """The scored implant of one case and what is stored of it."""

    metrics: dict[str, float]
    implant: Mask
    implant_points_vox: npt.NDArray[np.float32]  # (members, I, 3) generated points, voxel frame
    spacing_mm: tuple[float, float, float]
    fallback: bool
    seconds: float


def load_case(case: SkullCase, networks: ImplantNetworks, cache_dir: Path, seed: int) -> CaseInputs:
    """Surface points (drawn with ``seed``), normalisation and masks of one case."""
    dataset = SkullCompletionDataset([case], networks.config.points, cache_dir)
    torch.manual_seed(seed)
    item = dataset[0]
    defective, _ = read_mask(case.defective_path)
    truth, _ = read_mask(case.implant_path)
    return CaseInputs(
        case=case,
        skull=item["defective_points"].T.contiguous(),
        norm=BoxNormalisation.from_batch(item),
        defective=defective.astype(bool),
        truth=truth.astype(bool),
    )


def sampler_config(
    method: str, steps: int, eta: float, t_start: int | None, clip_x0: float, ensemble_size: int
) -> SamplerConfig:
    """The diffusion sampler an evaluation spec asks for (``clip_x0`` 0 = no clipping)."""
    clip = (-clip_x0, clip_x0) if clip_x0 > 0 else None
    if method == "ddpm":
        return SamplerConfig(method="ddpm", t_start=t_start, clip_x0=clip, ensemble_size=ensemble_size)
    return SamplerConfig(
        method="ddim", steps=steps, eta=eta, t_start=t_start, clip_x0=clip, ensemble_size=ensemble_size
    )


def case_metrics(implant: Mask, inputs: CaseInputs) -> dict[str, float]:
    """The `CASE_METRICS` of an implant mask against the case's ground truth (distances in mm)."""
    spacing = inputs.norm.spacing_mm
    return {
        "DSC": float(dice(implant, inputs.truth)),
        "bDSC": float(boundary_dice(implant, inputs.truth, inputs.defective, spacing)),
        "HD95": float(hd95(implant, inputs.truth, spacing)),
        "CD": surface_chamfer(implant, inputs.truth, spacing),
    }


def evaluate_case(
    networks: ImplantNetworks,
    inputs: CaseInputs,
    sampler: SamplerConfig,
    postprocess: PostprocessOptions,
    seed: int,
) -> CaseOutcome:
    """Samples, voxelizes, votes, post-processes and scores one case."""
    started = time.perf_counter()
    n_implant = networks.config.points.n_implant
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        clouds = sample_implants(
            networks.diffusion, networks.schedule, inputs.skull[None], n_implant, sampler, generator=generator
        )[0]
        members: list[Mask] = []
        points_vox: list[npt.NDArray[np.float64]] = []
        for cloud in clouds:
            implant_points = cloud[:, -n_implant:]
            complete = networks.voxelizer.generate(
                torch.cat([inputs.skull, implant_points], dim=1).T, inputs.norm
            )
            members.append(np.asarray(complete, dtype=bool) & ~inputs.defective)
            points_vox.append(inputs.norm.normalised_to_voxel(implant_points.T.numpy()))
    voted = members[0] if len(members) == 1 else np.asarray(majority_vote(members), dtype=bool)
    cleaned = postprocess_implant(voted, np.concatenate(points_vox, axis=0), postprocess)
    implant = np.asarray(cleaned.mask, dtype=bool)
    return CaseOutcome(
        metrics=case_metrics(implant, inputs),
        implant=implant,
        implant_points_vox=np.stack(points_vox).astype(np.float32),
        spacing_mm=inputs.norm.spacing_mm,
        fallback=cleaned.fell_back,
        seconds=time.perf_counter() - started,
    )
