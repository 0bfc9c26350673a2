"""What every trainer configuration has, and how presets take overrides.

A trainer config is a preset (a complete, validated config) plus overrides from the job spec's
``config`` object and from the command line. Keys may be camelCase (as in job specs) or
snake_case; nested objects (``model``, ``schedule``, ...) are merged key by key, anything else is
replaced. Unknown keys are refused with the list of allowed ones, so a typo never goes unnoticed.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

from hounsfield.data.cases import DatasetLayout
from hounsfield.trainers.errors import TrainerError, TrainerErrorCode

ModelT = TypeVar("ModelT", bound=BaseModel)


class TrainerModel(BaseModel):
    """Base of the trainer config models: frozen, strict about keys, camelCase aliases."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True, protected_namespaces=()
    )


class SyntheticData(TrainerModel):
    """Synthetic SkullBreak-layout skulls generated into the run's output directory first."""

    subjects: int = Field(default=8, ge=2, le=500)
    shape: int = Field(default=64, ge=24, le=512, description="cubic volume size in voxels")
    seed: int = Field(default=0, ge=0)


class OptimizerConfig(TrainerModel):
    """The optimiser over the model's trainable parameters (frozen ones are never in it).

    ``adamw`` decouples weight decay from the gradient (Loshchilov & Hutter 2019); ``adam`` adds it
    to the gradient as L2 regularisation, as ``torch.optim.Adam`` does.
    """

    name: Literal["adam", "adamw"] = "adam"
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = Field(default=1e-8, gt=0)
    weight_decay: float = Field(default=0.0, ge=0)


class LrScheduleConfig(TrainerModel):
    """The learning rate over the steps, as a factor of the resolved learning rate.

    ``constant``: the resolved rate after ``warmup_steps`` of linear warm-up (from 0).
    ``cosine``: linear warm-up, then half a cosine from the rate down to ``min_lr_ratio`` × the rate
    at the last step. The schedule's position is saved in every checkpoint and restored on resume.
    """

    name: Literal["constant", "cosine"] = "constant"
    warmup_steps: int = Field(default=0, ge=0)
    min_lr_ratio: float = Field(default=0.0, ge=0, le=1)


class ValidationConfig(TrainerModel):
    """When the recipe's validation runs (every ``every_steps`` steps and, with ``at_end``, after
    the last) and on what: the cases of ``split`` (at most ``max_cases``, the first by id)."""

    every_steps: int | None = Field(default=None, ge=1, description="None: only at the end")
    at_end: bool = True
    split: Literal["train", "val", "test"] = "val"
    max_cases: int | None = Field(default=None, ge=1)


class TrainerConfigBase(TrainerModel):
    """Data, batch, optimiser and loop settings shared by the trainers.

    ``global_batch``/``lr`` are the standalone values: under the platform the scheduler's resolved
    per-device batch, accumulation and learning rate win. ``steps`` wins over ``epochs``.
    """

    preset: str
    data_root: Path | None = None
    layout: DatasetLayout = DatasetLayout.SKULLBREAK
    split_csv: Path | None = Field(default=None, description="a prepared split; else one is prepared")
    split: Literal["train", "val", "test"] = "train"
    synthetic: SyntheticData | None = None
    cache_dir: Path | None = Field(default=None, description="surface-sample cache; default <output>/cache")
    num_workers: int = Field(default=0, ge=0, le=64)

    global_batch: int = Field(ge=1)
    max_per_device_batch: int | None = Field(default=None, ge=1)
    lr: float = Field(gt=0)
    optimizer: OptimizerConfig = OptimizerConfig()
    lr_schedule: LrScheduleConfig = LrScheduleConfig()
    grad_clip: float | None = Field(default=None, gt=0)

    steps: int | None = Field(default=None, ge=1)
    epochs: float | None = Field(default=None, gt=0)
    log_every: int = Field(default=10, ge=1)
    checkpoint_every: int | None = Field(default=None, ge=1, description="steps; None = only at the end")
    checkpoint_every_epochs: float | None = Field(
        default=None, gt=0, description="also save each time this many epochs of samples have passed"
    )
    validation: ValidationConfig = ValidationConfig()
    seed: int = Field(default=0, ge=0)
    time_limit_minutes: float | None = Field(
        default=None, gt=0, description="stop (checkpoint, exit 0) after this much training time"
    )
    time_limit_clock: Literal["wall", "cpu"] = Field(
        default="wall",
        description="cpu: this process's CPU time, so a busy machine does not shrink the budget",
    )
    bf16: bool = Field(default=True, description="bf16 autocast on GPUs (never on the CPU)")
    gradient_checkpointing: bool = Field(
        default=False, description="recompute activations in backward (models that support it)"
    )
    compile: bool = Field(default=False, description="torch.compile the model's forward")
    compile_backend: str = Field(default="inductor", min_length=1, max_length=64)

    @model_validator(mode="after")
    def _has_a_length(self) -> TrainerConfigBase:
        if self.steps is None and self.epochs is None:
            raise ValueError("set steps or epochs")
        return self


def apply_overrides(base: ModelT, overrides: Mapping[str, Any], where: str = "config") -> ModelT:
    """``base`` with ``overrides`` merged in and the result validated (see the module docstring)."""
    fields = type(base).model_fields
    names: dict[str, str] = {}
    for name, info in fields.items():
        names[name] = name
        if info.alias:
            names[info.alias] = name
    unknown = sorted(key for key in overrides if key not in names)
    if unknown:
        allowed = ", ".join(sorted(info.alias or name for name, info in fields.items()))
        raise TrainerError(
            TrainerErrorCode.INVALID_CONFIG, f"unknown key(s) {unknown} in {where}; allowed: {allowed}"
        )
    values: dict[str, Any] = {name: getattr(base, name) for name in fields}
    for key, value in overrides.items():
        name = names[key]
        current = values[name]
        if isinstance(current, BaseModel) and isinstance(value, Mapping):
            values[name] = apply_overrides(current, value, f"{where}.{key}")
        elif current is None and isinstance(value, Mapping):
            values[name] = dict(value)
        else:
            values[name] = value
    try:
        return type(base).model_validate(values)
    except ValidationError as error:
        raise TrainerError(TrainerErrorCode.INVALID_CONFIG, f"{where}: {error}") from error
