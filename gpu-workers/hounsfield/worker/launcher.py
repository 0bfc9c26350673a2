"""``python -m hounsfield.worker.launcher <torchrun arguments>``: torchrun that keeps the rank's exit code.

torchrun exits with 1 whenever a rank fails, so a trainer's ``sys.exit(3)`` would reach the
scheduler as 1. This launcher takes exactly torchrun's arguments, runs torchrun's own ``run`` in
this process and exits with the first failed rank's exit code (128 + N for a rank killed by signal
N, as shells report it).

Before importing torch it checks that the module after ``-m`` can be found in this environment, so
a missing trainer fails in milliseconds with a ``launch_error`` record the agent turns into a
readable reason.

With ``--hf-log-dir=DIR`` (and optionally ``--hf-log-segment-bytes=N``, ``--hf-log-max-bytes=N``)
before torchrun's arguments, every rank's stdout and stderr and the launcher's own output are
captured line by line, prefixed with their source, into rotated segments under DIR
(``output_capture``, ``log_segments``); the agent ships those. Without it, output goes where
torchrun sends it by default.

A multi-node attempt (``--rdzv-backend=c10d`` with ``--nnodes`` above 1) joins the rendezvous as
the node ``--node-rank`` names (``rendezvous_order``), so the scheduler's node 0 holds global rank 0.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
import uuid
from pathlib import Path
from typing import Any

from hounsfield.sdk.platform_env import ENV_REPORT_FILE
from hounsfield.sdk.report_format import dumps_record, launch_error_record
from hounsfield.worker.log_segments import LogLimits, SegmentWriter
from hounsfield.worker.output_capture import OutputCapture

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
        spec = importlib.util.find_spec(module)
        if spec is None:
            return f"module {module!r} not found on this worker"
        package = spec.submodule_search_locations is not None
        if package and importlib.util.find_spec(f"{module}.__main__") is None:
            # A package runs under `python -m` only through its __main__ (a family still being built).
            return f"module {module!r} not found on this worker as a runnable module (no __main__)"
        return None
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


CAPTURE_OPTIONS = {
    "--hf-log-dir": "directory",
    "--hf-log-segment-bytes": "segment_bytes",
    "--hf-log-max-bytes": "max_bytes",
}


def split_capture_options(argv: list[str]) -> tuple[dict[str, str], list[str]]:
    """The launcher's own ``--hf-log-*=value`` options (which come first) and torchrun's arguments."""
    options: dict[str, str] = {}
    position = 0
    while position < len(argv) and argv[position].split("=", 1)[0] in CAPTURE_OPTIONS:
        name, _, value = argv[position].partition("=")
        if not value:
            raise SystemExit(f"launcher: {name} needs a value ({name}=...)")
        options[CAPTURE_OPTIONS[name]] = value
        position += 1
    return options, argv[position:]


def capture_command_options(directory: Path, limits: LogLimits) -> list[str]:
    """The launcher options that capture the trainer's output into ``directory`` under ``limits``."""
    return [
        f"--hf-log-dir={directory}",
        f"--hf-log-segment-bytes={limits.segment_bytes}",
        f"--hf-log-max-bytes={limits.max_bytes}",
    ]


def _start_capture(options: dict[str, str]) -> OutputCapture | None:
    if "directory" not in options:
        return None
    limits = LogLimits.model_validate({k: int(v) for k, v in options.items() if k != "directory"})
    capture = OutputCapture(SegmentWriter(Path(options["directory"]), limits))
    capture.start()
    capture.capture_own_output()
    return capture


def _run_torchrun(argv: list[str], capture: OutputCapture | None, log_dir: Path | None) -> None:
    """torchrun's ``run``, with the ranks' output sent to ``capture`` when there is one."""
    from torch.distributed.launcher.api import elastic_launch  # noqa: PLC0415 - slow import
    from torch.distributed.run import config_from_args, parse_args, parse_min_max_nnodes, run  # noqa: PLC0415

    args = parse_args(argv)
    if args.rdzv_backend == "c10d" and not args.standalone and parse_min_max_nnodes(args.nnodes)[1] > 1:
        # A multi-node attempt: the scheduler's node rank becomes the rendezvous's (torchrun would
        # ignore --node-rank here and warn about it, so it is consumed).
        from hounsfield.worker.rendezvous_order import follow_node_rank  # noqa: PLC0415 - imports torch

        follow_node_rank(args.node_rank)
        args.node_rank = 0
    if capture is None:
        run(args)
        return
    from hounsfield.worker.rank_logs_specs import RankLogsSpecs  # noqa: PLC0415 - imports torch

    # What torchrun's run() does to the rendezvous arguments before it builds its config.
    single_node_static = (
        args.rdzv_backend == "static"
        and not args.rdzv_endpoint
        and args.master_port is None
        and parse_min_max_nnodes(args.nnodes)[1] == 1
    )
    if args.standalone or single_node_static:
        args.rdzv_backend, args.rdzv_endpoint, args.rdzv_id = "c10d", "localhost:0", str(uuid.uuid4())
    if args.master_port is None:
        args.master_port = 29500
    config, entrypoint, entry_args = config_from_args(args)
    torchelastic_dir = log_dir.parent / "torchelastic" if log_dir is not None else None
    config.logs_specs = RankLogsSpecs(capture, str(torchelastic_dir) if torchelastic_dir else "")
    launcher: Any = elastic_launch(config=config, entrypoint=entrypoint)
    launcher(*entry_args)


def launch(argv: list[str]) -> int:
    options, argv = split_capture_options(argv)
    capture = _start_capture(options)
    try:
        return _launch(argv, capture, Path(options["directory"]) if capture is not None else None)
    finally:
        if capture is not None:
            capture.close()


def _launch(argv: list[str], capture: OutputCapture | None, log_dir: Path | None) -> int:
    module = module_argument(argv)
    if module is not None:
        reason = missing_module_reason(module)
        if reason is not None:
            _log.error("cannot start the trainer: %s", reason)
            _report_launch_error(reason)
            return LAUNCH_ERROR_EXIT_CODE

    from torch.distributed.elastic.multiprocessing.api import SignalException  # noqa: PLC0415 - slow import
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError  # noqa: PLC0415

    try:
        _run_torchrun(argv, capture, log_dir)
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
    # Captured lines carry their source already ("[launcher] ...").
    captured = any(argument.startswith("--hf-log-dir=") for argument in sys.argv[1:])
    tag = "" if captured else "[launcher] "
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s %(levelname)s {tag}%(message)s")
    sys.exit(launch(sys.argv[1:]))


if __name__ == "__main__":
    main()
