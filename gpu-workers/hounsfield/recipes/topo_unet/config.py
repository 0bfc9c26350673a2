"""Configuration of the topology-aware 3-D U-Net trainer and its presets.

``vesuvius``: the field report's run (``field-reports/003``) on one A100 80 GB: 72×136×136 patches,
deep supervision, weighted BCE + soft Dice + clDice + skeleton + surface-distance terms, heavy
augmentation (flips, 90° rotations, small rotation/scale, elastic, intensity jitter), batch 2 with
4 loader workers and 2,000 iterations per epoch for 32 epochs (its recommended full-training
settings). The report states neither the learning rate nor the network's widths; we use AdamW at
3e-4 with a cosine schedule and a 4-level residual DynUNet of 32–256 maps (72 and 136 are
divisible by 8 but not by 16, so three 2× downsamplings are the most the patch allows). The
report's persistent-homology ``TopLoss`` is not implemented (see the README's topo_unet section).

``cpu-tiny``: six 40³ sheet phantoms (two held out), 16×32×32 patches, a 3-level network of 8–32
maps with one deep-supervision head, batch 2, light augmentation: a few CPU seconds per step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from pydantic import Field, model_validator

from hounsfield.trainers.config_base import (
    LrScheduleConfig,
    OptimizerConfig,
    SyntheticData,
    TrainerConfigBase,
    TrainerModel,
    ValidationConfig,
)

Triple = tuple[int, int, int]


class TopoModelConfig(TrainerModel):
    """MONAI ``DynUNet``: one level per entry of ``filters``; level 0 keeps full resolution."""

    filters: list[int] = Field(min_length=2, max_length=8)
    strides: list[Triple] = Field(description="per level; the first is (1, 1, 1)")
    kernel_size: int = Field(default=3, ge=1, le=7)
    deep_supervision_heads: int = Field(default=2, ge=0, description="auxiliary outputs at coarser levels")
    res_block: bool = True
    norm: Literal["instance", "batch"] = "instance"
    dropout: float = Field(default=0.0, ge=0, lt=1)

    @model_validator(mode="after")
    def _consistent(self) -> TopoModelConfig:
        if len(self.strides) != len(self.filters):
            raise ValueError(
                f"model.strides has {len(self.strides)} levels, model.filters {len(self.filters)}"
            )
        if self.deep_supervision_heads > len(self.filters) - 2:
            raise ValueError(
                f"model.deepSupervisionHeads must be at most {len(self.filters) - 2} "
                f"for {len(self.filters)} levels"
            )
        return self

    def divisor(self) -> Triple:
        """Each patch side must be a multiple of this (the product of the strides)."""
        out = [1, 1, 1]
        for stride in self.strides:
            out = [a * b for a, b in zip(out, stride, strict=True)]
        return (out[0], out[1], out[2])


class TopoDataConfig(TrainerModel):
    """Where cases come from and how patches are drawn (``dataRoot/<imagesDir>/<id>.<ext>`` with
    the label volume of the same name under ``<labelsDir>``)."""

    images_dir: str = "images"
    labels_dir: str = "labels"
    patch: Triple = (72, 136, 136)
    foreground_ratio: float = Field(
        default=0.5, ge=0, le=1, description="share of patches centred on a surface voxel; the rest uniform"
    )
    samples_per_epoch: int = Field(default=4000, ge=1)
    validation_cases: int = Field(default=2, ge=0, description="held out (the last ids in sorted order)")
    tube_radius: int = Field(default=1, ge=0, le=5, description="skeleton tube dilation in voxels")
    sdf_clip: float = Field(
        default=10.0, gt=0, description="signed distance clip (voxels) of the surface loss"
    )
    spacing: tuple[float, float, float] = Field(
        default=(1.0, 1.0, 1.0), description="voxel size for surface Dice when files carry none (TIFF)"
    )


class AugmentConfig(TrainerModel):
    """MONAI random transforms, applied to image, labels and the cached maps together."""

    flip_prob: float = Field(default=0.5, ge=0, le=1, description="per axis")
    rot90_prob: float = Field(default=0.5, ge=0, le=1, description="in the last two axes (when square)")
    affine_prob: float = Field(default=0.2, ge=0, le=1)
    rotate_degrees: float = Field(default=15.0, ge=0, le=45)
    scale: float = Field(default=0.1, ge=0, le=0.5)
    elastic_prob: float = Field(default=0.1, ge=0, le=1)
    intensity_prob: float = Field(default=0.5, ge=0, le=1, description="scale, shift and noise jitter")
    spatial_on: Literal["loader", "device"] = Field(
        default="loader",
        description="where the rotation/scaling and elastic resampling run: in the DataLoader workers, "
        "or on the training device just before the forward pass (frees the loader's CPUs)",
    )


class LossConfig(TrainerModel):
    """Weights of the terms (0 switches one off: it is then neither computed nor reported)."""

    bce: float = Field(default=1.0, ge=0)
    dice: float = Field(default=1.0, ge=0)
    cldice: float = Field(default=1.0, ge=0)
    skeleton_recall: float = Field(default=1.0, ge=0)
    surface: float = Field(default=0.5, ge=0)
    pos_weight: float = Field(default=3.0, gt=0, description="BCE weight of surface voxels")
    cldice_iterations: int = Field(default=3, ge=1, le=20, description="soft-skeleton iterations")
    deep_supervision_decay: float = Field(
        default=0.5, gt=0, le=1, description="head i weighs decay**i (normalised)"
    )

    def weights(self) -> dict[str, float]:
        return {
            "bce": self.bce,
            "dice": self.dice,
            "cldice": self.cldice,
            "skeleton_recall": self.skeleton_recall,
            "surface": self.surface,
        }


class InferenceConfig(TrainerModel):
    """Whole-volume prediction: Gaussian-blended sliding windows, threshold, small-component removal."""

    overlap: float = Field(default=0.5, ge=0, lt=1)
    threshold: float = Field(default=0.5, gt=0, lt=1)
    min_component_voxels: int = Field(default=0, ge=0, description="drop 26-connected components smaller")
    sw_batch_size: int = Field(default=1, ge=1)


class TopoUNetTrainConfig(TrainerConfigBase):
    """Everything one topo_unet run needs (presets in the module docstring)."""

    model: TopoModelConfig
    data: TopoDataConfig = TopoDataConfig()
    augment: AugmentConfig = AugmentConfig()
    loss: LossConfig = LossConfig()
    inference: InferenceConfig = InferenceConfig()

    @model_validator(mode="after")
    def _usable(self) -> TopoUNetTrainConfig:
        divisor = self.model.divisor()
        bad = [
            f"{p} (axis {i})" for i, (p, d) in enumerate(zip(self.data.patch, divisor, strict=True)) if p % d
        ]
        if bad:
            raise ValueError(
                f"data.patch {self.data.patch}: sides must be multiples of {divisor} (the product of "
                f"model.strides); {', '.join(bad)} are not"
            )
        if self.split_csv is not None:
            raise ValueError("splitCsv is not used by topo_unet: hold cases out with data.validationCases")
        if self.synthetic is not None and self.synthetic.shape < 40:
            raise ValueError(
                f"synthetic.shape {self.synthetic.shape}: sheet phantoms need at least 40 voxels"
            )
        return self


def _vesuvius() -> TopoUNetTrainConfig:
    return TopoUNetTrainConfig(
        preset="vesuvius",
        model=TopoModelConfig(
            filters=[32, 64, 128, 256],
            strides=[(1, 1, 1), (2, 2, 2), (2, 2, 2), (2, 2, 2)],
            deep_supervision_heads=2,
        ),
        data=TopoDataConfig(patch=(72, 136, 136), samples_per_epoch=4000, validation_cases=8),
        augment=AugmentConfig(spatial_on="device"),
        global_batch=2,
        lr=3e-4,
        optimizer=OptimizerConfig(name="adamw", weight_decay=1e-5),
        lr_schedule=LrScheduleConfig(name="cosine", warmup_steps=500, min_lr_ratio=0.01),
        grad_clip=1.0,
        epochs=32,
        num_workers=4,
        log_every=20,
        checkpoint_every=2000,
        validation=ValidationConfig(every_steps=2000),
        bf16=True,
    )


def _cpu_tiny() -> TopoUNetTrainConfig:
    return TopoUNetTrainConfig(
        preset="cpu-tiny",
        synthetic=SyntheticData(subjects=6, shape=40, seed=0),
        model=TopoModelConfig(
            filters=[8, 16, 32], strides=[(1, 1, 1), (2, 2, 2), (2, 2, 2)], deep_supervision_heads=1
        ),
        data=TopoDataConfig(patch=(16, 32, 32), samples_per_epoch=64, validation_cases=2),
        augment=AugmentConfig(affine_prob=0.1, elastic_prob=0.0),
        inference=InferenceConfig(overlap=0.25),
        global_batch=2,
        lr=3e-3,
        grad_clip=1.0,
        steps=30,
        log_every=5,
    )


PRESETS: dict[str, Callable[[], TopoUNetTrainConfig]] = {"vesuvius": _vesuvius, "cpu-tiny": _cpu_tiny}
