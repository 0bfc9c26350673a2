"""``python -m hounsfield.examples.count --steps N --sleep S``: a trainer without a model.

Reports ``loss = 1 / step`` for N steps, one every S seconds. The CUDA_VISIBLE_DEVICES it sees goes
to the agent in the runtime record (written by ``Run.from_env()``). It stops early, and exits 0,
when SIGTERM arrives, unless ``--ignore-sigterm`` makes it a trainer that must be killed.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import time

from hounsfield.sdk import Run

_log = logging.getLogger("hounsfield.examples.count")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--sleep", type=float, default=0.1)
    parser.add_argument("--ignore-sigterm", action="store_true", help="never stop on SIGTERM")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    run = Run.from_env(handle_sigterm=not args.ignore_sigterm)
    if args.ignore_sigterm:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _log.info(
        "rank %d/%d sees CUDA_VISIBLE_DEVICES=%r",
        run.rank,
        run.world_size,
        os.environ.get("CUDA_VISIBLE_DEVICES"),
    )
    for step in range(1, args.steps + 1):
        if run.should_stop:
            _log.info("stop requested; exiting cleanly after step %d", step - 1)
            return 0
        time.sleep(args.sleep)
        run.report(step, {"loss": 1.0 / step}, total_steps=args.steps)
    _log.info("done after %d steps", args.steps)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
