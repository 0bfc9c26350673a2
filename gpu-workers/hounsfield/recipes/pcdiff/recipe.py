"""The ``pcdiff`` recipe: PCDiff's skull-conditioned point diffusion model.

Each sample is the defective skull's points followed by the implant's points (normalised by the
defective skull's bounding box); the implant is noised to a random timestep and PVCNN2 learns to
predict that noise (MSE on the implant points only). Examples::

    python -m hounsfield.recipes.pcdiff --preset cpu-tiny --synthetic 6 --steps 50
    python -m hounsfield.recipes.pcdiff --preset paper-skullbreak --data-root /data/SkullBreak
    torchrun --nproc_per_node=2 -m hounsfield.recipes.pcdiff --preset cpu-tiny --synthetic 6

Under the platform this is the ``pcdiff`` job kind; its config is the job's ``config``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from hounsfield.data.skullbreak import SkullCompletionDataset
from hounsfield.diffusion import EMA, NoiseSchedule, implant_noise_loss
from hounsfield.models.pvcnn2 import PVCNN2
from hounsfield.recipes.base import BuildContext, Recipe
from hounsfield.recipes.pcdiff import KIND, VERSION
from hounsfield.recipes.pcdiff.config import PRESETS, PCDiffTrainConfig
from hounsfield.recipes.skull_cases import training_cases, validation_cases
from hounsfield.trainers.parts import (
    Batch,
    LossFn,
    TrainingParts,
    ValidationRequest,
    ValidationResult,
    Validator,
)
from hounsfield.trainers.sampler import position_seed, seeded_item

_STREAM_T, _STREAM_NOISE, _STREAM_VALIDATION = 2, 3, 12
#: Validation scores the implant-noise MSE at these fractions of the diffusion's T.
VALIDATION_TIMESTEP_FRACTIONS = (0.1, 0.5, 0.9)


def completion_cloud(batch: Batch) -> Tensor:
    """``(B, 3, S + I)``: the defective skull's points first, the implant's last."""
    return torch.cat([batch["defective_points"], batch["implant_points"]], dim=1).transpose(1, 2).contiguous()


def sample_draws(
    batch: Batch, schedule: NoiseSchedule, n_implant: int, seed: int, fixed_noise_per_case: bool
) -> tuple[Tensor, Tensor]:
    """Per-sample timesteps ``(B,)`` and implant noise ``(B, 3, n_implant)``, on the CPU.

    Seeded by each sample's global position (or, for the noise with ``fixed_noise_per_case``, by
    its case index), so they do not depend on how the global batch was split over processes.
    """
    positions = [int(p) for p in batch["position"]]
    indices = [int(i) for i in batch["index"]]
    ts, noises = [], []
    for position, index in zip(positions, indices, strict=True):
        t_gen = torch.Generator().manual_seed(position_seed(seed, position, _STREAM_T))
        ts.append(torch.randint(schedule.num_timesteps, (1,), generator=t_gen))
        noise_key = index if fixed_noise_per_case else position
        noise_gen = torch.Generator().manual_seed(position_seed(seed, noise_key, _STREAM_NOISE))
        noises.append(torch.randn(3, n_implant, generator=noise_gen))
    return torch.cat(ts), torch.stack(noises)


def pcdiff_loss(config: PCDiffTrainConfig, schedule: NoiseSchedule) -> LossFn:
    """The micro-batch loss: mean implant-noise MSE with per-sample seeded timesteps and noise."""
    n_skull = config.points.n_defective

    def loss(model: torch.nn.Module, batch: Batch, step: int) -> Tensor:
        x0 = completion_cloud(batch)
        t, noise = sample_draws(
            batch, schedule, x0.shape[2] - n_skull, config.seed, config.fixed_noise_per_case
        )
        per_sample = implant_noise_loss(
            model, schedule, x0, n_skull, t=t.to(x0.device), noise=noise.to(x0.device, x0.dtype)
        )
        return per_sample.mean()

    return loss


def validator(
    config: PCDiffTrainConfig, schedule: NoiseSchedule, dataset: SkullCompletionDataset
) -> Validator:
    """``val.noise_mse``: the implant-noise MSE of held-out cases at fixed timesteps
    (``VALIDATION_TIMESTEP_FRACTIONS`` of T) and fixed noise per case, with the EMA weights when
    the run keeps them (what sampling uses), so successive validations are comparable."""
    n_skull = config.points.n_defective
    timesteps = [
        min(schedule.num_timesteps - 1, int(f * schedule.num_timesteps))
        for f in VALIDATION_TIMESTEP_FRACTIONS
    ]

    def validate(request: ValidationRequest) -> ValidationResult:
        network = request.model
        if request.ema is not None:
            network = PVCNN2(config.model).to(request.device).eval()
            request.ema.copy_to(network)
        total, count = 0.0, 0
        for index in request.shard(range(len(dataset))):
            item = seeded_item(dataset, index, config.seed, _STREAM_VALIDATION)
            x0 = completion_cloud({k: v.unsqueeze(0) for k, v in item.items() if k.endswith("_points")})
            x0 = x0.to(request.device).expand(len(timesteps), -1, -1)
            generator = torch.Generator().manual_seed(
                position_seed(config.seed, index, _STREAM_VALIDATION + 1)
            )
            noise = torch.randn(len(timesteps), 3, x0.shape[2] - n_skull, generator=generator)
            t = torch.tensor(timesteps, device=request.device)
            loss = implant_noise_loss(network, schedule, x0, n_skull, t=t, noise=noise.to(request.device))
            total += float(loss.mean())
            count += 1
        return ValidationResult(sums={"noise_mse": total}, count=count)

    return validate


def build(config: PCDiffTrainConfig, ctx: BuildContext) -> TrainingParts:
    cases = training_cases(config, ctx.output_dir, ctx.dist)
    cache = config.cache_dir or ctx.output_dir / "cache"
    dataset = SkullCompletionDataset(cases, config.points, cache)
    model = PVCNN2(config.model).to(ctx.device)
    ema = EMA(model, config.ema_decay) if config.ema_decay is not None else None
    schedule = NoiseSchedule.from_config(config.schedule)
    held_out = SkullCompletionDataset(validation_cases(config, ctx.output_dir), config.points, cache)
    return TrainingParts(
        model=model,
        loss_fn=pcdiff_loss(config, schedule),
        dataset=dataset,
        ema=ema,
        validate=validator(config, schedule, held_out),
    )


RECIPE = Recipe[PCDiffTrainConfig](
    kind=KIND,
    version=VERSION,
    description=__doc__ or "",
    config=PCDiffTrainConfig,
    presets=PRESETS,
    build=build,
)
