"""The global sample order: any world size covers the same global batches, and resumes mid-run."""

from __future__ import annotations

import itertools

import pytest
import torch

from hounsfield.trainers.sampler import GlobalOrderSampler, PositionedDataset, position_seed


def _steps(
    n: int, global_batch: int, world: int, per_device: int, start: int, steps: int, seed: int = 5
) -> list[list[tuple[int, int]]]:
    """The (position, index) pairs each optimizer step consumes, gathered over all ranks."""
    accum = global_batch // (world * per_device)
    streams = [
        iter(
            GlobalOrderSampler(
                n, per_device_batch=per_device, rank=r, world_size=world, seed=seed, start_index=start
            )
        )
        for r in range(world)
    ]
    out = []
    for _ in range(steps):
        pairs: list[tuple[int, int]] = []
        for _micro in range(accum):
            for stream in streams:
                pairs.extend(itertools.islice(stream, per_device))
        out.append(sorted(pairs))
    return out


@pytest.mark.parametrize(("world", "per_device"), [(2, 6), (3, 4), (4, 1), (12, 1), (1, 3)])
def test_every_split_of_the_global_batch_sees_the_same_samples(world: int, per_device: int) -> None:
    reference = _steps(n=10, global_batch=12, world=1, per_device=12, start=0, steps=5)
    assert _steps(n=10, global_batch=12, world=world, per_device=per_device, start=0, steps=5) == reference
    # Step s holds exactly the positions [12 s, 12 s + 12), each epoch a permutation of the dataset.
    for step, pairs in enumerate(reference):
        assert [p for p, _ in pairs] == list(range(12 * step, 12 * step + 12))
    indices = [i for pairs in reference for _, i in sorted(pairs)]
    for epoch in range(6):
        assert sorted(indices[10 * epoch : 10 * epoch + 10]) == list(range(10))


def test_resuming_at_a_global_index_continues_the_order_on_another_world_size() -> None:
    uninterrupted = _steps(n=7, global_batch=8, world=1, per_device=8, start=0, steps=6)
    resumed = _steps(n=7, global_batch=8, world=4, per_device=1, start=3 * 8, steps=3)
    assert resumed == uninterrupted[3:]


def test_start_index_must_fall_on_a_micro_batch_round() -> None:
    with pytest.raises(ValueError, match="multiple"):
        GlobalOrderSampler(10, per_device_batch=2, rank=0, world_size=2, start_index=6)
    with pytest.raises(ValueError):
        GlobalOrderSampler(0, per_device_batch=1)


def test_positioned_items_are_reproducible_and_leave_the_global_rng_alone() -> None:
    class Noise(torch.utils.data.Dataset[dict[str, torch.Tensor]]):
        def __len__(self) -> int:
            return 3

        def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
            return {"x": torch.rand(4) + index}

    dataset = PositionedDataset(Noise(), seed=1)
    torch.manual_seed(0)
    before = torch.get_rng_state()
    first = dataset[(17, 2)]
    assert torch.equal(torch.get_rng_state(), before)
    assert torch.equal(first["x"], dataset[(17, 2)]["x"]) and first["position"] == 17
    assert not torch.equal(first["x"], dataset[(18, 2)]["x"])
    assert position_seed(1, 17) != position_seed(1, 17, stream=1) != position_seed(2, 17)
