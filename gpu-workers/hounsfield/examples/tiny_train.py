"""``python -m hounsfield.examples.tiny_train``: a real, tiny PyTorch training under the SDK.

Linear regression on synthetic data (y = x·w* + noise), with the batch and learning rate the
platform resolved (per-device batch, gradient accumulation, scaled LR) or, standalone, resolved
from ``--global-batch``/``--base-lr``. DDP over gloo on the CPU (NCCL on GPUs) when WORLD_SIZE > 1.
Reports loss, LR, samples per second and data wait; on SIGTERM all ranks agree to stop and it
exits 0.
"""

from __future__ import annotations

import argparse
import logging
import time
from contextlib import nullcontext

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from hounsfield.sdk import Run

_log = logging.getLogger("hounsfield.examples.tiny_train")


def _synthetic_batch(
    generator: torch.Generator, weights: torch.Tensor, size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    inputs = torch.randn(size, weights.numel(), generator=generator)
    targets = inputs @ weights + 0.01 * torch.randn(size, generator=generator)
    return inputs, targets.unsqueeze(1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--features", type=int, default=8)
    parser.add_argument("--global-batch", type=int, default=64, help="standalone only")
    parser.add_argument("--base-lr", type=float, default=0.05, help="standalone only")
    parser.add_argument("--log-every", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    run = Run.from_env(global_batch=args.global_batch, base_lr=args.base_lr)
    resolved = run.resolved
    assert resolved is not None  # from the platform or from the arguments above
    distributed = run.world_size > 1
    use_cuda = torch.cuda.is_available()
    device = torch.device("cuda", run.local_rank) if use_cuda else torch.device("cpu")
    if distributed:
        dist.init_process_group("nccl" if use_cuda else "gloo")

    torch.manual_seed(args.seed)  # identical initial weights on every rank
    true_weights = torch.linspace(-1.0, 1.0, args.features)
    data = torch.Generator().manual_seed(args.seed + 1 + run.rank)  # different samples per rank
    model: nn.Module = nn.Linear(args.features, 1).to(device)
    ddp: DistributedDataParallel | None = None
    if distributed:
        ddp = DistributedDataParallel(model, device_ids=[run.local_rank] if use_cuda else None)
        model = ddp
    optimizer = torch.optim.SGD(model.parameters(), lr=resolved.lr, momentum=0.9)
    loss_fn = nn.MSELoss()
    _log.info(
        "rank %d/%d: per-device batch %d × accumulation %d, lr %.4g",
        run.rank,
        run.world_size,
        resolved.perDeviceBatch,
        resolved.gradAccumSteps,
        resolved.lr,
    )

    window_loss, window_wait, window_time, window_steps = 0.0, 0.0, 0.0, 0
    for step in range(1, args.steps + 1):
        if run.should_stop_all_ranks():
            _log.info("stop requested; exiting cleanly after step %d", step - 1)
            break
        started = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        step_loss = 0.0
        for micro in range(resolved.gradAccumSteps):
            fetch_started = time.perf_counter()
            inputs, targets = _synthetic_batch(data, true_weights, resolved.perDeviceBatch)
            inputs, targets = inputs.to(device), targets.to(device)
            window_wait += time.perf_counter() - fetch_started
            last_micro = micro == resolved.gradAccumSteps - 1
            # Gradients are all-reduced once per optimizer step, on the last micro-batch.
            sync = nullcontext() if last_micro or ddp is None else ddp.no_sync()
            with sync:
                loss = loss_fn(model(inputs), targets) / resolved.gradAccumSteps
                loss.backward()
            step_loss += loss.item()
        optimizer.step()
        window_time += time.perf_counter() - started
        window_loss += step_loss
        window_steps += 1
        if step % args.log_every == 0 or step == args.steps:
            run.report(
                step,
                # The batch layout the platform resolved, as this process received it.
                {
                    "loss": window_loss / window_steps,
                    "per_device_batch": resolved.perDeviceBatch,
                    "grad_accum_steps": resolved.gradAccumSteps,
                },
                total_steps=args.steps,
                lr=resolved.lr,
                samples_per_second=resolved.globalBatch * window_steps / window_time,
                data_wait_seconds=window_wait / window_steps,
                step_seconds=window_time / window_steps,
            )
            window_loss, window_wait, window_time, window_steps = 0.0, 0.0, 0.0, 0

    if distributed:
        # Leave together: a rank tearing down gloo while its peer still talks to it aborts the peer.
        dist.barrier()
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
