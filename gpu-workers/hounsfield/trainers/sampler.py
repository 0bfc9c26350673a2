"""A global sample order that any world size can split, resume and reproduce.

Training visits an endless stream of *positions* 0, 1, 2, ...; position ``p`` is sample
``perm_e[p mod N]`` of epoch ``e = p // N``, where ``perm_e`` is a permutation seeded by
``(seed, e)``. Optimizer step ``s`` consumes positions ``[s G, (s + 1) G)`` for the global batch
``G``, whatever the world size ``W``, per-device batch ``b`` and accumulation ``A`` (``G = W b A``):
the stream is cut into micro-batches of ``b`` positions and micro-batch ``k`` goes to rank
``k mod W``. A run that stopped after ``s`` steps resumes at global index ``s G``, also on another
number of processes.

Every random draw that belongs to a sample (its points, its diffusion timestep and noise) is
seeded by the sample's position through ``position_seed``, so a sample is the same on any rank and
at any world size: DDP with W processes computes the same global batch as one process.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import torch
from torch.utils.data import Dataset, Sampler

_SEED_STRIDE = 1 << 40  # positions stay far below 2**40 (a trillion samples)
_SEED_MASK = (1 << 63) - 1


def position_seed(seed: int, position: int, stream: int = 0) -> int:
    """A 63-bit seed for the draws of one sample position; ``stream`` separates independent uses."""
    return ((seed * 1_000_003 + stream) * _SEED_STRIDE + position) & _SEED_MASK


class GlobalOrderSampler(Sampler[tuple[int, int]]):
    """Yields ``(position, dataset_index)`` pairs for one rank, endlessly, from ``start_index`` on.

    ``start_index`` (the global sample index to resume from) must fall on a micro-batch round,
    i.e. be a multiple of ``world_size * per_device_batch`` (every multiple of the global batch is).
    """

    def __init__(
        self,
        dataset_size: int,
        *,
        per_device_batch: int,
        rank: int = 0,
        world_size: int = 1,
        seed: int = 0,
        start_index: int = 0,
        shuffle: bool = True,
    ) -> None:
        if dataset_size < 1:
            raise ValueError("the dataset is empty")
        if per_device_batch < 1 or world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"bad batch/rank: batch {per_device_batch}, rank {rank} of {world_size}")
        round_size = world_size * per_device_batch
        if start_index < 0 or start_index % round_size:
            raise ValueError(f"start index {start_index} is not a multiple of {round_size} (world × batch)")
        self.dataset_size = dataset_size
        self.per_device_batch = per_device_batch
        self.rank = rank
        self.world_size = world_size
        self.seed = seed
        self.start_index = start_index
        self.shuffle = shuffle

    def epoch_order(self, epoch: int) -> list[int]:
        """The dataset indices of one epoch, in visiting order."""
        if not self.shuffle:
            return list(range(self.dataset_size))
        generator = torch.Generator().manual_seed(position_seed(self.seed, epoch, stream=7))
        return torch.randperm(self.dataset_size, generator=generator).tolist()

    def index_at(self, position: int) -> int:
        return self.epoch_order(position // self.dataset_size)[position % self.dataset_size]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        b, n = self.per_device_batch, self.dataset_size
        position = self.start_index + self.rank * b
        epoch, order = -1, []
        while True:
            for p in range(position, position + b):
                if p // n != epoch:
                    epoch = p // n
                    order = self.epoch_order(epoch)
                yield p, order[p % n]
            position += self.world_size * b


def seeded_item(dataset: Dataset[Any], index: int, seed: int, stream: int) -> Any:
    """``dataset[index]`` drawn under a seed of its own (``position_seed(seed, index, stream)``), the
    global RNG restored afterwards: the same item every time, as validation needs."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(position_seed(seed, index, stream))
        return dataset[index]


class PositionedDataset(Dataset[dict[str, Any]]):
    """Wraps a dataset of dict items so ``dataset[(position, index)]`` is reproducible per position.

    The wrapped item is drawn under torch's global RNG seeded by ``position_seed(seed, position)``
    (and restored afterwards), and gets a ``position`` entry for the training step's own draws.
    """

    def __init__(self, base: Dataset[dict[str, Any]], seed: int) -> None:
        self.base = base
        self.seed = seed

    def __len__(self) -> int:
        return len(self.base)  # type: ignore[arg-type]

    def __getitem__(self, key: tuple[int, int]) -> dict[str, Any]:
        position, index = key
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(position_seed(self.seed, position, stream=1))
            item: Mapping[str, Any] = self.base[index]
        return {**item, "position": position}
