"""Under DDP (two gloo ranks) the EMA codebook stays identical on every rank and equals one process
updating on both ranks' latents together; restarts take rank 0's picks on every rank."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from hounsfield.recipes.vqgan3d.model import EMAVectorQuantizer


def _latents(rank: int) -> torch.Tensor:
    return torch.randn(1, 3, 4, 4, 2, generator=torch.Generator().manual_seed(100 + rank))


def _initialised(threshold: float) -> EMAVectorQuantizer:
    q = EMAVectorQuantizer(6, 3, decay=0.8, restart_threshold=threshold)
    q.codebook.copy_(torch.randn(6, 3, generator=torch.Generator().manual_seed(7)))
    q.embed_sum.copy_(q.codebook)
    q.cluster_size.fill_(1.0)
    q.initialized.fill_(True)
    return q.train()


def _rank_main(rank: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    try:
        q = _initialised(threshold=0.0)
        for _ in range(3):
            q(_latents(rank))
        restarting = _initialised(threshold=0.9)
        for _ in range(3):
            restarting(_latents(rank))
        torch.save({"ema": q.codebook, "restart": restarting.codebook}, Path(out, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


@pytest.mark.timeout(120)
def test_codebook_is_identical_on_ranks_and_equals_one_process(tmp_path: Path) -> None:
    from harness import free_port

    mp.spawn(_rank_main, args=(free_port(), str(tmp_path)), nprocs=2, join=True)
    rank0, rank1 = (torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1))
    assert torch.equal(rank0["ema"], rank1["ema"]) and torch.equal(rank0["restart"], rank1["restart"])
    single = _initialised(threshold=0.0)
    both = torch.cat([_latents(0), _latents(1)])
    for _ in range(3):
        single(both)
    assert torch.allclose(single.codebook, rank0["ema"], atol=1e-6)
