"""Process-group set-up for DDP under torchrun: gloo on the CPU, NCCL on GPUs.

torchrun (or the worker agent, which runs torchrun) sets RANK, WORLD_SIZE, LOCAL_RANK and the
rendezvous variables; ``init_distributed`` reads the first three from the SDK's ``Run`` and uses
the ``env://`` rendezvous. A world size of 1 creates no process group, so the same trainer code
runs as a plain script.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistributedContext:
    """Where this process sits in the job and which device it trains on."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(
    rank: int, world_size: int, local_rank: int, *, use_cuda: bool | None = None
) -> DistributedContext:
    """Picks the device (``cuda:LOCAL_RANK`` when CUDA is available) and joins the process group.

    The backend follows the device: NCCL for CUDA, gloo for the CPU. The rendezvous is torchrun's
    ``env://`` (MASTER_ADDR/MASTER_PORT), unless a process group already exists.
    """
    cuda = torch.cuda.is_available() if use_cuda is None else use_cuda
    if cuda:
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    else:
        device = torch.device("cpu")
    if world_size > 1 and not dist.is_initialized():
        backend = "nccl" if cuda else "gloo"
        dist.init_process_group(backend=backend, rank=rank, world_size=world_size)
        _log.info("rank %d/%d joined the %s process group on %s", rank, world_size, backend, device)
    return DistributedContext(rank=rank, world_size=world_size, local_rank=local_rank, device=device)


def finish_distributed(context: DistributedContext) -> None:
    """The success path: every rank reaches the end together before any leaves.

    The process group is not destroyed explicitly: the trainer exits right after (``os._exit`` in
    ``recipes.runner.main``), and tearing gloo/NCCL down while a peer is already gone is what
    aborts a process with SIGABRT at the very end of an otherwise successful run.
    """
    if context.distributed and dist.is_initialized():
        dist.barrier()


def abandon_distributed(context: DistributedContext) -> None:
    """The error path: leave without any collective (a peer may be stuck in one, or gone).

    The failing rank exits non-zero right after; torchrun sees it and stops the other ranks
    (SIGTERM, then SIGKILL after its grace period), so no rank waits for a collective timeout.
    """
    if context.distributed:
        _log.info("rank %d leaves the process group without a barrier (error path)", context.rank)


def barrier(context: DistributedContext) -> None:
    if context.distributed:
        dist.barrier()


def wrap_model(model: nn.Module, context: DistributedContext) -> nn.Module:
    """``DistributedDataParallel`` around ``model`` when there is more than one process."""
    if not context.distributed:
        return model
    device_ids = [context.local_rank] if context.device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=device_ids)


def all_reduce_sum(values: Sequence[float], context: DistributedContext) -> list[float]:
    """Element-wise sum of ``values`` over all ranks (a collective: every rank must call it)."""
    if not context.distributed:
        return [float(v) for v in values]
    tensor = torch.tensor(list(values), dtype=torch.float64, device=_collective_device(context))
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return [float(v) for v in tensor.cpu()]


def all_reduce_max(values: Sequence[float], context: DistributedContext) -> list[float]:
    """Element-wise maximum of ``values`` over all ranks (a collective)."""
    if not context.distributed:
        return [float(v) for v in values]
    tensor = torch.tensor(list(values), dtype=torch.float64, device=_collective_device(context))
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return [float(v) for v in tensor.cpu()]


def _collective_device(context: DistributedContext) -> torch.device:
    # NCCL only reduces CUDA tensors; gloo only CPU ones.
    return context.device if context.device.type == "cuda" else torch.device("cpu")
