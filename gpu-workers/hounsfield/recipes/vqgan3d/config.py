"""Configuration of the patch-wise 3-D VQGAN trainer and its presets.

``patchwise-ctpa``: the CTPA seed of field report 001 — 256×256×128 patches with stride
192×192×96 from 512×512×604 volumes, embedding 64, 512 codes, 64 hidden channels, downsampling 4
on every axis, L1 reconstruction only (no GAN, no perceptual term), Adam lr 1e-4, 2 patches per
GPU (global batch 8 on 4 GPUs), 30 epochs of patches.

``medicaldiffusion``: the VQ-GAN training command published with Medical Diffusion (Khader et al.
2023): embedding 8, 16,384 codes, 16 hidden channels, downsampling 4, lr 3e-4, batch 2, gradient
clipping 1.0, codebook restart threshold 1.0, L1 weight 4, 2-D slice and 3-D patch discriminators
(64 channels, 3 layers) with weight 1 each from step 10,000, perceptual weight 4 (applied only when
``perceptual.weightsPath`` is given: nothing is downloaded). Its GAN feature-matching term
(``gan_feat_weight`` 4) is not implemented here.

``cpu-tiny``: 16³ patches (stride 12) of small phantoms windowed to -1000..1000 HU, 16 hidden
channels, embedding 8, 64 codes, lr 2e-3, batch 4 — trains in seconds on a CPU; with
``synthetic: {subjects: N}`` it generates N phantom patients first.

Intensities: HU are windowed (``volumes.window``) to ``volumes.outputRange``; ``val.psnr`` and
``val.ssim`` use that range's span as data range (1 for ``0,1``, 2 for ``-1,1``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import Field

from hounsfield.trainers.config_base import SyntheticData, TrainerConfigBase, TrainerModel, ValidationConfig


class VQModelConfig(TrainerModel):
    """Generator architecture, quantiser and reconstruction/commitment weights."""

    hidden_channels: int = Field(default=64, ge=1, le=512)
    embedding_dim: int = Field(default=64, ge=1, le=1024)
    n_codes: int = Field(default=512, ge=2, le=65_536)
    downsample: tuple[int, int, int] = Field(default=(4, 4, 4), description="per-axis factor, powers of two")
    res_blocks: int = Field(default=1, ge=0, le=8)
    codebook_decay: float = Field(default=0.99, gt=0, lt=1)
    restart_threshold: float = Field(default=1.0, ge=0, description="EMA usage below which a code restarts")
    commitment_weight: float = Field(default=0.25, ge=0)
    l1_weight: float = Field(default=1.0, gt=0)


class DiscriminatorConfig(TrainerModel):
    """Optional hinge-loss discriminators; a weight of 0 leaves that discriminator out."""

    start_step: int = Field(default=0, ge=0, description="optimizer step from which GAN terms apply")
    slice_weight: float = Field(default=0.0, ge=0, description="2-D discriminator on axial slices")
    patch_weight: float = Field(default=0.0, ge=0, description="3-D discriminator on whole patches")
    channels: int = Field(default=64, ge=1, le=512)
    layers: int = Field(default=3, ge=1, le=5)
    slices_per_patch: int = Field(default=4, ge=1, le=64)
    lr_factor: float = Field(default=1.0, gt=0)


class PerceptualConfig(TrainerModel):
    """An optional perceptual term from a user-provided TorchScript feature network (2-D slices)."""

    weights_path: Path | None = Field(default=None, description="TorchScript file; nothing is downloaded")
    weight: float = Field(default=0.0, ge=0)
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$", description="expected file hash")
    input_channels: Literal[1, 3] = 3
    slices_per_patch: int = Field(default=4, ge=1, le=64)


class VolumeDataConfig(TrainerModel):
    """How CT volumes are prepared, cut into patches and blended back."""

    window: str | tuple[float, float] = Field(default="full", description="HU preset or (level, width)")
    output_range: Literal["0,1", "-1,1"] = "0,1"
    target_spacing: tuple[float, float, float] | None = None
    patch: tuple[int, int, int] = (256, 256, 128)
    stride: tuple[int, int, int] = (192, 192, 96)
    patient_pattern: str = r"^(?P<patient>[^/]+)/"
    patient_csv: Path | None = None
    prepared_dir: Path | None = Field(default=None, description="default: <output>/dataset")
    tiff_spacing: tuple[float, float, float] | None = None
    blend: Literal["gaussian", "tent", "constant"] = "gaussian"
    patches_in_flight: int = Field(
        default=2, ge=1, le=64, description="validation patches on the device at once"
    )


class VQGAN3DConfig(TrainerConfigBase):
    """Everything one vqgan3d run needs (see the module docstring). ``splitCsv`` is a user split
    (``case_id,split``); ``synthetic`` generates phantom patients (in-plane size ``shape``)."""

    model: VQModelConfig = VQModelConfig()
    discriminator: DiscriminatorConfig = DiscriminatorConfig()
    perceptual: PerceptualConfig = PerceptualConfig()
    volumes: VolumeDataConfig = VolumeDataConfig()


def _patchwise_ctpa() -> VQGAN3DConfig:
    return VQGAN3DConfig(
        preset="patchwise-ctpa",
        model=VQModelConfig(hidden_channels=64, embedding_dim=64, n_codes=512, downsample=(4, 4, 4)),
        global_batch=8,
        max_per_device_batch=2,
        lr=1e-4,
        epochs=30,
        num_workers=4,
        log_every=50,
        checkpoint_every=1_000,
        validation=ValidationConfig(every_steps=1_000, max_cases=8),
    )


def _medicaldiffusion() -> VQGAN3DConfig:
    return VQGAN3DConfig(
        preset="medicaldiffusion",
        model=VQModelConfig(
            hidden_channels=16,
            embedding_dim=8,
            n_codes=16_384,
            downsample=(4, 4, 4),
            l1_weight=4.0,
            restart_threshold=1.0,
        ),
        discriminator=DiscriminatorConfig(
            start_step=50_000, slice_weight=1.0, patch_weight=1.0, channels=64, layers=3
        ),
        perceptual=PerceptualConfig(weight=4.0),
        global_batch=2,
        lr=3e-4,
        grad_clip=1.0,
        steps=200_000,
        num_workers=4,
        log_every=50,
        checkpoint_every=2_000,
        validation=ValidationConfig(every_steps=2_000, max_cases=8),
    )


def _cpu_tiny() -> VQGAN3DConfig:
    return VQGAN3DConfig(
        preset="cpu-tiny",
        model=VQModelConfig(
            hidden_channels=16, embedding_dim=8, n_codes=64, downsample=(4, 4, 4), restart_threshold=0.05
        ),
        volumes=VolumeDataConfig(window=(0.0, 2000.0), patch=(16, 16, 16), stride=(12, 12, 12)),
        synthetic=SyntheticData(subjects=6, shape=32),
        global_batch=4,
        lr=2e-3,
        steps=200,
        log_every=10,
        validation=ValidationConfig(every_steps=100, max_cases=2),
        bf16=False,
    )


PRESETS: dict[str, Callable[[], VQGAN3DConfig]] = {
    "patchwise-ctpa": _patchwise_ctpa,
    "medicaldiffusion": _medicaldiffusion,
    "cpu-tiny": _cpu_tiny,
}
