"""Configuration of the slice-interpolation trainer (``slice_interp``) and its presets.

``seed-maisi``: the settings of field report 002 — thin 1 mm / thick 5 mm slices at 512×512 (300
thin slices per pair, 60 thick; see ``pairs.py`` for why not 50), the MAISI CT VAE (frozen,
weights from ``vae.weights``), a 3-D ``DiffusionModelUNet`` with channels 128·(1, 2, 4, 4),
attention at the deepest level only, DDPM with 1000 steps and the cosine schedule, noise
prediction, AdamW (lr 1e-4, weight decay 0.01), cosine learning rate with warm-up, batch 1 ×
accumulation 8 (global batch 8, one pair per device), bf16, gradient checkpointing, validation
every 500 steps on 2 fixed validation patients with 20 DDIM steps.

``cpu-tiny``: phantom patients (``synthetic``) at 32×32 with 1 mm slices, 40 thin / 8 thick
slices per pair, the ``cpu-tiny`` VAE with random weights (no file), a small UNet (channels 16,
32) — a step takes well under a second on a CPU.

Intensities: HU are windowed to ``volumes.window`` (default level 0, width 2000: -1000..1000 HU,
as MAISI normalises CT) and mapped to ``[0, 1]``; PSNR/SSIM use data range 1.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from hounsfield.recipes.slice_interp.chunking import ChunkSettings
from hounsfield.recipes.slice_interp.pairs import PairGeometry
from hounsfield.trainers.config_base import (
    LrScheduleConfig,
    OptimizerConfig,
    SyntheticData,
    TrainerConfigBase,
    TrainerModel,
    ValidationConfig,
)


class PairConfig(TrainerModel):
    """How (thick, thin) pairs are cut from the prepared thin-slice volumes (``pairs.PairGeometry``)."""

    thin_spacing_mm: float = Field(default=1.0, gt=0)
    thick_spacing_mm: float = Field(default=5.0, gt=0)
    in_plane: tuple[int, int] = (512, 512)
    thin_slices: int = Field(default=300, ge=4)
    mode: Literal["average", "subsample"] = Field(
        default="average", description="thick slice = mean of its slab, or the slab's centre slice"
    )
    pairs_per_case: int | None = Field(
        default=None, ge=1, description="at most this many pairs per training volume (centred blocks)"
    )

    def geometry(self) -> PairGeometry:
        return PairGeometry(
            thin_spacing_mm=self.thin_spacing_mm,
            thick_spacing_mm=self.thick_spacing_mm,
            in_plane=self.in_plane,
            thin_slices=self.thin_slices,
            mode=self.mode,
        )

    @model_validator(mode="after")
    def _geometry_fits(self) -> PairConfig:
        self.geometry()  # raises a ValueError naming the field that does not divide
        return self


class VaeConfig(TrainerModel):
    """The frozen MAISI VAE: architecture, weights file and chunk sizes along z."""

    config: Literal["maisi", "cpu-tiny"] = "maisi"
    weights: Path | None = Field(
        default=None, description="a .safetensors or torch.save state dict; none: random weights (said so)"
    )
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{64}$", description="expected file hash")
    encode_chunk: int = Field(default=32, ge=4, description="input slices per encoder window")
    encode_overlap: int = Field(default=16, ge=0)
    decode_chunk: int = Field(default=8, ge=1, description="latent slices per decoder window")
    decode_overlap: int = Field(default=4, ge=0)

    def chunks(self) -> ChunkSettings:
        return ChunkSettings(
            encode_chunk=self.encode_chunk,
            encode_overlap=self.encode_overlap,
            decode_chunk=self.decode_chunk,
            decode_overlap=self.decode_overlap,
        )

    @model_validator(mode="after")
    def _chunks_fit(self) -> VaeConfig:
        self.chunks()
        return self


class DenoiserConfig(TrainerModel):
    """MONAI ``DiffusionModelUNet`` (3-D) on [noisy thin latent, resampled thick latent]."""

    channels: tuple[int, ...] = Field(default=(128, 256, 512, 512), min_length=1, max_length=6)
    attention_levels: tuple[bool, ...] = (False, False, False, True)
    num_res_blocks: int = Field(default=2, ge=1, le=8)
    num_head_channels: int = Field(default=128, ge=1, description="channels per attention head")
    norm_num_groups: int = Field(default=32, ge=1)

    @model_validator(mode="after")
    def _levels_match(self) -> DenoiserConfig:
        if len(self.attention_levels) != len(self.channels):
            raise ValueError(
                f"attention_levels has {len(self.attention_levels)} entries, channels {len(self.channels)}; "
                "give one per level"
            )
        bad = [c for c in self.channels if c % self.norm_num_groups]
        if bad:
            raise ValueError(f"channels {bad} are not divisible by norm_num_groups {self.norm_num_groups}")
        # the middle block always attends, as do the levels in attention_levels
        attending = {self.channels[-1]} | {
            c for c, on in zip(self.channels, self.attention_levels, strict=True) if on
        }
        bad = sorted(c for c in attending if c % self.num_head_channels)
        if bad:
            raise ValueError(
                f"channels {bad} (attention) are not divisible by num_head_channels {self.num_head_channels}"
            )
        return self


class DiffusionConfig(TrainerModel):
    """DDPM training and DDIM sampling (MONAI schedulers)."""

    timesteps: int = Field(default=1000, ge=2, le=10_000)
    schedule: Literal["linear", "scaled_linear", "cosine"] = "cosine"
    prediction: Literal["epsilon", "v"] = Field(default="epsilon", description="noise or v prediction")
    ddim_steps: int = Field(default=20, ge=1, description="DDIM steps at validation and inference")

    @model_validator(mode="after")
    def _steps_fit(self) -> DiffusionConfig:
        if self.ddim_steps > self.timesteps:
            raise ValueError(f"ddim_steps {self.ddim_steps} exceeds timesteps {self.timesteps}")
        return self


class SliceVolumesConfig(TrainerModel):
    """How thin-slice CT volumes are prepared (``hounsfield.data.volumes.prepare``) and cached."""

    window: str | tuple[float, float] = Field(
        default=(0.0, 2000.0), description="HU preset or (level, width)"
    )
    target_spacing: tuple[float, float, float] | None = Field(
        default=None, description="resample first (mm; z must equal pairs.thinSpacingMm)"
    )
    patient_pattern: str = r"^(?P<patient>[^/]+)/"
    patient_csv: Path | None = None
    prepared_dir: Path | None = Field(default=None, description="default: <output>/dataset")
    latent_cache_dir: Path | None = Field(default=None, description="default: <prepared>/latents")
    tiff_spacing: tuple[float, float, float] | None = None


class SliceInterpConfig(TrainerConfigBase):
    """Everything one slice_interp run needs (see the module docstring)."""

    pairs: PairConfig = PairConfig()
    vae: VaeConfig = VaeConfig()
    denoiser: DenoiserConfig = DenoiserConfig()
    diffusion: DiffusionConfig = DiffusionConfig()
    volumes: SliceVolumesConfig = SliceVolumesConfig()


def _seed_maisi() -> SliceInterpConfig:
    return SliceInterpConfig(
        preset="seed-maisi",
        global_batch=8,
        max_per_device_batch=1,
        lr=1e-4,
        optimizer=OptimizerConfig(name="adamw", weight_decay=0.01),
        lr_schedule=LrScheduleConfig(name="cosine", warmup_steps=500),
        epochs=100,
        bf16=True,
        gradient_checkpointing=True,
        log_every=50,
        checkpoint_every=2_000,
        validation=ValidationConfig(every_steps=500, max_cases=2),
        num_workers=4,
    )


def _cpu_tiny() -> SliceInterpConfig:
    return SliceInterpConfig(
        preset="cpu-tiny",
        pairs=PairConfig(in_plane=(32, 32), thin_slices=40, pairs_per_case=4),
        vae=VaeConfig(config="cpu-tiny"),
        denoiser=DenoiserConfig(
            channels=(16, 32),
            attention_levels=(False, False),
            num_res_blocks=1,
            num_head_channels=8,
            norm_num_groups=8,
        ),
        diffusion=DiffusionConfig(timesteps=1000, schedule="cosine", ddim_steps=10),
        synthetic=SyntheticData(subjects=6, shape=32),
        global_batch=4,
        lr=1e-3,
        optimizer=OptimizerConfig(name="adamw", weight_decay=0.01),
        lr_schedule=LrScheduleConfig(name="cosine", warmup_steps=10),
        steps=100,
        log_every=10,
        validation=ValidationConfig(every_steps=50, max_cases=2),
        bf16=False,
    )


PRESETS: dict[str, Callable[[], SliceInterpConfig]] = {
    "seed-maisi": _seed_maisi,
    "cpu-tiny": _cpu_tiny,
}
