"""``python -m hounsfield.examples.resumable_train``: a tiny DDP training that checkpoints and resumes.

It shows the checkpoint contract a trainer keeps so that a resumed run — after a crash, and on
another number of processes — ends with the same parameters as an uninterrupted one:

- **A world-size independent sample order.** Sample ``i`` of the synthetic regression set is drawn
  from a generator seeded by ``i``; position ``p`` of the endless training stream is sample
  ``perm_e[p mod N]`` of epoch ``e = p // N`` (``perm_e`` seeded by ``(seed, e)``). Optimizer step
  ``s`` consumes positions ``[s·G, (s+1)·G)`` for the global batch ``G``, split into micro-batches
  over ranks and accumulation steps; DDP averages the gradients, so every world size computes the
  same mean gradient of the same ``G`` samples.
- **Checkpoints** every ``--checkpoint-every`` steps, at the end, and on SIGTERM: the bare model's
  state dict, the optimizer, and ``sampler.global_index`` (the next stream position).
- **Resume** with ``Run.load_checkpoint()``: weights and optimizer state back, the stream continues
  at ``global_index``.

``--kill-at-step`` makes rank 0 SIGKILL itself after that step in the first attempt, as an OOM
kill or a lost node would, for the end-to-end resume test.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import time
from contextlib import nullcontext

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from hounsfield.sdk import Run

_log = logging.getLogger("hounsfield.examples.resumable_train")


class SampleStream:
    """Positions → samples, the same for every world size (see the module docstring)."""

    def __init__(self, size: int, features: int, seed: int) -> None:
        self.size, self.features, self.seed = size, features, seed
        self.true_weights = torch.linspace(-1.0, 1.0, features)

    def sample(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + index)
        x = torch.randn(self.features, generator=generator)
        y = x @ self.true_weights + 0.05 * torch.randn((), generator=generator)
        return x, y.reshape(1)

    def batch(self, positions: range) -> tuple[torch.Tensor, torch.Tensor]:
        pairs = [self.sample(self._index(p)) for p in positions]
        return torch.stack([x for x, _ in pairs]), torch.stack([y for _, y in pairs])

    def _index(self, position: int) -> int:
        epoch, offset = divmod(position, self.size)
        order = torch.randperm(self.size, generator=torch.Generator().manual_seed(self.seed + 7919 * epoch))
        return int(order[offset])


def micro_positions(
    step: int, micro: int, rank: int, world: int, per_device: int, global_batch: int
) -> range:
    """Positions of one rank's micro-batch: step ``step``'s slice of the stream, cut round-robin."""
    start = step * global_batch + (micro * world + rank) * per_device
    return range(start, start + per_device)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--checkpoint-every", type=int, default=10)
    parser.add_argument("--features", type=int, default=8)
    parser.add_argument("--dataset-size", type=int, default=200)
    parser.add_argument("--global-batch", type=int, default=16, help="standalone only")
    parser.add_argument("--base-lr", type=float, default=0.05, help="standalone only")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kill-at-step", type=int, default=None)
    # Slows each step down (tests that act while a job runs); the numbers do not change.
    parser.add_argument("--step-sleep", type=float, default=0.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    run = Run.from_env(global_batch=args.global_batch, base_lr=args.base_lr)
    resolved = run.resolved
    assert resolved is not None
    distributed = run.world_size > 1
    if distributed:
        dist.init_process_group("gloo")

    torch.manual_seed(args.seed)  # the same initial weights on every rank and in every run
    model = nn.Sequential(nn.Linear(args.features, 16), nn.Tanh(), nn.Linear(16, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=resolved.lr, momentum=0.9)
    start = 0
    resumed = run.load_checkpoint()
    if resumed is not None:
        model.load_state_dict(resumed.state["model"])
        optimizer.load_state_dict(resumed.state["optimizer"])
        start = resumed.step
        # The stream continues where it stopped, whatever world size wrote the checkpoint.
        assert resumed.state["sampler"]["global_index"] == start * resolved.globalBatch
    ddp = DistributedDataParallel(model) if distributed else None
    stream = SampleStream(args.dataset_size, args.features, args.seed)
    loss_fn = nn.MSELoss()

    def checkpoint(step: int, loss: float) -> None:
        state = {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "sampler": {"global_index": step * resolved.globalBatch},
        }
        run.save_checkpoint(state, step, metrics={"loss": loss})

    loss_value = float("nan")
    for step in range(start, args.steps):
        if run.should_stop_all_ranks():
            checkpoint(step, loss_value)
            break
        optimizer.zero_grad(set_to_none=True)
        loss_value = 0.0
        for micro in range(resolved.gradAccumSteps):
            positions = micro_positions(
                step, micro, run.rank, run.world_size, resolved.perDeviceBatch, resolved.globalBatch
            )
            inputs, targets = stream.batch(positions)
            last = micro == resolved.gradAccumSteps - 1
            with nullcontext() if last or ddp is None else ddp.no_sync():
                loss = loss_fn((ddp or model)(inputs), targets) / resolved.gradAccumSteps
                loss.backward()
            loss_value += loss.item()
        optimizer.step()
        done = step + 1
        run.report(done, {"loss": loss_value}, total_steps=args.steps, lr=resolved.lr)
        if args.step_sleep > 0:
            time.sleep(args.step_sleep)
        if done % args.checkpoint_every == 0 or done == args.steps:
            checkpoint(done, loss_value)
        if args.kill_at_step == done and run.rank == 0 and (run.attempt or 1) == 1:
            _log.warning("killing rank 0 after step %d (--kill-at-step)", done)
            os.kill(os.getpid(), signal.SIGKILL)

    if distributed:
        dist.barrier()
        dist.destroy_process_group()
    run.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
