"""A recipe's process: command line, config assembly, start-up, the loop, and a clean ending.

Configuration, from weakest to strongest: the preset; the job spec's ``config`` (for example
``{"preset": "cpu-tiny", "dataRoot": "/data/SkullBreak", "steps": 500}``); the platform's
hyperparameters (``maxSteps``, ``epochs``, ``seed``), the spec's checkpoint policy
(``everySteps``, ``everyEpochs``) and the dataset root the worker resolved from ``data.root``; the
command line. The batch split and learning rate are the platform's resolved values under the agent
and are resolved from the config's ``globalBatch``/``lr`` (same rules as the scheduler) standalone.

How a process ends: 0 after training (or a requested stop, with a checkpoint); 2 when the recipe
cannot train (bad config, missing data: the message says which field to fix); ``EXIT_OUT_OF_MEMORY``
after running out of memory (recorded for the agent, which retries with a smaller per-device
batch); 1 for any other error. On every error path the traceback is logged first and no collective
is entered, so one rank's failure never leaves its peers waiting in a barrier: the launcher sees
the failed rank and stops the others.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from hounsfield.contracts.models import ResolvedHyperparameters
from hounsfield.data.errors import DataError
from hounsfield.recipes.base import BuildContext, Recipe
from hounsfield.sdk import PlatformEnv, ResolutionError, Run, resolve_hyperparameters
from hounsfield.sdk.oom import is_out_of_memory, record_out_of_memory
from hounsfield.sdk.report_format import EXIT_OUT_OF_MEMORY
from hounsfield.trainers.config_base import TrainerConfigBase, apply_overrides
from hounsfield.trainers.ddp import (
    DistributedContext,
    abandon_distributed,
    finish_distributed,
    init_distributed,
)
from hounsfield.trainers.errors import TrainerError, TrainerErrorCode
from hounsfield.trainers.loop import LoopResult, LoopSettings, TrainingLoop
from hounsfield.trainers.parts import TrainingParts
from hounsfield.trainers.warm_start import warm_start

_log = logging.getLogger(__name__)

EXIT_CANNOT_TRAIN = 2


def argument_parser(recipe: Recipe[Any]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"python -m hounsfield.recipes.{recipe.kind}")
    parser.description = recipe.description
    parser.add_argument("--preset", choices=sorted(recipe.presets), help=f"default: {recipe.default_preset}")
    parser.add_argument("--data-root", type=Path, help="the dataset directory")
    parser.add_argument("--split-csv", type=Path, help="a prepared split.csv (else one is prepared)")
    parser.add_argument(
        "--synthetic",
        type=int,
        metavar="N",
        help="no data root: generate N synthetic subjects first (cpu-tiny)",
    )
    parser.add_argument("--synthetic-shape", type=int, metavar="S", help="synthetic volume size")
    parser.add_argument("--steps", type=int, help="optimizer steps")
    parser.add_argument("--epochs", type=float)
    parser.add_argument("--global-batch", type=int, help="standalone only (the platform resolves it)")
    parser.add_argument("--lr", type=float, help="standalone only (the platform resolves it)")
    parser.add_argument("--log-every", type=int)
    parser.add_argument("--checkpoint-every", type=int)
    parser.add_argument("--num-workers", type=int, help="DataLoader worker processes")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--time-limit-minutes", type=float, help="stop cleanly after this much training")
    parser.add_argument("--output-dir", type=Path, help="standalone only; default hounsfield-runs/<time>")
    parser.add_argument(
        "--config", help="overrides as JSON, or @file.json (same keys as the job spec's config)"
    )
    return parser


def command_line_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The config keys set on the command line (``--config`` first, the named flags over it)."""
    overrides: dict[str, Any] = {}
    if args.config:
        text = Path(args.config[1:]).read_text() if args.config.startswith("@") else args.config
        loaded = json.loads(text)
        if not isinstance(loaded, dict):
            raise SystemExit("--config must be a JSON object")
        overrides.update(loaded)
    flags = {
        "preset": args.preset,
        "dataRoot": args.data_root,
        "splitCsv": args.split_csv,
        "steps": args.steps,
        "epochs": args.epochs,
        "globalBatch": args.global_batch,
        "lr": args.lr,
        "logEvery": args.log_every,
        "checkpointEvery": args.checkpoint_every,
        "numWorkers": args.num_workers,
        "seed": args.seed,
        "timeLimitMinutes": args.time_limit_minutes,
    }
    overrides.update({key: value for key, value in flags.items() if value is not None})
    if args.synthetic is not None or args.synthetic_shape is not None:
        synthetic: dict[str, Any] = dict(overrides.get("synthetic") or {})
        if args.synthetic is not None:
            synthetic["subjects"] = args.synthetic
        if args.synthetic_shape is not None:
            synthetic["shape"] = args.synthetic_shape
        overrides["synthetic"] = synthetic
    return overrides


