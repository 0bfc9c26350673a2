"""``python -m hounsfield.examples.oom_probe --fits 4``: a training that runs out of memory above a
per-device batch, to show (and test) the platform's out-of-memory retries.

It trains the resumable example's regression model with the batch split the platform resolved.
When the per-device batch exceeds ``--fits``, its first forward pass raises
``torch.OutOfMemoryError`` exactly as a CUDA allocation failure would; ``exit_on_out_of_memory``
records that and exits with the SDK's out-of-memory code, and the scheduler retries the attempt
with half the per-device batch and twice the accumulation (same global batch and learning rate)
until it fits. Every checkpoint's meta records the resolved split it was trained with.
"""

from __future__ import annotations

import argparse
import logging

import torch
from torch import nn

from hounsfield.examples.resumable_train import SampleStream, micro_positions
from hounsfield.sdk import Run
from hounsfield.sdk.oom import exit_on_out_of_memory

_log = logging.getLogger("hounsfield.examples.oom_probe")


def allocate(per_device_batch: int, fits: int) -> None:
    """What the GPU would say: above ``fits`` samples per device there is no room."""
    if per_device_batch > fits:
        raise torch.OutOfMemoryError(
            f"CUDA out of memory. Tried to allocate {per_device_batch * 512} MiB "
            f"(the probe fits {fits} samples per device, asked for {per_device_batch})"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fits", type=int, default=4, help="largest per-device batch that fits")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--checkpoint-every", type=int, default=2)
    parser.add_argument("--features", type=int, default=8)
    parser.add_argument("--global-batch", type=int, default=16, help="standalone only")
    parser.add_argument("--base-lr", type=float, default=0.05, help="standalone only")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    run = Run.from_env(global_batch=args.global_batch, base_lr=args.base_lr)
    resolved = run.resolved
    assert resolved is not None
    _log.info(
        "global batch %d = %d per device × %d accumulation × %d process(es)",
        resolved.globalBatch,
        resolved.perDeviceBatch,
        resolved.gradAccumSteps,
        resolved.worldSize,
    )
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(args.features, 16), nn.Tanh(), nn.Linear(16, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=resolved.lr)
    stream = SampleStream(200, args.features, 0)
    start = 0
    resumed = run.load_checkpoint()
    if resumed is not None:
        model.load_state_dict(resumed.state["model"])
        optimizer.load_state_dict(resumed.state["optimizer"])
        start = resumed.step
    with exit_on_out_of_memory(resolved.perDeviceBatch):
        for step in range(start, args.steps):
            optimizer.zero_grad(set_to_none=True)
            loss_value = 0.0
            for micro in range(resolved.gradAccumSteps):
                positions = micro_positions(
                    step, micro, run.rank, run.world_size, resolved.perDeviceBatch, resolved.globalBatch
                )
                allocate(len(positions), args.fits)
                inputs, targets = stream.batch(positions)
                loss = nn.functional.mse_loss(model(inputs), targets) / resolved.gradAccumSteps
                loss.backward()
                loss_value += float(loss)
            optimizer.step()
            done = step + 1
            run.report(done, {"loss": loss_value}, total_steps=args.steps, lr=resolved.lr)
            if done % args.checkpoint_every == 0 or done == args.steps:
                state = {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "sampler": {"global_index": done * resolved.globalBatch},
                }
                run.save_checkpoint(state, done, metrics={"loss": loss_value})
    run.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
