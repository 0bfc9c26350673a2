"""What the trainers share around their training loop: command line, config assembly, start-up.

Configuration, from weakest to strongest: the preset; the job spec's ``config`` (``run.config``,
for example ``{"preset": "cpu-tiny", "dataRoot": "/data/SkullBreak", "steps": 500}``); the
platform's hyperparameters (``maxSteps``, ``epochs``, ``seed``) and the dataset root the worker
resolved from ``data.root`` (HOUNSFIELD_DATA_ROOT); the command line. The batch
split and learning rate are the platform's resolved values under the agent and are resolved
from the config's ``globalBatch``/``lr`` (same rules as the scheduler) when run standalone.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import torch
from torch import nn
from torch.utils.data import Dataset

from hounsfield.data.errors import DataError
from hounsfield.diffusion import EMA
from hounsfield.sdk import PlatformEnv, ResolutionError, Resolved, Run, resolve_hyperparameters
from hounsfield.sdk.platform_env import ENV_DATA_ROOT
from hounsfield.trainers.config_base import TrainerConfigBase, apply_overrides
from hounsfield.trainers.ddp import DistributedContext, cleanup_distributed, init_distributed
from hounsfield.trainers.errors import TrainerError, TrainerErrorCode
from hounsfield.trainers.loop import BatchPlan, LoopResult, LoopSettings, LossFn, TrainingLoop

_log = logging.getLogger(__name__)

ConfigT = TypeVar("ConfigT", bound=TrainerConfigBase)
DEFAULT_PRESET = "cpu-tiny"


@dataclass
class TrainingParts:
    """What a trainer builds for the loop."""

    model: nn.Module
    loss_fn: LossFn
    optimizer: torch.optim.Optimizer
    dataset: Dataset[dict[str, Any]]
    ema: EMA | None = None


@dataclass(frozen=True)
class TrainerDefinition(Generic[ConfigT]):
    """One trainer: its name, its presets and how it builds model, loss, optimiser and data."""

    name: str
    description: str
    preset: Callable[[str], ConfigT]
    presets: Sequence[str]
    build: Callable[[ConfigT, Run, DistributedContext, BatchPlan], TrainingParts]


def argument_parser(definition: TrainerDefinition[Any]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"python -m hounsfield.trainers.{definition.name}")
    parser.description = definition.description
    parser.add_argument("--preset", choices=list(definition.presets), help=f"default: {DEFAULT_PRESET}")
    parser.add_argument("--data-root", type=Path, help="SkullBreak/SkullFix directory")
    parser.add_argument("--split-csv", type=Path, help="a prepared split.csv (else one is prepared)")
    parser.add_argument(
        "--synthetic",
        type=int,
        metavar="N",
        help="no data root: generate N synthetic subjects first (cpu-tiny)",
    )
    parser.add_argument("--synthetic-shape", type=int, metavar="S", help="synthetic volume size (default 64)")
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
    definition: TrainerDefinition[ConfigT],
    job_config: Mapping[str, Any],
    hyperparameters: Mapping[str, Any],
    cli: Mapping[str, Any],
    data_root: str | None = None,
    checkpoint_policy: Mapping[str, Any] | None = None,
) -> ConfigT:
    """Preset, then job config, then the platform's hyperparameters, the spec's
    ``checkpoint.everySteps`` and the dataset root its preflight resolved from the spec's
    ``data.root``, then the command line."""
    name = str(cli.get("preset") or job_config.get("preset") or DEFAULT_PRESET)
    config = definition.preset(name)
    config = apply_overrides(config, _layer(job_config), "job config")
    platform: dict[str, Any] = {}
    if hyperparameters.get("maxSteps") is not None:
        platform["steps"] = int(hyperparameters["maxSteps"])
    elif hyperparameters.get("epochs") is not None:
        platform["epochs"] = float(hyperparameters["epochs"])
    if hyperparameters.get("seed") is not None:
        platform["seed"] = int(hyperparameters["seed"])
    if data_root:
        platform["dataRoot"] = data_root
    if (checkpoint_policy or {}).get("everySteps") is not None:
        platform["checkpointEvery"] = int((checkpoint_policy or {})["everySteps"])
    config = apply_overrides(config, _layer(platform), "hyperparameters")
    return apply_overrides(config, _layer(cli), "command line")


def _layer(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """One layer of overrides without the preset name; a layer that sets only epochs clears steps
    (steps would otherwise win over the epochs it asks for)."""
    layer = {key: value for key, value in overrides.items() if key != "preset"}
    if "epochs" in layer and "steps" not in layer:
        layer["steps"] = None
    return layer


def batch_plan(run: Run, config: TrainerConfigBase) -> BatchPlan:
    """The platform's resolved batch and LR, or the config's, resolved for this world size."""
    if run.resolved is not None and run.resolved.world_size != run.world_size:
        raise TrainerError(
            TrainerErrorCode.NO_BATCH_PLAN,
            f"the batch was resolved for {run.resolved.world_size} process(es) but {run.world_size} run",
        )
    resolved: Resolved = run.resolved or resolve_hyperparameters(
        global_batch=config.global_batch,
        base_lr=config.lr,
        world_size=run.world_size,
        max_per_device_batch=config.max_per_device_batch,
    )
    return BatchPlan.from_resolved(resolved)


def total_steps(config: TrainerConfigBase, dataset_size: int, global_batch: int) -> int:
    if config.steps is not None:
        return config.steps
    assert config.epochs is not None  # the config validator demands one of the two
    return max(1, int(-(-config.epochs * dataset_size // global_batch)))


def run_trainer(definition: TrainerDefinition[Any], argv: Sequence[str] | None = None) -> int:
    """The whole life of one trainer process; returns the exit code."""
    args = argument_parser(definition).parse_args(argv)
    # Rank 0 speaks for the job; the other ranks only log problems. (Configured before the SDK's
    # Run, which otherwise installs its own console handler and every line would appear twice.)
    level = logging.INFO if PlatformEnv.read().rank == 0 else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run = Run.from_env(output_dir=args.output_dir)
    context: DistributedContext | None = None
    try:
        config = assemble_config(
            definition,
            run.config,
            run.hyperparameters,
            command_line_overrides(args),
            data_root=os.environ.get(ENV_DATA_ROOT),
            checkpoint_policy=run.checkpoint_policy,
        )
        plan = batch_plan(run, config)
        context = init_distributed(run.rank, run.world_size, run.local_rank)
        torch.manual_seed(config.seed)  # identical initial weights on every rank
        parts = definition.build(config, run, context, plan)
        steps = total_steps(config, len(parts.dataset), plan.global_batch)  # type: ignore[arg-type]
        meta = _run_meta(definition, config, run, plan)
        if context.is_main:
            (run.output_dir / "config.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
        _log.info(
            "%s (%s): %d steps, global batch %d = %d per device × %d process(es) × %d accumulation, lr %.3g, "
            "%d training cases, device %s",
            definition.name,
            config.preset,
            steps,
            plan.global_batch,
            plan.per_device_batch,
            plan.world_size,
            plan.grad_accum_steps,
            plan.lr,
            len(parts.dataset),  # type: ignore[arg-type]
            context.device,
        )
        loop = TrainingLoop(
            run=run,
            context=context,
            model=parts.model,
            loss_fn=parts.loss_fn,
            optimizer=parts.optimizer,
            dataset=parts.dataset,
            plan=plan,
            settings=LoopSettings(
                total_steps=steps,
                log_every=config.log_every,
                checkpoint_every=config.checkpoint_every,
                grad_clip=config.grad_clip,
                bf16=config.bf16,
                num_workers=config.num_workers,
                seed=config.seed,
                time_limit_seconds=None
                if config.time_limit_minutes is None
                else 60 * config.time_limit_minutes,
                time_limit_clock=config.time_limit_clock,
            ),
            ema=parts.ema,
        )
        result = loop.run()
        _summarise(definition.name, result, run)
        return 0
    except (TrainerError, ResolutionError, DataError) as error:
        _log.error("%s cannot train: %s", definition.name, error)
        return 2
    finally:
        if context is not None:
            cleanup_distributed(context)
        run.close()


def _run_meta(
    definition: TrainerDefinition[Any], config: TrainerConfigBase, run: Run, plan: BatchPlan
) -> dict[str, Any]:
    return {
        "trainer": definition.name,
        "jobId": run.job_id,
        "attempt": run.attempt,
        "worldSize": run.world_size,
        "resolved": {
            "globalBatch": plan.global_batch,
            "perDeviceBatch": plan.per_device_batch,
            "gradAccumSteps": plan.grad_accum_steps,
            "lr": plan.lr,
        },
        "config": config.model_dump(mode="json", by_alias=True),
    }


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
