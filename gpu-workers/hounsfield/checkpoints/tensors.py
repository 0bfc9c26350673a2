"""Making training state safe to store: CPU tensors only, and only what ``weights_only`` loads."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import torch

from hounsfield.checkpoints.layout import CheckpointFormatError

#: Leaf types ``torch.load(weights_only=True)`` accepts besides tensors and containers.
_PLAIN = (bool, int, float, complex, str, bytes, type(None), torch.Size, torch.dtype, torch.device)
#: Wrappers whose prefix a saved state dict drops, so it loads into the bare model at any world size.
_WRAPPER_PREFIXES = ("module.", "_orig_mod.")


def to_cpu(value: Any, where: str = "state") -> Any:
    """``value`` with every tensor detached and copied to the CPU (containers rebuilt).

    Anything ``torch.load(weights_only=True)`` would refuse raises CheckpointFormatError naming
    where it sits, so a bad state fails when it is saved, not when a restart needs it.
    """
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", copy=True)
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, Mapping):
        items = ((key, to_cpu(item, f"{where}[{key!r}]")) for key, item in value.items())
        return OrderedDict(items) if isinstance(value, OrderedDict) else dict(items)
    if isinstance(value, list | tuple | set):
        converted = [to_cpu(item, f"{where}[{index}]") for index, item in enumerate(value)]
        return type(value)(converted)
    raise CheckpointFormatError(
        f"{where} is a {type(value).__module__}.{type(value).__qualname__}, which "
        "torch.load(weights_only=True) cannot read back; store tensors, numbers, strings and "
        "dicts/lists of them (numpy arrays: torch.from_numpy; objects: their state_dict())"
    )


def strip_wrapper_prefix(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Drops a ``module.`` (DDP, DataParallel) or ``_orig_mod.`` (torch.compile) prefix that every key has."""
    result = dict(state_dict)
    changed = True
    while changed and result:
        changed = False
        for prefix in _WRAPPER_PREFIXES:
            if all(key.startswith(prefix) for key in result):
                result = {key[len(prefix) :]: tensor for key, tensor in result.items()}
                changed = True
    return result


def weights_for_safetensors(weights: Any, where: str = "state['model']") -> dict[str, torch.Tensor]:
    """A flat name → tensor dict safetensors can write: CPU, contiguous, no shared storage.

    Tied weights (one storage under two names) are written as two copies; loading them back with
    ``load_state_dict`` ties nothing apart, since it copies into the model's own parameters.
    """
    if not isinstance(weights, Mapping):
        raise CheckpointFormatError(
            f"{where} must be a state dict (name → tensor), got {type(weights).__name__}; "
            "pass model.state_dict()"
        )
    flat: dict[str, torch.Tensor] = {}
    storages: set[int] = set()
    for name, tensor in strip_wrapper_prefix(weights).items():
        if not isinstance(name, str) or not isinstance(tensor, torch.Tensor):
            raise CheckpointFormatError(
                f"{where}[{name!r}] must map a string to a tensor (got {type(tensor).__name__}); "
                "nested state belongs under another state key"
            )
        cpu = tensor.detach().to("cpu")
        storage = cpu.untyped_storage()
        # safetensors stores whole, unshared buffers: copy views, slices and second names of a storage.
        if storage.data_ptr() in storages or cpu.nbytes != storage.nbytes() or not cpu.is_contiguous():
            cpu = cpu.clone(memory_format=torch.contiguous_format)
        storages.add(cpu.untyped_storage().data_ptr())
        flat[name] = cpu
    return flat