def assemble_config(
    recipe: Recipe[Any],
    job_config: Mapping[str, Any],
    hyperparameters: Mapping[str, Any],
    cli: Mapping[str, Any],
    data_root: str | Path | None = None,
    checkpoint_policy: Mapping[str, Any] | None = None,
) -> Any:
    """Preset, then job config, then the platform's hyperparameters, checkpoint policy and dataset
    root, then the command line (see the module docstring)."""
    name = str(cli.get("preset") or job_config.get("preset") or recipe.default_preset)
    config = recipe.preset(name)
    config = apply_overrides(config, _layer(job_config), "config")
    platform: dict[str, Any] = {}
    if hyperparameters.get("maxSteps") is not None:
        platform["steps"] = int(hyperparameters["maxSteps"])
    elif hyperparameters.get("epochs") is not None:
        platform["epochs"] = float(hyperparameters["epochs"])
    if hyperparameters.get("seed") is not None:
        platform["seed"] = int(hyperparameters["seed"])
    if data_root:
        platform["dataRoot"] = str(data_root)
    policy = checkpoint_policy or {}
    if policy.get("everySteps") is not None:
        platform["checkpointEvery"] = int(policy["everySteps"])
    if policy.get("everyEpochs") is not None:
        platform["checkpointEveryEpochs"] = float(policy["everyEpochs"])
    config = apply_overrides(config, _layer(platform), "hyperparameters")
    return apply_overrides(config, _layer(cli), "command line")


