"""Weight EMA against a hand-computed average."""

import pytest
import torch
from torch import nn

from hounsfield.diffusion import EMA


class _Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.linear = nn.Linear(3, 4)
        self.norm = nn.BatchNorm1d(4)


def test_update_is_an_exponential_moving_average() -> None:
    model = _Net()
    ema = EMA(model, decay=0.9)
    expected = model.linear.weight.detach().double().clone()
    for step in range(3):
        with torch.no_grad():
            model.linear.weight.add_(1.0 + step)
            counter = model.norm.num_batches_tracked
            assert counter is not None
            counter.add_(1)
        ema.update(model)
        expected = 0.9 * expected + 0.1 * model.linear.weight.detach().double()
    torch.testing.assert_close(ema.shadow["linear.weight"].double(), expected, rtol=1e-6, atol=1e-6)
    assert ema.shadow["norm.num_batches_tracked"].item() == 3, "integer buffers are copied"
    assert ema.num_updates == 3


def test_copy_to_and_state_dict_round_trip() -> None:
    model = _Net()
    ema = EMA(model, decay=0.5)
    with torch.no_grad():
        model.linear.bias.fill_(2.0)
    ema.update(model)
    state = ema.state_dict()
    assert all(t.device.type == "cpu" for t in state["shadow"].values())
    other = _Net()
    restored = EMA(other, decay=0.99)
    restored.load_state_dict(state)
    assert restored.decay == 0.5 and restored.num_updates == 1
    restored.copy_to(other)
    torch.testing.assert_close(other.linear.bias, ema.shadow["linear.bias"])
    torch.testing.assert_close(other.linear.bias, 0.5 * _Net().linear.bias.detach() + 1.0)


def test_invalid_decay_is_rejected() -> None:
    with pytest.raises(ValueError):
        EMA(_Net(), decay=1.0)
