"""Legacy checkpoint files as GPU machines write them, produced on a machine without a GPU.

How the CUDA tag gets into the file: ``torch.save`` asks ``torch.serialization.location_tag`` for
each storage's location, which tries the registered taggers in priority order (cpu, then cuda,
...); on GPU 7 of 8 the cuda tagger answers ``"cuda:7"`` and that string is pickled into the
storage's persistent id in ``data.pkl``, next to the raw bytes in ``data/<key>``. Here a tagger
that answers ``"cuda:7"`` is registered ahead of the others for the duration of the save, so the
file is byte-for-byte what a GPU save of the same values writes (the bytes are the same either
way; only the tag differs). Loading it plainly then fails exactly as on a GPU-less machine:
"Attempting to deserialize object on a CUDA device".
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
import torch.serialization
from torch import nn


@contextmanager
def saved_as_if_on(device: str) -> Iterator[None]:
    """Every storage ``torch.save`` writes meanwhile is tagged with ``device`` (for example ``cuda:7``)."""

    def tagger(storage: Any) -> str:
        return device

    def deserializer(storage: Any, location: str) -> None:
        return None  # loading is not this hook's business: fall through to torch's own

    entry = (-1000, tagger, deserializer)
    torch.serialization.register_package(*entry)
    try:
        yield
    finally:
        # torch has no unregister; the registry is a plain list of (priority, tagger, deserializer).
        torch.serialization._package_registry.remove(entry)


def trained_model() -> tuple[nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(7)
    model = nn.Sequential(nn.Conv3d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.LazyLinear(2))
    model(torch.randn(1, 1, 5, 5, 5))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    for _ in range(2):
        optimizer.zero_grad()
        model(torch.randn(2, 1, 5, 5, 5)).sum().backward()
        optimizer.step()
    return model, optimizer


def write_cuda_pth(path: Path) -> tuple[nn.Module, torch.optim.Optimizer]:
    """A training script's ``torch.save({...})`` on GPU 7 of 8: model, optimizer, epoch, step, extras."""
    model, optimizer = trained_model()
    with saved_as_if_on("cuda:7"):
        torch.save(
            {
                "model_state_dict": model.state_dict(),
                "optimizer_state_dict": optimizer.state_dict(),
                "epoch": 12,
                "global_step": 3400,
                "best_dice": torch.tensor(0.87),
                "args": {"lr": 1e-3, "batch_size": 8},
            },
            path,
        )
    return model, optimizer


def write_lightning_ckpt(path: Path) -> tuple[nn.Module, torch.optim.Optimizer]:
    """What ``Trainer.save_checkpoint`` writes (Lightning 2.x keys), from a run on ``cuda:0``."""
    model, optimizer = trained_model()
    state_dict = OrderedDict((f"model.{name}", tensor) for name, tensor in model.state_dict().items())
    with saved_as_if_on("cuda:0"):
        torch.save(
            {
                "epoch": 4,
                "global_step": 1250,
                "pytorch-lightning_version": "2.4.0",
                "state_dict": state_dict,
                "loops": {"fit_loop": {"state_dict": {}, "epoch_progress": {"current": {"completed": 4}}}},
                "callbacks": {
                    "ModelCheckpoint{'monitor': 'val_loss', 'mode': 'min'}": {
                        "best_model_score": torch.tensor(0.31)
                    }
                },
                "optimizer_states": [optimizer.state_dict()],
                "lr_schedulers": [{"last_epoch": 4, "_step_count": 5}],
                "hparams_name": "kwargs",
                "hyper_parameters": {"lr": 1e-3, "channels": 4},
            },
            path,
        )
    return model, optimizer
