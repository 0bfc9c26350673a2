"""Evaluations: submit, list, show, report."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.table import Table

from hounsfield_client import context
from hounsfield_client.render import (
    human_seconds,
    local_time,
    number,
)
from hounsfield_client.spec_file import load_spec

evaluations_app = typer.Typer(
    help="Submit evaluations, list and follow them, read their reports.", no_args_is_help=True
)


@evaluations_app.command("submit")
@context.handled
def evaluations_submit(
    spec_file: Path = typer.Argument(..., help="the evaluation spec, YAML or JSON"),
    json_out: bool = context.JSON_OPTION,
) -> None:
    """Submits an evaluation: a PCDiff checkpoint pair, or one vqgan3d / topo_unet / slice_interp
    checkpoint (the spec's `kind`)."""
    record = context.make_gateway().submit_evaluation(load_spec(spec_file))
    if json_out:
        context.emit_json(record)
        return
    context.make_console().print(
        f"evaluation {record['id']} {record['status']}; hounsfield evaluations show {record['id']}"
    )


@evaluations_app.command("list")
@context.handled
def evaluations_list(
    owner: str = typer.Option(None, "--owner", help="only this user's (admins and viewers)"),
    limit: int = typer.Option(50, "--limit", min=1, max=500, help="at most this many, newest first"),
    json_out: bool = context.JSON_OPTION,
) -> None:
    """Evaluations, newest first: status, cases done, ETA, submit time."""
    found = context.make_gateway().evaluations(owner, limit)
    if json_out:
        context.emit_json(found)
        return
    if not found:
        context.make_console().print("no evaluations")
        return
    table = Table()
    for column in ("ID", "NAME", "STATUS", "OWNER", "SUBMITTED", "CASES", "ETA", "DSC"):
        table.add_column(column)
    for record in found:
        progress = record.get("progress", {})
        total = "?" if progress.get("total") is None else progress["total"]
        dsc = ((record.get("summary") or {}).get("overall") or {}).get("DSC", {}).get("mean")
        table.add_row(
            record["id"],
            record.get("name") or "-",
            record["status"],
            record.get("owner") or "-",
            local_time(record.get("createdAt")),
            f"{progress.get('done', 0)}/{total}",
            human_seconds(progress.get("etaSeconds")),
            number(dsc),
        )
    context.make_console().print(table)


@evaluations_app.command("show")
@context.handled
def evaluations_show(
    evaluation_id: str = typer.Argument(..., help="the evaluation's id"),
    json_out: bool = context.JSON_OPTION,
) -> None:
    """An evaluation's status, progress (cases, ETA) and summary."""
    record = context.make_gateway().evaluation(evaluation_id)
    if json_out:
        context.emit_json(record)
        return
    console = context.make_console()
    progress = record.get("progress", {})
    total = "?" if progress.get("total") is None else progress["total"]
    eta = human_seconds(progress.get("etaSeconds"))
    console.print(
        f"[bold]{record['id']}[/] {record['status']}: {progress.get('done', 0)}/{total} cases, "
        f"ETA {eta}, submitted {local_time(record.get('createdAt'))}"
    )
    if record.get("error"):
        console.print(f"error: {record['error']}", markup=False)
    summary = record.get("summary")
    if summary:
        table = Table(title=f"{summary['cases']} cases")
        for column in ("METRIC", "MEAN", "STD", "MEDIAN", "MIN", "MAX"):
            table.add_column(column)
        for name, stats in sorted(summary["overall"].items()):
            table.add_row(name, *(number(stats[k]) for k in ("mean", "std", "median", "min", "max")))
        console.print(table)


@evaluations_app.command("preview")
@context.handled
def evaluations_preview(
    evaluation_id: str = typer.Argument(..., help="the evaluation's id"),
    case_id: str = typer.Argument(..., help="a scored case (the first column of the CSV report)"),
    file: str = typer.Option("preview.png", "--file", help="preview.png, implant.nrrd or points.npy"),
    out: Path = typer.Option(None, "--out", help="where to write it (default: <case>-<file> here)"),
    json_out: bool = context.JSON_OPTION,
) -> None:
    """A scored case's preview image (three slices, implant in red), or another file of the case."""
    body = context.make_gateway().case_file(evaluation_id, case_id, file)
    target = out or Path(f"{case_id}-{file}")
    target.write_bytes(body)
    if json_out:
        context.emit_json({"evaluation": evaluation_id, "case": case_id, "file": file, "path": str(target)})
    else:
        context.make_console().print(f"{file} of case {case_id} written to {target} ({len(body)} bytes)")


@evaluations_app.command("report")
@context.handled
def evaluations_report(
    evaluation_id: str = typer.Argument(..., help="the evaluation's id"),
    format: str = typer.Option("markdown", "--format", help="markdown, yaml or csv"),
    out: Path = typer.Option(None, "--out", help="write it to this file (default: standard output)"),
    json_out: bool = context.JSON_OPTION,
) -> None:
    """A succeeded evaluation's report, read through the gateway."""
    body = context.make_gateway().evaluation_report(evaluation_id, format)
    if out is not None:
        out.write_bytes(body)
    if json_out:
        context.emit_json(
            {
                "evaluation": evaluation_id,
                "format": format,
                "path": str(out) if out else None,
                **({} if out else {"report": body.decode("utf-8")}),
            }
        )
    elif out is None:
        sys.stdout.write(body.decode("utf-8"))
    else:
        context.make_console().print(f"{format} report of {evaluation_id} written to {out}")
