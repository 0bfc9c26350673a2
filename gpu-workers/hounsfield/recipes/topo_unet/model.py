"""The network (MONAI ``DynUNet`` with deep supervision) and its loss over all heads."""

from __future__ import annotations

import torch
from monai.networks.nets import DynUNet
from torch import Tensor, nn

from hounsfield.recipes.topo_unet.config import LossConfig, TopoModelConfig
from hounsfield.recipes.topo_unet.losses import Targets, loss_terms
from hounsfield.trainers.parts import Batch, LossOutput


def build_network(config: TopoModelConfig) -> DynUNet:
    """One input channel (the scan), one output channel (surface logit)."""
    strides = [tuple(s) for s in config.strides]
    return DynUNet(
        spatial_dims=3,
        in_channels=1,
        out_channels=1,
        kernel_size=[config.kernel_size] * len(config.filters),
        strides=strides,
        upsample_kernel_size=strides[1:],
        filters=list(config.filters),
        dropout=config.dropout or None,
        norm_name=config.norm,
        deep_supervision=config.deep_supervision_heads > 0,
        deep_supr_num=max(1, config.deep_supervision_heads),
        res_block=config.res_block,
    )


def heads(output: Tensor) -> list[Tensor]:
    """The logits of every head, main first: DynUNet stacks deep-supervision heads on dim 1 in
    training mode (already upsampled to the input size) and returns the main head alone in eval."""
    if output.ndim == 6:
        return list(output.unbind(dim=1))
    return [output]


def head_weights(count: int, decay: float) -> list[float]:
    raw = [decay**i for i in range(count)]
    return [w / sum(raw) for w in raw]


def targets_of(batch: Batch) -> Targets:
    return Targets(
        labels=batch["labels"], skeleton_tube=batch["skeleton_tube"], signed_distance=batch["signed_distance"]
    )


def topo_loss(model: nn.Module, batch: Batch, config: LossConfig) -> LossOutput:
    """Σ_term weight·term, each term averaged over the heads with ``deep_supervision_decay``;
    ``terms`` are the unweighted head-averaged values (reported as ``loss.<term>``)."""
    logits = heads(model(batch["image"]))
    targets = targets_of(batch)
    weights = config.weights()
    terms: dict[str, Tensor] = {}
    for weight, head in zip(head_weights(len(logits), config.deep_supervision_decay), logits, strict=True):
        for name, value in loss_terms(
            head, targets, config.pos_weight, config.cldice_iterations, weights
        ).items():
            terms[name] = terms.get(name, torch.zeros((), device=value.device)) + weight * value
    total = sum(
        (weights[name] * value for name, value in terms.items()), torch.zeros((), device=logits[0].device)
    )
    return LossOutput(total=total, terms={name: value.detach() for name, value in terms.items()})
