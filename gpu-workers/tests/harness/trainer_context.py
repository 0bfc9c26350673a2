"""The environment the worker agent gives a trainer: a context file plus torchrun-style ranks."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hounsfield.contracts.models import ResolvedHyperparameters, TrainerContext, TrainerPaths, TrainingJobSpec
from hounsfield.sdk.platform_env import CONTEXT_FILE, ENV_CONTEXT, ENV_REPORT_FILE

DEFAULT_RESOLVED = {
    "worldSize": 1,
    "globalBatch": 4,
    "perDeviceBatch": 4,
    "gradAccumSteps": 1,
    "referenceBatch": 4,
    "baseLr": 1e-3,
    "lrScaling": "linear",
    "lr": 1e-3,
}


def write_trainer_context(
    directory: Path,
    *,
    job_id: str = "job-1",
    attempt: int = 1,
    worker_id: str = "node-a",
    kind: str = "script",
    config: dict[str, Any] | None = None,
    hyperparameters: dict[str, Any] | None = None,
    checkpoint: dict[str, Any] | None = None,
    resolved: dict[str, Any] | None = None,
    output_dir: Path | None = None,
    report_file: Path | None = None,
    resume_from: str | None = None,
    init_from: str | None = None,
    data_root: str | None = None,
) -> Path:
    """Writes ``directory/context.json`` as the agent would and returns its path."""
    plan = {**DEFAULT_RESOLVED, **(resolved or {})}
    spec: dict[str, Any] = {
        "name": "test",
        "kind": kind,
        "hyperparameters": hyperparameters or {"globalBatch": plan["globalBatch"], "baseLr": plan["baseLr"]},
        "config": config or {},
        "checkpoint": checkpoint or {},
    }
    if kind == "script":
        spec["script"] = {"module": "my_lab.train"}
    context = TrainerContext(
        v=1,
        jobId=job_id,
        attempt=attempt,
        workerId=worker_id,
        spec=TrainingJobSpec.model_validate(spec),
        resolved=ResolvedHyperparameters.model_validate(plan),
        paths=TrainerPaths(
            outputDir=str(output_dir or directory / "output"),
            reportFile=str(report_file or directory / "report.jsonl"),
            resumeFrom=resume_from,
            initFrom=init_from,
            dataRoot=data_root,
        ),
    )
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / CONTEXT_FILE
    path.write_text(context.model_dump_json(exclude_none=True))
    return path


def managed_environ(directory: Path, *, inherit: bool = False, **context: Any) -> dict[str, str]:
    """An environment that points a trainer at a fresh context in ``directory``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("HOUNSFIELD_")} if inherit else {}
    path = write_trainer_context(directory, **context)
    report = context.get("report_file") or directory / "report.jsonl"
    return {**base, ENV_CONTEXT: str(path), ENV_REPORT_FILE: str(report)}
