"""vqgan3d building blocks against direct references: EMA quantiser, per-axis downsampling, hinge."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hounsfield.recipes.vqgan3d.discriminator import (
    PatchDiscriminator,
    axial_slices,
    hinge_discriminator_loss,
    hinge_generator_loss,
)
from hounsfield.recipes.vqgan3d.model import VQGAN3D, EMAVectorQuantizer, level_strides


def _quantizer(threshold: float = 0.0) -> EMAVectorQuantizer:
    q = EMAVectorQuantizer(4, 2, decay=0.9, eps=1e-5, restart_threshold=threshold)
    q.codebook.copy_(torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [5.0, 5.0]]))
    q.embed_sum.copy_(q.codebook * 2)
    q.cluster_size.fill_(2.0)
    q.initialized.fill_(True)
    return q.train()


def test_ema_update_matches_a_direct_computation() -> None:
    z = torch.tensor([[0.1, 0.2], [0.9, -0.1], [1.2, 0.1], [0.1, 0.8]])  # 4 latent vectors
    q = _quantizer()
    old_code, old_sum, old_size = (
        q.codebook.numpy().copy(),
        q.embed_sum.numpy().copy(),
        q.cluster_size.numpy().copy(),
    )
    out = q(z.T.reshape(1, 2, 4, 1, 1))
    flat = z.numpy()
    nearest = [int(np.argmin([np.sum((v - c) ** 2) for c in old_code])) for v in flat]
    assert out.indices.flatten().tolist() == nearest == [0, 1, 1, 2]
    counts = np.bincount(nearest, minlength=4).astype(np.float64)
    sums = np.zeros((4, 2))
    for v, k in zip(flat, nearest, strict=True):
        sums[k] += v
    size = 0.9 * old_size + 0.1 * counts
    embed = 0.9 * old_sum + 0.1 * sums
    smoothed = (size + 1e-5) / (size.sum() + 4 * 1e-5) * size.sum()
    assert np.allclose(q.cluster_size.numpy(), size) and np.allclose(
        q.codebook.numpy(), embed / smoothed[:, None], atol=1e-6
    )
    # commitment = mean squared distance to the chosen (old) codes; straight-through forward values
    expected = np.mean((flat - old_code[nearest]) ** 2)
    assert out.commitment.item() == pytest.approx(expected, rel=1e-5)
    assert torch.allclose(out.z_q.reshape(2, 4).T, torch.from_numpy(old_code[nearest]).float())


def test_straight_through_gradient_reaches_the_encoder_output() -> None:
    z = torch.randn(1, 2, 2, 2, 1, requires_grad=True)
    out = _quantizer().eval()(z)
    out.z_q.sum().backward()
    assert z.grad is not None and torch.allclose(z.grad, torch.ones_like(z))


def test_data_dependent_init_and_dead_code_restart_use_batch_latents() -> None:
    # a decay this close to 1 keeps the first update from moving the initial codes measurably
    q = EMAVectorQuantizer(8, 3, decay=1 - 1e-7, restart_threshold=0.5).train()
    z = torch.randn(2, 3, 4, 4, 2, generator=torch.Generator().manual_seed(0))
    q(z)
    flat = z.movedim(1, -1).reshape(-1, 3)
    is_latent = lambda row: bool((flat - row).abs().sum(1).min() < 1e-4)  # noqa: E731
    assert bool(q.initialized) and all(is_latent(row) for row in q.codebook)
    q.decay = 0.9
    # a code far from every latent is never chosen, decays below the threshold and is restarted
    q.codebook[5] = 100.0
    q.embed_sum[5] = 100.0 * q.cluster_size[5]
    for _ in range(100):
        q(z)
        if float(q.codebook[5].abs().max()) < 50:
            break
    assert is_latent(q.codebook[5])
    assert q.dead_codes() == int((q.cluster_size < 0.5).sum())


def test_per_axis_downsampling() -> None:
    assert level_strides((4, 4, 2)) == [(2, 2, 2), (2, 2, 1)]
    model = VQGAN3D(hidden_channels=8, embedding_dim=4, n_codes=16, downsample=(4, 4, 2)).eval()
    recon, commitment, codes = model(torch.randn(2, 1, 16, 8, 12))
    assert recon.shape == (2, 1, 16, 8, 12) and codes.shape == (2, 4, 2, 6) and commitment.ndim == 0
    with pytest.raises(ValueError, match="powers of two"):
        level_strides((3, 4, 4))
    with pytest.raises(ValueError, match="not divisible"):
        model(torch.randn(1, 1, 16, 8, 9))


def test_a_patch_the_downsampling_does_not_divide_is_refused_naming_the_fields() -> None:
    from hounsfield.recipes.vqgan3d.config import PRESETS
    from hounsfield.recipes.vqgan3d.recipe import build_model
    from hounsfield.trainers.config_base import apply_overrides
    from hounsfield.trainers.errors import TrainerError

    config = apply_overrides(PRESETS["cpu-tiny"](), {"volumes": {"patch": [16, 16, 10]}})
    with pytest.raises(
        TrainerError, match=r"volumes.patch\[2\]=10 is not divisible by model.downsample\[2\]=4"
    ):
        build_model(config)


def test_hinge_losses_and_discriminators() -> None:
    real, fake = torch.tensor([2.0, 0.5, -1.0]), torch.tensor([-2.0, 0.0, 1.0])
    # relu(1 - real) = [0, .5, 2] mean 5/6; relu(1 + fake) = [0, 1, 2] mean 1
    assert hinge_discriminator_loss(real, fake).item() == pytest.approx(0.5 * (5 / 6 + 1))
    assert hinge_generator_loss(fake).item() == pytest.approx(1 / 3)
    volume = torch.arange(2 * 16 * 16 * 8, dtype=torch.float32).reshape(2, 1, 16, 16, 8)
    slices = axial_slices(volume, 3, step=7)
    assert slices.shape == (6, 1, 16, 16)
    assert torch.equal(slices, axial_slices(volume, 3, step=7))
    assert any(torch.equal(slices[0, 0], volume[0, 0, :, :, k]) for k in range(8))
    assert PatchDiscriminator(2, 8, 2)(slices).shape[1] == 1
    assert PatchDiscriminator(3, 8, 2)(volume).shape[1] == 1
