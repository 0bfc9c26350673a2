"""Checkpoints over HTTP: list, show, download (verified against the manifest), import."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import typer

from hounsfield_client import context
from hounsfield_client.api import ClientError, Gateway
from hounsfield_client.follow import exit_status, print_outcome
from hounsfield_client.render import (
    checkpoints_table,
)
from hounsfield_client.transfers import download_checkpoint

checkpoints_app = typer.Typer(help="List, download (verified) and import checkpoints.", no_args_is_help=True)


@checkpoints_app.command("list")
@context.handled
def checkpoints_list(
    job_id: str = typer.Argument(..., help="the job whose checkpoints to list"),
    limit: int = typer.Option(50, "--limit", min=1, max=500),
    json_out: bool = context.JSON_OPTION,
) -> None:
    """A job's committed checkpoints, latest first."""
    found = context.make_gateway().checkpoints(job_id, limit)
    if json_out:
        context.emit_json(found)
        return
    context.make_console().print(
        checkpoints_table(found) if found else f"{job_id} has no committed checkpoint yet"
    )


@checkpoints_app.command("show")
@context.handled
def checkpoints_show(
    ref: str = typer.Argument(..., help="ck-… or <job>:latest, <job>:best:<metric>:<min|max>, <job>:<step>"),
    json_out: bool = context.JSON_OPTION,
) -> None:
    """One checkpoint: its files, step and metrics."""
    record = context.make_gateway().checkpoint(ref)
    if json_out:
        context.emit_json(record)
        return
    context.make_console().print(checkpoints_table([record]))


@checkpoints_app.command("download")
@context.handled
def checkpoints_download(
    ref: str = typer.Argument(..., help="ck-… or <job>:latest, <job>:best:<metric>:<min|max>, <job>:<step>"),
    out: Path = typer.Option(Path("."), "--out", help="directory to create <checkpoint id>/ in"),
    json_out: bool = context.JSON_OPTION,
) -> None:
    """Streams a checkpoint's files through the gateway and verifies each against its manifest."""
    record, path = download_checkpoint(context.make_gateway(), ref, out)
    if json_out:
        context.emit_json(
            {"checkpoint": record["id"], "path": str(path), "files": [f["name"] for f in record["files"]]}
        )
        return
    context.make_console().print(
        f"{record['id']} (step {record['step']}, {len(record['files'])} files, sha256 verified) in {path}"
    )


@checkpoints_app.command("import")
@context.handled
def checkpoints_import(
    source: Path = typer.Argument(..., exists=True, dir_okay=False, help="a legacy .pth or Lightning .ckpt"),
    format: str = typer.Option("auto", "--format", help="auto, pth or lightning"),
    step: int = typer.Option(None, "--step", min=0, help="step to record when the file does not say"),
    out: Path = typer.Option(
        None,
        "--out",
        help="convert locally into this directory (needs the `hounsfield` worker package with "
        "PyTorch) instead of on the platform",
    ),
    trust_pickled: bool = typer.Option(
        False, "--trust-pickled", help="--out only: allow arbitrary pickled objects (files you trust)"
    ),
    timeout: float = typer.Option(1800.0, "--timeout", help="seconds to wait for the platform's import job"),
    json_out: bool = context.JSON_OPTION,
) -> None:
    """Brings a legacy file in: uploaded and converted by a CPU job on a worker (or locally with --out)."""
    if format not in ("auto", "pth", "lightning"):
        raise ClientError(f"--format {format!r}: choose auto, pth or lightning")
    if trust_pickled and out is None:
        raise ClientError(
            "--trust-pickled applies to local imports (--out); the platform only loads safe files"
        )
    if out is not None:
        path = _import_locally(source, out, format, step, trust_pickled)
        context.emit_json({"path": str(path)}) if json_out else context.make_console().print(
            f"converted into {path}"
        )
        return
    gateway = context.make_gateway()
    with source.open("rb") as file:
        accepted = gateway.import_checkpoint(file, source.name, source.stat().st_size, format, step)
    if not json_out:
        context.make_console(stderr=True).print(
            f"uploaded {source.name}; import job {accepted['jobId']} converts it"
        )
    job = _wait(gateway, accepted["jobId"], timeout)
    if job["state"] != "succeeded":
        print_outcome(context.make_console(stderr=True), job)
        raise typer.Exit(exit_status(job))
    found = gateway.checkpoints(job["id"], 1)
    if json_out:
        context.emit_json({"import": accepted, "checkpoint": found[0] if found else None})
    elif found:
        context.make_console().print(f"imported as {found[0]['id']} (job {job['id']})")
    if not found:
        raise ClientError(f"import job {job['id']} succeeded but committed no checkpoint")


def _import_locally(source: Path, out: Path, format: str, step: int | None, trust_pickled: bool) -> Path:
    try:
        from hounsfield.checkpoints.importer import import_to_directory  # noqa: PLC0415
    except ImportError as error:
        raise ClientError(
            "--out converts on this machine and needs the `hounsfield` worker package (with PyTorch); "
            "leave out --out to convert on the platform instead"
        ) from error
    return Path(import_to_directory(source, out, format=format, step=step, trust_pickled=trust_pickled))


def _wait(gateway: Gateway, job_id: str, timeout: float) -> dict[str, Any]:

    deadline = time.monotonic() + timeout
    while True:
        job = gateway.job(job_id)
        if job["state"] in ("succeeded", "failed", "cancelled"):
            return job
        if time.monotonic() > deadline:
            raise ClientError(f"job {job_id} is still {job['state']} after {timeout:g} s")
        time.sleep(0.5)
