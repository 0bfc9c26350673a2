"""PatchGAN discriminators for the VQGAN: one on 2-D slices, one on 3-D patches, hinge losses.

Both are the usual PatchGAN stacks (Isola et al. 2017): ``layers`` strided 4×4(×4) convolutions with
LeakyReLU(0.2) and GroupNorm, channels doubling up to 8 × ``channels``, then a 1-channel
convolution giving a realness score per receptive field. The 2-D one scores axial slices (along z)
drawn per step, the 3-D one whole patches.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hounsfield.recipes.vqgan3d.model import group_count


class PatchDiscriminator(nn.Module):
    """A PatchGAN over 2-D (``dims=2``) or 3-D (``dims=3``) single-channel inputs."""

    def __init__(self, dims: int, channels: int = 64, layers: int = 3) -> None:
        super().__init__()
        conv = nn.Conv2d if dims == 2 else nn.Conv3d
        blocks: list[nn.Module] = [conv(1, channels, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
        current = channels
        for layer in range(1, layers + 1):
            out = channels * min(2**layer, 8)
            stride = 2 if layer < layers else 1
            blocks += [
                conv(current, out, 4, stride=stride, padding=1),
                nn.GroupNorm(group_count(out), out),
                nn.LeakyReLU(0.2),
            ]
            current = out
        blocks.append(conv(current, 1, 3, padding=1))
        self.net = nn.Sequential(*blocks)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)  # type: ignore[no-any-return]


def axial_slices(volume: Tensor, count: int, step: int) -> Tensor:
    """``count`` z-slices per sample of ``B×1×X×Y×Z`` as ``(B·count)×1×X×Y``, chosen by ``step``.

    The same step picks the same slices for the real and the reconstructed batch.
    """
    generator = torch.Generator().manual_seed(step)
    depth = volume.shape[-1]
    picks = torch.randint(0, depth, (count,), generator=generator).to(volume.device)
    slices = volume.index_select(-1, picks)  # B×1×X×Y×count
    return slices.permute(0, 4, 1, 2, 3).reshape(-1, 1, *volume.shape[2:4])


def hinge_discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """``mean(relu(1 - D(real))) + mean(relu(1 + D(fake)))``, halved as in taming-transformers."""
    return 0.5 * (F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean())


def hinge_generator_loss(fake_logits: Tensor) -> Tensor:
    """``-mean(D(fake))``."""
    return -fake_logits.mean()
