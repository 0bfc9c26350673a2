"""``python -m hounsfield.worker.launcher <torchrun arguments>``: torchrun that keeps the rank's exit code.

torchrun exits with 1 whenever a rank fails, so a trainer's ``sys.exit(3)`` would reach the
scheduler as 1. This launcher takes exactly torchrun's arguments, runs torchrun's own ``run`` in
this process and exits with the first failed rank's exit code (128 + N for a rank killed by signal
N, as shells report it).

Before importing torch it checks that the module after ``-m`` can be found in this environment, so
a missing trainer fails in milliseconds with a ``launch_error`` record the agent turns into a
readable reason.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
from pathlib import Path

from hounsfield.sdk.platform_env import ENV_REPORT_FILE
from hounsfield.sdk.report_format import dumps_record, launch_error_record

_log = logging.getLogger("hounsfield.worker.launcher")

#: Exit code when the trainer could not be started at all (the report file says why).
LAUNCH_ERROR_EXIT_CODE = 2


def module_argument(argv: list[str]) -> str | None:
    """The module torchrun will run: the argument after ``-m``/``--module`` (how the agent builds it)."""
    for position, argument in enumerate(argv[:-1]):
        if argument in ("-m", "--module"):
            return argv[position + 1]
    return None


def missing_module_reason(module: str) -> str | None:
    """Why ``python -m module`` would fail to find the module, or None when it exists."""
    try:
        if importlib.util.find_spec(module) is not None:
            return None
        return f"module {module!r} not found on this worker"
    except ImportError as error:  # a parent package is missing or fails to import
        return f"module {module!r} not found on this worker: {error}"
    except ValueError as error:
        return f"module {module!r} is not a valid module name: {error}"


def _report_launch_error(reason: str) -> None:
    report_file = os.environ.get(ENV_REPORT_FILE)
    if report_file:
        with Path(report_file).open("a", encoding="utf-8") as file:
            file.write(dumps_record(launch_error_record(reason)) + "\n")


def signal_exit_code(exitcode: int) -> int:
    """Negative codes mean "killed by signal N"; shells report those as 128 + N."""
    return 128 - exitcode if exitcode < 0 else exitcode


def launch(argv: list[str]) -> int:
    module = module_argument(argv)
    if module is not None:
        reason = missing_module_reason(module)
        if reason is not None:
            _log.error("cannot start the trainer: %s", reason)
            _report_launch_error(reason)
            return LAUNCH_ERROR_EXIT_CODE

    from torch.distributed.elastic.multiprocessing.api import SignalException  # noqa: PLC0415 - slow import
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError  # noqa: PLC0415
    from torch.distributed.run import parse_args, run  # noqa: PLC0415

    try:
        run(parse_args(argv))
    except ChildFailedError as error:
        rank, failure = error.get_first_failure()
        code = signal_exit_code(failure.exitcode)
        _log.error("rank %d failed with exit code %d", rank, code)
        return code if code != 0 else 1
    except SignalException as error:
        # torchrun itself received SIGTERM/SIGINT and has already stopped its ranks.
        return 128 + int(error.sigval)
    return 0


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s [launcher] %(message)s")
    sys.exit(launch(sys.argv[1:]))


if __name__ == "__main__":
    main()
