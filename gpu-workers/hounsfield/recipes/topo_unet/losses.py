"""The topology-aware loss terms, on single-channel logits with an ignore mask.

Shapes: ``logits`` ``(B, 1, D, H, W)``; ``labels`` the same shape with 0 background, 1 surface, 2
unlabelled. Every term is computed over *valid* voxels only (label != 2): ignored voxels carry no
gradient and do not enter any sum. The maps that depend on the labels alone (the skeleton tube,
the signed distance map) come precomputed with the batch (``labelmaps.py`` caches them per case),
so no loss runs a distance transform or a skeletonisation on the CPU per step.

* ``bce``: binary cross-entropy with logits, positives weighted by ``pos_weight`` (thin sheets are
  a few percent of the voxels), averaged over valid voxels.
* ``dice``: soft Dice ``1 − (2Σpg + ε)/(Σp + Σg + ε)`` per sample, averaged over the batch.
* ``cldice``: soft clDice (Shit et al., CVPR 2021). The soft skeleton is taken of the sigmoid
  *probability* of the single foreground channel (never of logits, and not of a two-channel
  softmax's background), with the 3-D soft erosion ``−maxpool(−x)`` over the three axis-aligned
  1×3 line elements and the dilation a 3×3×3 max-pool, as in the paper's reference definition.
* ``skeleton_recall``: ``1 − Σ p·T / Σ T`` with ``T`` the cached tube around the ground-truth
  skeleton (Kirchhoff et al., ECCV 2024): missing a sheet anywhere along it costs, thickness does not.
* ``surface``: the boundary loss of Kervadec et al. (MIDL 2019), ``mean(p · φ)`` with ``φ`` the
  cached signed distance to the ground truth (negative inside, positive outside) clipped to
  ``±clip`` voxels and divided by ``clip``, so it lies in [−1, 1] and is lowest when probability
  mass sits on the sheet.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from hounsfield.evaluation.topology import LABEL_IGNORE, LABEL_SURFACE

TERMS = ("bce", "dice", "cldice", "skeleton_recall", "surface")


@dataclass(frozen=True)
class Targets:
    """What the losses compare against, all ``(B, 1, D, H, W)`` on the logits' device."""

    labels: Tensor
    skeleton_tube: Tensor
    signed_distance: Tensor

    @property
    def valid(self) -> Tensor:
        return (self.labels != LABEL_IGNORE).float()

    @property
    def foreground(self) -> Tensor:
        return (self.labels == LABEL_SURFACE).float()


def weighted_bce(logits: Tensor, targets: Targets, pos_weight: float) -> Tensor:
    valid = targets.valid
    per_voxel = F.binary_cross_entropy_with_logits(
        logits,
        targets.foreground,
        pos_weight=torch.tensor(pos_weight, device=logits.device),
        reduction="none",
    )
    return (per_voxel * valid).sum() / valid.sum().clamp_min(1.0)


def soft_dice(probabilities: Tensor, targets: Targets, smooth: float = 1.0) -> Tensor:
    valid = targets.valid
    p, g = probabilities * valid, targets.foreground * valid
    dims = tuple(range(1, p.ndim))
    overlap = (p * g).sum(dims)
    return (1.0 - (2.0 * overlap + smooth) / (p.sum(dims) + g.sum(dims) + smooth)).mean()


def soft_erode(x: Tensor) -> Tensor:
    """Grey-level erosion by the union of three axis-aligned line elements (a 3-D cross)."""
    along = [-F.max_pool3d(-x, kernel, stride=1, padding=pad) for kernel, pad in _LINES]
    return torch.minimum(torch.minimum(along[0], along[1]), along[2])


_LINES = (((3, 1, 1), (1, 0, 0)), ((1, 3, 1), (0, 1, 0)), ((1, 1, 3), (0, 0, 1)))


def soft_dilate(x: Tensor) -> Tensor:
    return F.max_pool3d(x, 3, stride=1, padding=1)


def soft_open(x: Tensor) -> Tensor:
    return soft_dilate(soft_erode(x))


def soft_skeleton(x: Tensor, iterations: int) -> Tensor:
    """The soft skeleton of a probability volume in [0, 1] (Shit et al., Algorithm 1)."""
    skeleton = F.relu(x - soft_open(x))
    for _ in range(iterations):
        x = soft_erode(x)
        delta = F.relu(x - soft_open(x))
        skeleton = skeleton + F.relu(delta - skeleton * delta)
    return skeleton


def soft_cldice(probabilities: Tensor, targets: Targets, iterations: int, smooth: float = 1.0) -> Tensor:
    """``1 − clDice`` of the soft skeletons; ignored voxels neither count in the sums nor as foreground."""
    valid = targets.valid
    p, g = probabilities * valid, targets.foreground
    skel_p = soft_skeleton(p, iterations) * valid
    skel_g = soft_skeleton(g, iterations) * valid
    tprec = ((skel_p * g).sum() + smooth) / (skel_p.sum() + smooth)
    tsens = ((skel_g * p).sum() + smooth) / (skel_g.sum() + smooth)
    return 1.0 - 2.0 * tprec * tsens / (tprec + tsens)


def skeleton_recall(probabilities: Tensor, targets: Targets, smooth: float = 1.0) -> Tensor:
    tube = targets.skeleton_tube * targets.valid
    return 1.0 - ((probabilities * tube).sum() + smooth) / (tube.sum() + smooth)


def surface_loss(probabilities: Tensor, targets: Targets) -> Tensor:
    valid = targets.valid
    return (probabilities * targets.signed_distance * valid).sum() / valid.sum().clamp_min(1.0)


def loss_terms(
    logits: Tensor, targets: Targets, pos_weight: float, cldice_iterations: int, active: Mapping[str, float]
) -> dict[str, Tensor]:
    """Each term whose weight in ``active`` is non-zero, unweighted, as a scalar tensor."""
    probabilities = torch.sigmoid(logits.float())
    terms: dict[str, Tensor] = {}
    if active.get("bce", 0.0):
        terms["bce"] = weighted_bce(logits.float(), targets, pos_weight)
    if active.get("dice", 0.0):
        terms["dice"] = soft_dice(probabilities, targets)
    if active.get("cldice", 0.0):
        terms["cldice"] = soft_cldice(probabilities, targets, cldice_iterations)
    if active.get("skeleton_recall", 0.0):
        terms["skeleton_recall"] = skeleton_recall(probabilities, targets)
    if active.get("surface", 0.0):
        terms["surface"] = surface_loss(probabilities, targets)
    return terms
