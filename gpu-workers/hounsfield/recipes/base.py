"""What a recipe is: one model family's config, presets and how it builds its training parts.

A recipe package (``hounsfield.recipes.<kind>``) defines ``RECIPE = Recipe(...)`` in its
``recipe.py``; ``registry.py`` maps the job kind to the package. See ``README.md`` beside this file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

import torch

from hounsfield.contracts.models import ResolvedHyperparameters
from hounsfield.sdk import Run
from hounsfield.trainers.config_base import TrainerConfigBase
from hounsfield.trainers.ddp import DistributedContext
from hounsfield.trainers.errors import TrainerError, TrainerErrorCode
from hounsfield.trainers.parts import TrainingParts

ConfigT = TypeVar("ConfigT", bound=TrainerConfigBase)


@dataclass(frozen=True)
class BuildContext:
    """What a recipe's ``build`` may use besides its config."""

    run: Run
    dist: DistributedContext
    #: The batch split and learning rate this process trains with (the platform's, or standalone resolved).
    resolved: ResolvedHyperparameters

    @property
    def output_dir(self) -> Path:
        return self.run.output_dir

    @property
    def device(self) -> torch.device:
        return self.dist.device


@dataclass(frozen=True)
class Recipe(Generic[ConfigT]):
    """One model family: ``kind`` is the job kind it runs; ``version`` changes when its config or
    checkpoint layout changes incompatibly (workers advertise it)."""

    kind: str
    version: str
    description: str
    config: type[ConfigT]
    presets: Mapping[str, Callable[[], ConfigT]]
    build: Callable[[ConfigT, BuildContext], TrainingParts]
    default_preset: str = "cpu-tiny"
    #: Checks that need no device (a frozen network's weights file against its architecture, on
    #: the ``meta`` device): the runner calls it after assembling the config and before the
    #: process group and the device are set up, so a bad file fails before any GPU work.
    preflight: Callable[[ConfigT], None] | None = None

    def preset(self, name: str) -> ConfigT:
        """The complete config of preset ``name``; an unknown name lists the presets."""
        factory = self.presets.get(name)
        if factory is None:
            raise TrainerError(
                TrainerErrorCode.UNKNOWN_PRESET,
                f"unknown preset {name!r} for {self.kind}; choose from {', '.join(sorted(self.presets))}",
            )
        return factory()
