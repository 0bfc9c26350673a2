"""``python -m hounsfield.examples.health_faults --fault F``: a trainer that misbehaves on purpose.

It reports a falling loss (``1 / step``) and, from step ``--at`` on, the fault the metrics service must
recognise:

* ``nan``: the loss is NaN from then on (the run keeps going until it is stopped);
* ``spike``: the loss jumps to 20 × its value for that one step;
* ``stall``: the loop sleeps ``--stall-seconds`` without reporting, then carries on;
* ``data-bound``: every step waits ``--data-wait`` seconds "for data" (a sleep measured like a
  DataLoader fetch), so data wait dominates the step time;
* ``none``: a healthy run.

SIGTERM ends it cleanly (exit 0), also in the middle of a stall.
"""

from __future__ import annotations

import argparse
import logging
import math
import time

from hounsfield.sdk import Run

_log = logging.getLogger("hounsfield.examples.health_faults")

FAULTS = ("none", "nan", "spike", "stall", "data-bound")


def loss_at(step: int, fault: str, at: int) -> float:
    """The loss the trainer reports at ``step`` (1-based) under ``fault`` starting at step ``at``."""
    healthy = 1.0 / step
    if fault == "nan" and step >= at:
        return math.nan
    if fault == "spike" and step == at:
        return 20.0 * healthy
    return healthy


def _sleep_unless_stopped(run: Run, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not run.should_stop and time.monotonic() < deadline:
        time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fault", choices=FAULTS, default="none")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--at", type=int, default=10, help="first step with the fault")
    parser.add_argument("--sleep", type=float, default=0.1, help="compute time per step, seconds")
    parser.add_argument("--data-wait", type=float, default=0.4, help="data wait per step for data-bound")
    parser.add_argument("--stall-seconds", type=float, default=10.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    run = Run.from_env()
    _log.info("fault %s from step %d of %d", args.fault, args.at, args.steps)
    for step in range(1, args.steps + 1):
        if run.should_stop:
            _log.info("stop requested; exiting cleanly after step %d", step - 1)
            return 0
        started = time.perf_counter()
        if args.fault == "data-bound":
            _sleep_unless_stopped(run, args.data_wait)
        data_wait = time.perf_counter() - started
        if args.fault == "stall" and step == args.at:
            _log.info("stalling for %.1f s at step %d", args.stall_seconds, step)
            _sleep_unless_stopped(run, args.stall_seconds)
        _sleep_unless_stopped(run, args.sleep)
        run.report(
            step,
            {"loss": loss_at(step, args.fault, args.at)},
            total_steps=args.steps,
            data_wait_seconds=data_wait,
            step_seconds=time.perf_counter() - started,
        )
    _log.info("done after %d steps", args.steps)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
