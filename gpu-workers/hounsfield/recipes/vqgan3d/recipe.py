"""The ``vqgan3d`` recipe: a patch-wise 3-D VQGAN on CT volumes.

Training runs on patches (``volumes.patch``/``volumes.stride`` grid of every training volume) with
``l1Weight·L1 + commitmentWeight·commitment`` (+ the perceptual term when a weights path is given,
+ hinge generator terms of the 2-D slice and 3-D patch discriminators from
``discriminator.startStep``). The discriminators are auxiliary networks of the shared loop (their
own optimisers, checkpointed as ``aux-disc2d``/``aux-disc3d``). Examples::

    python -m hounsfield.recipes.vqgan3d --preset cpu-tiny --synthetic 6 --steps 100
    python -m hounsfield.recipes.vqgan3d --preset patchwise-ctpa --data-root /data/ctpa

Validation (every ``validation.everySteps`` and at the end) reconstructs whole held-out volumes
patch by patch through the overlap blending (``volumes.blend``, ``volumes.patchesInFlight``) and
reports ``val.psnr`` and ``val.ssim`` (3-D Gaussian SSIM; reconstruction clipped to the output
range, data range = its span: 1 for ``0,1``), ``val.perplexity`` and ``val.codes_used`` (fraction of
the codebook used on the volume, per volume) and ``val.dead_codes`` (codes whose EMA usage is
below the restart threshold). Every checkpoint's meta carries ``dataManifestSha256``.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

from hounsfield.data.patches import sliding_window_reconstruct
from hounsfield.data.volumes.prepare import VolumeCase, manifest_hash
from hounsfield.data.volumes.windowing import output_data_range
from hounsfield.evaluation.codebook import codebook_perplexity, codebook_usage
from hounsfield.evaluation.image_quality import psnr, ssim3d
from hounsfield.recipes.base import BuildContext, Recipe
from hounsfield.recipes.vqgan3d import KIND, VERSION
from hounsfield.recipes.vqgan3d.config import PRESETS, PerceptualConfig, VQGAN3DConfig
from hounsfield.recipes.vqgan3d.data import PatchDataset, load_volume, prepared_dataset
from hounsfield.recipes.vqgan3d.discriminator import (
    PatchDiscriminator,
    axial_slices,
    hinge_discriminator_loss,
    hinge_generator_loss,
)
from hounsfield.recipes.vqgan3d.model import VQGAN3D
from hounsfield.trainers.errors import TrainerError, TrainerErrorCode
from hounsfield.trainers.parts import (
    AuxiliaryUpdate,
    Batch,
    LossFn,
    LossOutput,
    TrainingParts,
    ValidationRequest,
    ValidationResult,
    Validator,
    unwrap,
)

_log = logging.getLogger(__name__)


def build_model(config: VQGAN3DConfig) -> VQGAN3D:
    m = config.model
    for axis, (size, factor) in enumerate(zip(config.volumes.patch, m.downsample, strict=True)):
        if size % factor:
            raise TrainerError(
                TrainerErrorCode.INVALID_CONFIG,
                f"volumes.patch[{axis}]={size} is not divisible by model.downsample[{axis}]={factor}",
            )
    try:
        return VQGAN3D(
            hidden_channels=m.hidden_channels,
            embedding_dim=m.embedding_dim,
            n_codes=m.n_codes,
            downsample=m.downsample,
            res_blocks=m.res_blocks,
            decay=m.codebook_decay,
            restart_threshold=m.restart_threshold,
        )
    except ValueError as error:
        raise TrainerError(TrainerErrorCode.INVALID_CONFIG, f"model.downsample: {error}") from error


def load_perceptual(config: PerceptualConfig, device: torch.device) -> tuple[nn.Module | None, str | None]:
    """The frozen TorchScript feature network and its sha256, or ``(None, None)`` when not asked for."""
    if config.weight == 0 or config.weights_path is None:
        if config.weight > 0:
            _log.warning(
                "perceptual.weight is %s but no perceptual.weightsPath: the term is off", config.weight
            )
        return None, None
    path = config.weights_path
    if not path.is_file():
        raise TrainerError(TrainerErrorCode.MISSING_DATA, f"perceptual.weightsPath {path} does not exist")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if config.sha256 is not None and digest != config.sha256:
        raise TrainerError(
            TrainerErrorCode.INVALID_CONFIG,
            f"perceptual.weightsPath {path} has sha256 {digest}, not perceptual.sha256",
        )
    try:
        network = torch.jit.load(str(path), map_location=device)
    except Exception as error:
        raise TrainerError(
            TrainerErrorCode.INVALID_CONFIG,
            f"perceptual.weightsPath {path} is not a TorchScript module: {error}",
        ) from error
    network.eval()
    for parameter in network.parameters():  # ScriptModules have no requires_grad_()
        parameter.requires_grad_(False)
    return network, digest


def perceptual_distance(network: nn.Module, real: Tensor, fake: Tensor, channels: int) -> Tensor:
    """Mean squared difference of channel-normalised features of 2-D slices (LPIPS without its
    learned linear layers)."""
    if channels == 3:
        real, fake = real.expand(-1, 3, -1, -1), fake.expand(-1, 3, -1, -1)
    outputs_real, outputs_fake = network(real), network(fake)
    if isinstance(outputs_real, Tensor):
        outputs_real, outputs_fake = [outputs_real], [outputs_fake]
    total = real.new_zeros(())
    for fr, ff in zip(outputs_real, outputs_fake, strict=True):
        fr = fr / (fr.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
        ff = ff / (ff.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
        total = total + (fr - ff).pow(2).sum(1).mean()
    return total / len(outputs_real)


def make_loss(
    config: VQGAN3DConfig,
    disc2d: nn.Module | None,
    disc3d: nn.Module | None,
    perceptual: nn.Module | None,
) -> LossFn:
    m, d, p = config.model, config.discriminator, config.perceptual

    def loss(model: nn.Module, batch: Batch, step: int) -> LossOutput:
        x = batch["volume"]
        recon, commitment, _ = model(x)
        l1 = (recon - x).abs().mean()
        total = m.l1_weight * l1 + m.commitment_weight * commitment
        terms = {"l1": l1.detach(), "commitment": commitment.detach()}
        if perceptual is not None:
            real = axial_slices(x, p.slices_per_patch, step)
            fake = axial_slices(recon, p.slices_per_patch, step)
            term = perceptual_distance(perceptual, real, fake, p.input_channels)
            total = total + p.weight * term
            terms["perceptual"] = term.detach()
        if step >= d.start_step:
            if disc2d is not None:
                term = hinge_generator_loss(disc2d(axial_slices(recon, d.slices_per_patch, step)))
                total = total + d.slice_weight * term
                terms["gan_slice"] = term.detach()
            if disc3d is not None:
                term = hinge_generator_loss(disc3d(recon))
                total = total + d.patch_weight * term
                terms["gan_patch"] = term.detach()
        return LossOutput(total=total, terms=terms, outputs={"recon": recon})

    return loss


def _discriminator_update(name: str, module: nn.Module, config: VQGAN3DConfig) -> AuxiliaryUpdate:
    d = config.discriminator
    slices = name == "disc2d"

    def loss(disc: nn.Module, batch: Batch, main: LossOutput, step: int) -> Tensor:
        real, fake = batch["volume"], main.outputs["recon"]
        if slices:
            real, fake = (
                axial_slices(real, d.slices_per_patch, step),
                axial_slices(fake, d.slices_per_patch, step),
            )
        logits = disc(torch.cat([real, fake]))  # one forward, so DDP sees one pass
        return hinge_discriminator_loss(logits[: real.shape[0]], logits[real.shape[0] :])

    return AuxiliaryUpdate(
        name=name, module=module, loss_fn=loss, start_step=d.start_step, lr_factor=d.lr_factor
    )


def validator(config: VQGAN3DConfig, prepared: Path, cases: Sequence[VolumeCase]) -> Validator:
    """Full-volume reconstructions of ``cases`` through the blending (see the module docstring)."""
    volumes = config.volumes
    data_range = output_data_range(volumes.output_range)
    low = -1.0 if volumes.output_range == "-1,1" else 0.0
    n_codes = config.model.n_codes

    def validate(request: ValidationRequest) -> ValidationResult:
        network = unwrap(request.model)
        assert isinstance(network, VQGAN3D)
        sums: dict[str, float] = defaultdict(float)
        count = 0
        for case in request.shard(list(cases)):
            volume = load_volume(prepared, case)
            indices: list[Tensor] = []

            def predict(patches: Tensor, indices: list[Tensor] = indices) -> Tensor:
                recon, _, codes = network(patches)
                indices.append(codes.flatten().cpu())
                return recon  # type: ignore[no-any-return]

            recon = sliding_window_reconstruct(
                volume,
                predict,
                volumes.patch,
                volumes.stride,
                mode=volumes.blend,
                patches_in_flight=volumes.patches_in_flight,
                device=request.device,
            )
            ref = volume[0, 0].numpy()
            out = recon[0, 0].clamp(low, low + data_range).numpy()
            codes = torch.cat(indices).numpy()
            sums["psnr"] += psnr(out, ref, data_range)
            sums["ssim"] += ssim3d(out, ref, data_range)
            sums["perplexity"] += codebook_perplexity(codes, n_codes)
            sums["codes_used"] += codebook_usage(codes, n_codes)
            count += 1
        if count:
            sums["dead_codes"] = float(network.quantizer.dead_codes() * count)
        return ValidationResult(sums=dict(sums), count=count)

    return validate


def build(config: VQGAN3DConfig, ctx: BuildContext) -> TrainingParts:
    prepared, manifest = prepared_dataset(config, ctx.output_dir, ctx.dist)
    training = manifest.split(config.split)
    if not training:
        raise TrainerError(
            TrainerErrorCode.EMPTY_SPLIT,
            f"split {config.split!r} of {prepared}/manifest.json has no usable volumes "
            f"({manifest.split_counts})",
        )
    dataset = PatchDataset(prepared, training, config.volumes.patch, config.volumes.stride)
    model = build_model(config).to(ctx.device)
    d = config.discriminator
    disc2d = PatchDiscriminator(2, d.channels, d.layers).to(ctx.device) if d.slice_weight > 0 else None
    disc3d = PatchDiscriminator(3, d.channels, d.layers).to(ctx.device) if d.patch_weight > 0 else None
    auxiliary = [
        _discriminator_update(n, m, config) for n, m in (("disc2d", disc2d), ("disc3d", disc3d)) if m
    ]
    perceptual, perceptual_sha = load_perceptual(config.perceptual, ctx.device)
    held_out = manifest.split(config.validation.split)
    if config.validation.max_cases is not None:
        held_out = held_out[: config.validation.max_cases]
    meta = {"dataManifestSha256": manifest_hash(prepared)}
    if perceptual_sha is not None:
        meta["perceptualSha256"] = perceptual_sha
    return TrainingParts(
        model=model,
        loss_fn=make_loss(config, disc2d, disc3d, perceptual),
        dataset=dataset,
        auxiliary=auxiliary,
        validate=validator(config, prepared, held_out),
        checkpoint_meta=meta,
    )


RECIPE = Recipe[VQGAN3DConfig](
    kind=KIND,
    version=VERSION,
    description=__doc__ or "",
    config=VQGAN3DConfig,
    presets=PRESETS,
    build=build,
)
