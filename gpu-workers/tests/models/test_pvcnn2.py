"""PVCNN2 epsilon network: paper size, tiny forward shapes, gradient flow."""

import pydantic
import pytest
import torch

from hounsfield.models.pvcnn2 import PVCNN2, PVCNN2Config, count_parameters

# Parameter count of the public PCDiff network (extra_feature_channels=0), measured on the
# original code; the paper reports 27.65 M.
PCDIFF_PARAMETERS = 27_648_963


def test_paper_config_has_the_published_parameter_count() -> None:
    n = count_parameters(PVCNN2(PVCNN2Config.paper()))
    assert abs(n - 27.65e6) <= 0.01 * 27.65e6
    assert n == PCDIFF_PARAMETERS


def test_paper_config_keeps_the_paper_sizes() -> None:
    cfg = PVCNN2Config.paper()
    assert [s.num_centers for s in cfg.sa_stages] == [10240, 2560, 640, 160]
    assert [s.radius for s in cfg.sa_stages] == [0.1, 0.2, 0.4, 0.8]
    assert {s.num_neighbors for s in cfg.sa_stages} == {128}
    assert (cfg.embed_dim, cfg.dropout, cfg.head_dropout) == (64, 0.1, 0.5)


def _tiny_batch(batch: int = 2, n: int = 2048, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, 3, n, generator=g)
    t = torch.randint(0, 1000, (batch,), generator=g)
    return x, t


def test_tiny_forward_predicts_noise_for_every_point() -> None:
    torch.manual_seed(0)
    model = PVCNN2(PVCNN2Config.tiny()).eval()
    x, t = _tiny_batch()
    with torch.no_grad():
        eps = model(x, t)
        eps_other_t = model(x, t + 1)
    assert eps.shape == (2, 3, 2048)
    assert torch.isfinite(eps).all()
    assert not torch.allclose(eps, eps_other_t), "the prediction depends on the timestep"


def test_extra_feature_channels_are_accepted() -> None:
    torch.manual_seed(0)
    model = PVCNN2(PVCNN2Config.tiny().model_copy(update={"extra_feature_channels": 2})).eval()
    x, t = _tiny_batch(batch=1, n=600)
    with torch.no_grad():
        assert model(torch.cat([x, torch.ones(1, 2, 600)], dim=1), t).shape == (1, 3, 600)
    with pytest.raises(ValueError, match="expected x"):
        model(x, t)


def test_gradients_reach_every_parameter() -> None:
    torch.manual_seed(0)
    model = PVCNN2(PVCNN2Config.tiny())
    x, t = _tiny_batch(n=1024)
    model(x, t).square().mean().backward()
    grads = dict(model.named_parameters())
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in grads.values())
    zero = [name for name, p in grads.items() if p.grad is not None and not p.grad.abs().sum() > 0]
    # A squeeze-excitation bottleneck whose ReLU units are all negative for this input gates with a
    # constant 0.5 and passes no gradient to its two weights (as in the original); nothing else may.
    assert all(".fc." in name for name in zero), zero
    assert len(zero) <= 2


def test_widths_that_break_group_norm_are_rejected() -> None:
    with pytest.raises(pydantic.ValidationError, match="GroupNorm"):
        PVCNN2Config.tiny().model_validate({**PVCNN2Config.tiny().model_dump(), "width_multiplier": 0.1})
