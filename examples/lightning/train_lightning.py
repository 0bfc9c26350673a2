"""A plain Lightning script (a small regression) with the lines that put it on the platform.

Standalone:   torchrun --nproc_per_node=2 train_lightning.py --output-dir ./out
On Hounsfield: hounsfield submit examples/jobs/lightning.yaml --code examples/lightning
A restarted attempt continues from the platform's checkpoint at the same global step.
"""

from __future__ import annotations

import argparse
import time

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from hounsfield.integrations.lightning import HounsfieldLightning  # added for the platform
from hounsfield.sdk import Run  # added for the platform


class Regression(L.LightningModule):
    def __init__(self, lr: float = 0.05, sleep: float = 0.0) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 1))

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = nn.functional.mse_loss(self.net(x), y)
        self.log("loss", loss, prog_bar=False)
        time.sleep(self.hparams["sleep"])  # stands in for a real model's step time
        return loss

    def on_train_start(self) -> None:
        if self.global_rank == 0:
            print(f"training starts at global_step={self.global_step}", flush=True)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=self.hparams["lr"], momentum=0.9)


def data(samples: int = 256) -> DataLoader[tuple[torch.Tensor, ...]]:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(samples, 8, generator=generator)
    y = x.sum(dim=1, keepdim=True).sin()
    return DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True, generator=generator)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--checkpoint-every", type=int, default=10)
    parser.add_argument("--sleep", type=float, default=0.0, help="seconds per step")
    parser.add_argument("--output-dir", default=None, help="standalone only (the platform names its own)")
    args = parser.parse_args(argv)

    run = Run.from_env(output_dir=args.output_dir)  # added for the platform
    hf = HounsfieldLightning(run)  # added for the platform
    L.seed_everything(0, workers=True)
    trainer = L.Trainer(
        accelerator="cpu",
        devices=run.world_size,
        strategy="ddp" if run.world_size > 1 else "auto",
        max_steps=args.steps,
        default_root_dir=str(run.output_dir),
        enable_progress_bar=False,
        enable_model_summary=False,
        logger=hf.logger,  # added for the platform
        plugins=[hf.checkpoint_io],  # added for the platform
        callbacks=[
            hf.callback,  # added for the platform
            ModelCheckpoint(every_n_train_steps=args.checkpoint_every, save_top_k=-1),
        ],
    )
    trainer.fit(Regression(sleep=args.sleep), data(), ckpt_path=hf.resume_path)  # ckpt_path added
    if trainer.global_rank == 0:
        print(f"training ended at global_step={trainer.global_step}", flush=True)
    run.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
