"""Whole-volume prediction: sliding windows with Gaussian blending, threshold, small-component removal.

MONAI's ``sliding_window_inference`` with ``mode="gaussian"`` stands in for the shared blending of
issue #13 (``hounsfield.data.patches``) until it lands; ``predict_probabilities`` is the only seam.
"""

from __future__ import annotations

import cc3d
import numpy as np
import numpy.typing as npt
import torch
from monai.inferers import sliding_window_inference
from torch import nn

from hounsfield.recipes.topo_unet.config import InferenceConfig
from hounsfield.recipes.topo_unet.model import heads

Triple = tuple[int, int, int]


def predict_probabilities(
    network: nn.Module,
    image: npt.NDArray[np.float32],
    patch: Triple,
    config: InferenceConfig,
    device: torch.device,
) -> npt.NDArray[np.float32]:
    """Surface probability of every voxel of a z-scored volume (network in eval mode)."""
    was_training = network.training
    network.eval()
    try:
        with torch.no_grad():
            inputs = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))[None, None].to(device)
            logits = sliding_window_inference(
                inputs,
                roi_size=patch,
                sw_batch_size=config.sw_batch_size,
                predictor=lambda x: heads(network(x))[0],
                overlap=config.overlap,
                mode="gaussian",
                padding_mode="constant",
            )
            assert isinstance(logits, torch.Tensor)
            return torch.sigmoid(logits.float())[0, 0].cpu().numpy()
    finally:
        network.train(was_training)


def to_mask(probabilities: npt.NDArray[np.float32], config: InferenceConfig) -> npt.NDArray[np.uint8]:
    mask = (probabilities >= config.threshold).astype(np.uint8)
    if config.min_component_voxels > 0:
        mask = cc3d.dust(mask, threshold=config.min_component_voxels, connectivity=26, in_place=True)
    return mask.astype(np.uint8)
