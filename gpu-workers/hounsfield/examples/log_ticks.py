"""``python -m hounsfield.examples.log_ticks --ticks N --interval S``: a DDP job that only prints.

Every rank joins a gloo process group, checks it with an all-reduce, and prints what a real
trainer prints: a start-up line, a line written in two pieces, a line on stderr, then ``tick <i>
at <unix ms>`` every S seconds, with the time the line was printed (the log tests measure how
long a line takes to reach a client). It stops early, and exits 0, on SIGTERM. Printing, not
logging, is the point here: it is the output the platform captures.
"""

from __future__ import annotations

import argparse
import sys
import time

import torch
import torch.distributed as dist

from hounsfield.sdk import Run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ticks", type=int, default=10)
    parser.add_argument("--interval", type=float, default=0.5)
    args = parser.parse_args(argv)

    run = Run.from_env()
    distributed = run.world_size > 1
    if distributed:
        dist.init_process_group("gloo")
    total = torch.tensor([float(run.rank + 1)])
    if distributed:
        dist.all_reduce(total)
    print(f"rank {run.rank} of {run.world_size} started; all-reduce sum {total.item():g}", flush=True)
    sys.stdout.write(f"rank {run.rank} writes this line ")
    sys.stdout.flush()
    time.sleep(0.05)
    sys.stdout.write("in two pieces\n")
    sys.stdout.flush()
    print(f"rank {run.rank} says hello on stderr", file=sys.stderr, flush=True)
    for tick in range(args.ticks):
        if run.should_stop:
            break
        print(f"tick {tick} at {time.time_ns() // 1_000_000}", flush=True)
        run.report(tick + 1, {"loss": 1.0 / (tick + 1)}, total_steps=args.ticks)
        time.sleep(args.interval)
    if distributed:
        dist.barrier()
        dist.destroy_process_group()
    print(f"rank {run.rank} done", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
