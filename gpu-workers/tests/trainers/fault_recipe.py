"""A toy recipe that fails on purpose (imported by ``test_rank_failures`` as a trainer module).

``python -m fault_recipe`` with the config fields below: ``failRank`` raises on that rank at
``failAtStep``; ``breakCheckpointsAtStep`` turns the checkpoint directory into a file on rank 0, so
the next checkpoint write fails there only (what a full or vanished disk does).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from hounsfield.recipes.base import BuildContext, Recipe
from hounsfield.recipes.runner import main
from hounsfield.trainers.config_base import TrainerConfigBase
from hounsfield.trainers.parts import Batch, TrainingParts


class FaultConfig(TrainerConfigBase):
    fail_rank: int | None = None
    fail_at_step: int = 3
    break_checkpoints_at_step: int | None = None


class Numbers(Dataset[dict[str, Any]]):
    def __len__(self) -> int:
        return 64

    def __getitem__(self, index: int) -> dict[str, Any]:
        x = torch.full((4,), float(index % 7))
        return {"x": x, "y": x.sum()}


def build(config: FaultConfig, ctx: BuildContext) -> TrainingParts:
    model = nn.Linear(4, 1)
    rank = ctx.dist.rank

    def loss(module: nn.Module, batch: Batch, step: int) -> Tensor:
        if config.fail_rank == rank and step == config.fail_at_step:
            raise RuntimeError(f"injected failure on rank {rank} at step {step}")
        if config.break_checkpoints_at_step == step and rank == 0:
            checkpoints = Path(ctx.output_dir) / "checkpoints"
            if checkpoints.is_dir():
                for child in checkpoints.iterdir():
                    if child.is_dir():
                        for item in child.iterdir():
                            item.unlink()
                        child.rmdir()
                checkpoints.rmdir()
            checkpoints.write_text("not a directory any more")
        return (module(batch["x"]).squeeze(-1) - batch["y"]).square().mean()

    return TrainingParts(model=model, loss_fn=loss, dataset=Numbers())


RECIPE = Recipe[FaultConfig](
    kind="fault",
    version="1",
    description=__doc__ or "",
    config=FaultConfig,
    presets={"toy": lambda: FaultConfig(preset="toy", global_batch=4, lr=0.01, steps=50, checkpoint_every=2)},
    build=build,
    default_preset="toy",
)

if __name__ == "__main__":
    main(RECIPE)
