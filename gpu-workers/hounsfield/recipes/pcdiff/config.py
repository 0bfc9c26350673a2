"""Configuration of the PCDiff diffusion trainer and its presets.

``paper-skullbreak`` / ``paper-skullfix`` carry the published settings (Friedrich et al., MICCAI
2023, and the public ``train_completion.py``): PVCNN2 at width 1 (27.65 M parameters), 27,648 +
3,072 points, T = 1000 linear betas 1e-4 -> 0.02, Adam lr 2e-4 with betas (0.5, 0.999), no weight
decay, batch 8, 15,000 epochs, and one fixed noise tensor per training case (the public code draws
``noises_init`` once and indexes it by case). The paper trains without EMA; we keep an EMA at
0.9999 beside the raw weights (it costs one copy of the weights, and samplers can use either).

``cpu-tiny`` runs on a laptop CPU: the quarter-width PVCNN2 (0.79 M parameters), 1,843 + 205
points, the same diffusion schedule, a larger learning rate for a few hundred steps, EMA 0.995.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from pydantic import Field

from hounsfield.data.cases import DatasetLayout
from hounsfield.data.skullbreak import CompletionSamplingConfig
from hounsfield.diffusion import ScheduleConfig
from hounsfield.models.pvcnn2_config import PVCNN2Config
from hounsfield.trainers.config_base import OptimizerConfig, TrainerConfigBase

PCDiffPreset = Literal["paper-skullbreak", "paper-skullfix", "cpu-tiny"]


class PCDiffTrainConfig(TrainerConfigBase):
    """Everything one PCDiff training run needs (see the module docstring for the presets)."""

    model: PVCNN2Config
    points: CompletionSamplingConfig
    schedule: ScheduleConfig = ScheduleConfig()
    ema_decay: float | None = Field(default=0.9999, ge=0, lt=1, description="None: no EMA")
    fixed_noise_per_case: bool = Field(
        default=False, description="one noise tensor per case for the whole run (the public code's choice)"
    )


def _paper(layout: DatasetLayout) -> PCDiffTrainConfig:
    return PCDiffTrainConfig(
        preset=f"paper-{layout.value}",
        layout=layout,
        model=PVCNN2Config.paper(),
        points=CompletionSamplingConfig.preset("paper"),
        global_batch=8,
        lr=2e-4,
        optimizer=OptimizerConfig(name="adam", betas=(0.5, 0.999)),
        epochs=15_000,
        num_workers=4,
        log_every=50,
        checkpoint_every=5_000,
        ema_decay=0.9999,
        fixed_noise_per_case=True,
    )


def _cpu_tiny() -> PCDiffTrainConfig:
    return PCDiffTrainConfig(
        preset="cpu-tiny",
        model=PVCNN2Config.tiny(),
        points=CompletionSamplingConfig.preset("cpu-tiny"),
        global_batch=8,
        lr=1e-3,
        optimizer=OptimizerConfig(name="adam", betas=(0.9, 0.999)),
        grad_clip=1.0,
        steps=200,
        log_every=10,
        ema_decay=0.995,
    )


PRESETS: dict[str, Callable[[], PCDiffTrainConfig]] = {
    "paper-skullbreak": lambda: _paper(DatasetLayout.SKULLBREAK),
    "paper-skullfix": lambda: _paper(DatasetLayout.SKULLFIX),
    "cpu-tiny": _cpu_tiny,
}
