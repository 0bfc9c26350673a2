"""Exponential moving average of model weights, the usual companion of diffusion training."""

from typing import Any

import torch
from torch import Tensor, nn


class EMA:
    """Shadow copy of a model's floating-point parameters and buffers.

    ``update`` moves every shadow value towards the model: ``s <- decay * s + (1 - decay) * p``.
    Integer buffers (e.g. step counters) are copied, not averaged. Sample with the averaged
    weights via :meth:`copy_to` on a copy of the model (or a model whose weights you saved).
    """

    def __init__(self, model: nn.Module, decay: float = 0.9999) -> None:
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"decay must be in [0, 1), got {decay}")
        self.decay = decay
        self.num_updates = 0
        self.shadow: dict[str, Tensor] = {k: v.detach().clone() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Blend the model's current weights into the shadow copy (call after each optimiser step)."""
        state = model.state_dict()
        if state.keys() != self.shadow.keys():
            raise ValueError("model does not match the EMA's parameters")
        for name, value in state.items():
            shadow = self.shadow[name]
            if shadow.is_floating_point():
                shadow.lerp_(value.detach().to(shadow.device), 1.0 - self.decay)
            else:
                shadow.copy_(value)
        self.num_updates += 1

    @torch.no_grad()
    def reset_to(self, model: nn.Module) -> None:
        """Make the shadow equal to ``model``'s current weights (after loading initial weights)."""
        for name, value in model.state_dict().items():
            self.shadow[name].copy_(value.detach().to(self.shadow[name].device))

    @torch.no_grad()
    def copy_to(self, model: nn.Module) -> None:
        """Load the averaged weights into ``model`` (same architecture)."""
        model.load_state_dict(self.shadow)

    def state_dict(self) -> dict[str, Any]:
        """Decay, update count and shadow weights, as CPU tensors ready to be saved."""
        return {
            "decay": self.decay,
            "num_updates": self.num_updates,
            "shadow": {k: v.detach().cpu().clone() for k, v in self.shadow.items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from :meth:`state_dict`; shadow tensors keep their current device."""
        shadow = state["shadow"]
        if shadow.keys() != self.shadow.keys():
            raise ValueError("state does not match the EMA's parameters")
        self.decay = float(state["decay"])
        self.num_updates = int(state["num_updates"])
        for name, value in shadow.items():
            self.shadow[name].copy_(value)
