"""A recipe job's configuration check, run on a worker's CPU before any GPU is leased.

A GPU job of a kind whose recipe has a ``preflight`` (files its config names, such as
``slice_interp``'s ``vae.weights``) goes through the scheduler's environment phase: a worker runs
this check in one CPU slot while the job stays queued, so a wrong weights file ends the job
``failed`` (kind ``preflight``) with the recipe's message, never after its GPUs were leased. The
check assembles the config exactly as the trainer will (preset, job config, hyperparameters,
checkpoint policy, dataset root) and runs the recipe's preflight on it; nothing is built and no
device is touched. The trainer runs the same preflight again at its start (standalone runs and CPU
jobs, which lease no GPU, have only that one).

``python -m hounsfield.recipes.check REQUEST.json`` reads ``{"kind", "config", "hyperparameters",
"checkpoint", "dataRoot"}``; it exits 0 when the job can start, and 2 with the reason as its last
line of output when it cannot (the worker reports that line).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hounsfield.recipes.registry import RECIPES, load_recipe
from hounsfield.recipes.runner import EXIT_CANNOT_TRAIN, assemble_config
from hounsfield.trainers.errors import TrainerError

#: The first words of a failed check's reason (the worker reports the line that starts with them).
FAILED_PREFIX = "config check failed:"


def checks_before_lease(kind: str) -> bool:
    """Whether GPU jobs of ``kind`` are checked on a CPU before their lease (the recipe has a preflight)."""
    return kind in RECIPES and load_recipe(kind).preflight is not None


def check_job(
    kind: str,
    config: Mapping[str, Any],
    hyperparameters: Mapping[str, Any],
    checkpoint_policy: Mapping[str, Any] | None = None,
    data_root: str | Path | None = None,
) -> None:
    """Raises ``TrainerError`` (with the field to fix) when a job of ``kind`` could not start."""
    recipe = load_recipe(kind)
    assembled = assemble_config(
        recipe, config, hyperparameters, {}, data_root=data_root, checkpoint_policy=checkpoint_policy
    )
    if recipe.preflight is not None:
        recipe.preflight(assembled)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if len(args) != 1:
        print("usage: python -m hounsfield.recipes.check REQUEST.json", file=sys.stderr)
        return EXIT_CANNOT_TRAIN
    request = json.loads(Path(args[0]).read_text(encoding="utf-8"))
    try:
        check_job(
            request["kind"],
            request.get("config") or {},
            request.get("hyperparameters") or {},
            request.get("checkpoint"),
            request.get("dataRoot"),
        )
    except TrainerError as error:
        print(f"{FAILED_PREFIX} {error.message}", flush=True)
        return EXIT_CANNOT_TRAIN
    print("config check passed", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
