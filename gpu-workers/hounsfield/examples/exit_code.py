"""``python -m hounsfield.examples.exit_code --code 3``: reports once, logs to stderr, exits with the code."""

from __future__ import annotations

import argparse
import logging

from hounsfield.sdk import Run

_log = logging.getLogger("hounsfield.examples.exit_code")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--code", type=int, default=3)
    args = parser.parse_args(argv)
    # logging's default stream is stderr, which is what this example is meant to exercise.
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    run = Run.from_env()
    run.report(1, {"loss": 1.0}, total_steps=10)
    _log.error("simulated failure: the data loader found a corrupt case")
    _log.error("simulated failure: giving up")
    _log.error("exiting with code %d", args.code)
    return args.code


if __name__ == "__main__":
    raise SystemExit(main())
