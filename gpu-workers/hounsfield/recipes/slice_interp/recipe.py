"""The ``slice_interp`` recipe: thick-to-thin CT slices by latent diffusion on a frozen MAISI VAE.

Pairs of thin (target) and thick (condition) slice blocks are cut from prepared thin-slice
volumes (``pairs.py``), encoded once by the frozen VAE into the latent cache (``data.py``), scaled
to unit variance by the latent scale factor of the training thin latents, and a 3-D
``DiffusionModelUNet`` learns to predict the noise (or ``v``) of the thin latent from the noisy
latent concatenated with the thick latent resampled to the thin depth (``model.py``; DDPM,
``diffusion.schedule`` linear/scaled_linear/cosine). Examples::

    python -m hounsfield.recipes.slice_interp --preset cpu-tiny --steps 100
    python -m hounsfield.recipes.slice_interp --preset seed-maisi --data-root /data/ct \\
        --config '{"vae": {"weights": "/models/maisi_autoencoder.safetensors"}}'

The VAE is never trained: it is not part of ``TrainingParts.model`` (so not in the optimiser nor
in checkpoints), its parameters do not require gradients, it stays in eval mode and runs under
``no_grad``. At start the job reports trainable and frozen parameter counts (``parameters``
event) and, without ``vae.weights``, a ``frozen_weights`` warning; checkpoint meta records the
VAE hash and whether it was pretrained (``provenance.py``). A wrong weights file fails in
:func:`preflight` (the runner calls it before the process group and the device are set up).

Validation (every ``validation.everySteps`` and at the end) samples the thin latent of the centred
pair of each fixed validation patient with DDIM (``diffusion.ddimSteps``, noise seeded per
patient), decodes it in chunks and reports ``val.psnr`` and ``val.ssim`` (3-D SSIM, data range 1)
against the thin ground truth, beside ``val.psnr_trilinear`` and ``val.ssim_trilinear`` of the
thick input interpolated trilinearly (the evaluation's baseline, ``pairs.trilinear_baseline``),
and ``val.psnr_autoencoder``/``val.ssim_autoencoder`` of the thin ground truth's own latent
decoded (what a perfect denoiser would give back; far below trilinear with random VAE weights,
which is why ``cpu-tiny`` cannot beat trilinear). In latent space (scaled units):
``val.latent_mse`` of the sample against the thin ground truth's latent, and
``val.latent_mse_trilinear`` of the thick latent resampled to the thin depth — what shows the
denoiser learning even when the VAE's weights are random.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from hounsfield.checkpoints.layout import CheckpointFormatError
from hounsfield.data.volumes.prepare import manifest_hash
from hounsfield.evaluation.image_quality import psnr, ssim3d
from hounsfield.recipes.base import BuildContext, Recipe
from hounsfield.recipes.slice_interp import KIND, VERSION
from hounsfield.recipes.slice_interp.chunking import LatentCache, decode_chunked
from hounsfield.recipes.slice_interp.config import PRESETS, SliceInterpConfig
from hounsfield.recipes.slice_interp.data import (
    LatentPairDataset,
    PairRef,
    constant,
    ensure_latents,
    load_pair_arrays,
    pair_refs,
    prepared_dataset,
)
from hounsfield.recipes.slice_interp.model import (
    build_denoiser,
    ddim_sample,
    diffusion_loss,
    resample_depth,
    training_scheduler,
)
from hounsfield.recipes.slice_interp.pairs import trilinear_baseline
from hounsfield.recipes.slice_interp.provenance import checkpoint_provenance
from hounsfield.recipes.slice_interp.vae import (
    FrozenVAE,
    architecture,
    check_vae_weights,
    parameter_counts,
)
from hounsfield.trainers.errors import TrainerError, TrainerErrorCode
from hounsfield.trainers.parts import (
    Batch,
    LossFn,
    TrainingParts,
    ValidationRequest,
    ValidationResult,
    unwrap,
)

_log = logging.getLogger(__name__)


def preflight(config: SliceInterpConfig) -> None:
    """Checks ``vae.weights`` (existence, sha256, every key and shape) without building the VAE
    anywhere but on the ``meta`` device: a wrong file fails here, naming the keys, before any
    device memory or process group is taken."""
    if config.vae.weights is None:
        return
    try:
        check_vae_weights(
            config.vae.weights, architecture(config.vae.config), expected_sha256=config.vae.sha256
        )
    except CheckpointFormatError as error:  # WeightsMismatchError included
        raise TrainerError(TrainerErrorCode.INVALID_CONFIG, f"vae.weights: {error}") from error


def load_vae(config: SliceInterpConfig, device: torch.device) -> FrozenVAE:
    try:
        return FrozenVAE(
            config.vae.config,
            weights=config.vae.weights,
            expected_sha256=config.vae.sha256,
            device=device,
            seed=config.seed,
        )
    except CheckpointFormatError as error:
        raise TrainerError(TrainerErrorCode.INVALID_CONFIG, f"vae.weights: {error}") from error


def make_loss(config: SliceInterpConfig) -> LossFn:
    scheduler = training_scheduler(config.diffusion)
    prediction = config.diffusion.prediction

    def loss(model: nn.Module, batch: Batch, step: int) -> torch.Tensor:
        return diffusion_loss(model, scheduler, batch["thin"], batch["thick"], prediction)

    return loss


class SliceInterpValidation:
    """DDIM samples of the validation pairs vs thin ground truth, trilinear and the VAE round trip,
    in image and latent space (see the module docstring). Holds the frozen VAE it decodes with."""

    def __init__(
        self,
        config: SliceInterpConfig,
        vae: FrozenVAE,
        cache: LatentCache,
        prepared: Path,
        refs: Sequence[PairRef],
        scale: float,
    ) -> None:
        self.config = config
        self.vae = vae
        self.cache = cache
        self.prepared = prepared
        self.refs = list(refs)
        self.scale = scale

    def __call__(self, request: ValidationRequest) -> ValidationResult:
        network = unwrap(request.model)
        geometry = self.config.pairs.geometry()
        chunks = self.config.vae.chunks()
        sums: dict[str, float] = defaultdict(float)
        count = 0
        for index, ref in request.shard(list(enumerate(self.refs))):
            thick, thin = load_pair_arrays(self.prepared, ref, geometry)
            thick_latent = torch.from_numpy(self.cache.get_or_encode(ref.thick_key, constant(thick)))
            condition = thick_latent[None].to(request.device) * self.scale
            thin_depth = condition.shape[-1] * geometry.factor
            generator = torch.Generator().manual_seed(self.config.seed * 100_003 + index)
            sample = ddim_sample(network, self.config.diffusion, condition, thin_depth, generator=generator)
            predicted = decode_chunked(self.vae, sample / self.scale, chunks)[0, 0].clamp(0.0, 1.0).numpy()
            baseline = np.clip(trilinear_baseline(thick, geometry.factor, geometry.mode), 0.0, 1.0)
            # the VAE round trip: the ground truth's latent decoded (what a perfect denoiser gives back)
            thin_latent = torch.from_numpy(self.cache.get_or_encode(ref.thin_key, constant(thin)))[None]
            round_trip = decode_chunked(self.vae, thin_latent, chunks)[0, 0].clamp(0.0, 1.0).numpy()
            # in latent space (scaled units), where the denoiser works whatever the VAE's weights
            target = thin_latent.to(sample.device) * self.scale
            sums["latent_mse"] += float(torch.mean((sample - target) ** 2))
            sums["latent_mse_trilinear"] += float(
                torch.mean((resample_depth(condition, thin_depth) - target) ** 2)
            )
            for name, volume in (("", predicted), ("_trilinear", baseline), ("_autoencoder", round_trip)):
                sums[f"psnr{name}"] += psnr(volume, thin, 1.0)
                sums[f"ssim{name}"] += ssim3d(volume, thin, 1.0)
            count += 1
        return ValidationResult(sums=dict(sums), count=count)


def build(config: SliceInterpConfig, ctx: BuildContext) -> TrainingParts:
    preflight(config)  # standalone runs and tests get the same early check
    vae = load_vae(config, ctx.device)
    prepared, manifest = prepared_dataset(config, ctx.output_dir, ctx.dist)
    geometry = config.pairs.geometry()
    training_cases = manifest.split(config.split)
    if not training_cases:
        raise TrainerError(
            TrainerErrorCode.EMPTY_SPLIT,
            f"split {config.split!r} of {prepared}/manifest.json has no usable volumes "
            f"({manifest.split_counts})",
        )
    held_out = manifest.split(config.validation.split)
    if config.validation.max_cases is not None:
        held_out = held_out[: config.validation.max_cases]
    training = pair_refs(training_cases, geometry, config.pairs.pairs_per_case)
    validation = pair_refs(held_out, geometry, 1)
    cache, scale = ensure_latents(config, prepared, vae, training, validation, ctx.dist)
    model = build_denoiser(config.denoiser, vae.arch.latent_channels).to(ctx.device)
    vae_ids = {id(p) for p in vae.module.parameters()}
    if any(id(p) in vae_ids for p in model.parameters()):
        raise TrainerError(TrainerErrorCode.INVALID_CONFIG, "the VAE must not be part of the trained model")
    trained, frozen = parameter_counts(model), parameter_counts(vae.module)
    description = vae.describe()
    ctx.run.report_event(
        "parameters",
        f"denoiser: {trained.trainable:,} trainable parameters; VAE ({vae.config_name}): "
        f"{frozen.frozen + frozen.trainable:,} frozen parameters, {frozen.trainable} trainable",
        {
            "trainable": trained.trainable + frozen.trainable,
            "frozen": trained.frozen + frozen.frozen,
            "denoiserTrainable": trained.trainable,
            "vaeFrozen": frozen.frozen,
            "vaeTrainable": frozen.trainable,
            "latentScaleFactor": scale,
            "trainingPairs": len(training),
            "validationPairs": len(validation),
            "vae": description,
        },
    )
    if not vae.pretrained:
        ctx.run.report_event(
            "frozen_weights",
            f"the {vae.config_name} VAE has random weights (no vae.weights given, seed {config.seed}): "
            "fine for tests and CPU runs, not a trained slice interpolator; set vae.weights to the MAISI "
            "autoencoder weights",
            {"vae": description},
            warning=True,
        )
    meta = checkpoint_provenance(config, vae, scale, {"dataManifestSha256": manifest_hash(prepared)})
    return TrainingParts(
        model=model,
        loss_fn=make_loss(config),
        dataset=LatentPairDataset(cache, training, scale),
        validate=SliceInterpValidation(config, vae, cache, prepared, validation, scale),
        checkpoint_meta=meta,
    )


RECIPE = Recipe[SliceInterpConfig](
    kind=KIND,
    version=VERSION,
    description=__doc__ or "",
    config=SliceInterpConfig,
    presets=PRESETS,
    build=build,
    preflight=preflight,
)