def _layer(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """One layer of overrides without the preset name; a layer that sets only epochs clears steps
    (steps would otherwise win over the epochs it asks for)."""
    layer = {key: value for key, value in overrides.items() if key != "preset"}
    if "epochs" in layer and "steps" not in layer:
        layer["steps"] = None
    return layer


def build_parts(
    recipe: Recipe[Any],
    config: Any,
    run: Run,
    resolved: ResolvedHyperparameters,
    context: DistributedContext,
) -> TrainingParts:
    """The recipe's training parts, as every rank builds them: seeded first (identical initial
    weights on every rank), and the run's checkpoints described (recipe, preset, provenance)."""
    torch.manual_seed(config.seed)
    parts = recipe.build(config, BuildContext(run=run, dist=context, resolved=resolved))
    run.describe_checkpoints(
        recipe={"kind": recipe.kind, "version": recipe.version, "preset": config.preset},
        provenance=parts.checkpoint_meta,
    )
    return parts


def resolved_for(run: Run, config: TrainerConfigBase) -> ResolvedHyperparameters:
    """The platform's resolved batch and LR, or the config's, resolved for this world size."""
    if run.resolved is not None:
        if run.resolved.worldSize != run.world_size:
            raise TrainerError(
                TrainerErrorCode.NO_BATCH_PLAN,
                f"the batch was resolved for {run.resolved.worldSize} process(es) but {run.world_size} run",
            )
        return run.resolved
    return resolve_hyperparameters(
        global_batch=config.global_batch,
        base_lr=config.lr,
        world_size=run.world_size,
        max_per_device_batch=config.max_per_device_batch,
    )


def total_steps(config: TrainerConfigBase, dataset_size: int, global_batch: int) -> int:
    if config.steps is not None:
        return config.steps
    assert config.epochs is not None  # the config validator demands one of the two
    return max(1, int(-(-config.epochs * dataset_size // global_batch)))


def loop_settings(config: TrainerConfigBase, steps: int) -> LoopSettings:
    return LoopSettings(
        total_steps=steps,
        log_every=config.log_every,
        checkpoint_every=config.checkpoint_every,
        checkpoint_every_epochs=config.checkpoint_every_epochs,
        grad_clip=config.grad_clip,
        bf16=config.bf16,
        num_workers=config.num_workers,
        seed=config.seed,
        time_limit_seconds=None if config.time_limit_minutes is None else 60 * config.time_limit_minutes,
        time_limit_clock=config.time_limit_clock,
        optimizer=config.optimizer,
        lr_schedule=config.lr_schedule,
        validation=config.validation,
        gradient_checkpointing=config.gradient_checkpointing,
        compile=config.compile,
        compile_backend=config.compile_backend,
    )


def run_recipe(recipe: Recipe[Any], argv: Sequence[str] | None = None) -> int:
    """The whole life of one training process; returns the exit code (see the module docstring)."""
    args = argument_parser(recipe).parse_args(argv)
    # Rank 0 speaks for the job; the other ranks only log problems. (Configured before the SDK's
    # Run, which otherwise installs its own console handler and every line would appear twice.)
    level = logging.INFO if PlatformEnv.read().rank == 0 else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run = Run.from_env(output_dir=args.output_dir)
    context: DistributedContext | None = None
    resolved: ResolvedHyperparameters | None = None
    try:
        config = assemble_config(
            recipe,
            run.config,
            run.hyperparameters,
            command_line_overrides(args),
            data_root=run.data_root,
            checkpoint_policy=run.checkpoint_policy,
        )
        resolved = resolved_for(run, config)
        if recipe.preflight is not None:
            recipe.preflight(config)
        context = init_distributed(run.rank, run.world_size, run.local_rank)
        parts = build_parts(recipe, config, run, resolved, context)
        steps = total_steps(config, len(parts.dataset), resolved.globalBatch)  # type: ignore[arg-type]
        if run.init_from is not None:
            warm_start(run, parts.model, Path(run.init_from), parts.ema)
        _write_run_config(recipe, config, run, resolved, context)
        _log.info(
            "%s (%s): %d steps, global batch %d = %d per device × %d process(es) × %d accumulation, lr %.3g, "
            "%d training cases, device %s",
            recipe.kind,
            config.preset,
            steps,
            resolved.globalBatch,
            resolved.perDeviceBatch,
            resolved.worldSize,
            resolved.gradAccumSteps,
            resolved.lr,
            len(parts.dataset),  # type: ignore[arg-type]
            context.device,
        )
        loop = TrainingLoop(
            run=run, context=context, parts=parts, resolved=resolved, settings=loop_settings(config, steps)
        )
        result = loop.run()
    except (TrainerError, ResolutionError, DataError) as error:
        _log.error("%s cannot train: %s", recipe.kind, error)
        return _abandon(run, context, EXIT_CANNOT_TRAIN)
    except BaseException as error:
        if is_out_of_memory(error):
            record_out_of_memory(error, None if resolved is None else resolved.perDeviceBatch)
            return _abandon(run, context, EXIT_OUT_OF_MEMORY)
        if isinstance(error, KeyboardInterrupt | SystemExit):
            raise
        _log.exception("%s failed on rank %d", recipe.kind, run.rank)
        return _abandon(run, context, 1)
    _summarise(recipe.kind, result, run)
    if context is not None:
        finish_distributed(context)
    run.close()
    return 0


def _abandon(run: Run, context: DistributedContext | None, code: int) -> int:
    """The error path: flush what was said, leave the process group without a collective."""
    if context is not None:
        abandon_distributed(context)
    run.close()
    sys.stdout.flush()
    sys.stderr.flush()
    return code


def _write_run_config(
    recipe: Recipe[Any],
    config: TrainerConfigBase,
    run: Run,
    resolved: ResolvedHyperparameters,
    context: DistributedContext,
) -> None:
    if not context.is_main:
        return
    meta = {
        "recipe": recipe.kind,
        "recipeVersion": recipe.version,
        "jobId": run.job_id,
        "attempt": run.attempt,
        "worldSize": run.world_size,
        "resolved": resolved.model_dump(mode="json"),
        "config": config.model_dump(mode="json", by_alias=True),
    }
    (run.output_dir / "config.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")


def _summarise(name: str, result: LoopResult, run: Run) -> None:
    how = "stopped on request" if result.stopped else "finished"
    loss = f"{result.last_loss:.4f}" if result.last_loss is not None else "n/a"
    _log.info(
        "%s %s after %d step(s) this run (global sample %d), last loss %s; checkpoint %s; outputs in %s",
        name,
        how,
        result.steps_done,
        result.global_index,
        loss,
        result.checkpoint,
        run.output_dir,
    )


def main(recipe: Recipe[Any]) -> None:
    """``python -m hounsfield.recipes.<kind>``: exits with :func:`run_recipe`'s code."""
    code = run_recipe(recipe)
    if code != 0:
        # Skip interpreter teardown on failure: destructors of a half-torn process group or of
        # DataLoader workers must not turn a clear exit code into a hang or SIGABRT.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(0)
