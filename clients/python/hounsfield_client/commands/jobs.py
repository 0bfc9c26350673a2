"""Jobs: submit (with --code), list, show, logs, cancel; workers; metric series."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from hounsfield_client import context
from hounsfield_client.follow import exit_status, follow_job, print_outcome
from hounsfield_client.render import (
    job_lines,
    jobs_table,
    number,
    sparkline,
    workers_table,
)
from hounsfield_client.spec_file import load_spec


@context.handled
def submit(
    spec_file: Path = typer.Argument(..., help="the job spec, YAML or JSON", show_default=False),
    code: Path = typer.Option(
        None,
        "--code",
        help="a project directory to run the script from: packed (honouring .gitignore and "
        ".hounsfieldignore), uploaded once per content, unpacked on every rank",
    ),
    follow: bool = typer.Option(
        True,
        "--follow/--detach",
        help="follow the job with a live progress bar and exit with its outcome (0 succeeded, "
        "1 failed, 3 cancelled), or return as soon as it is queued",
    ),
    json_out: bool = context.JSON_OPTION,
) -> None:
    """Submits a job (YAML or JSON spec) and follows it to the end unless --detach."""
    spec = load_spec(spec_file)
    gateway = context.make_gateway()
    console = context.make_console()
    if code is not None:
        from hounsfield_client.code_upload import upload_code  # noqa: PLC0415 - only with --code

        uploaded = upload_code(gateway, code, console=None if json_out else console)
        spec["code"] = uploaded.reference()
    job = gateway.submit_job(spec)
    if not follow:
        if json_out:
            context.emit_json(job)
        else:
            console.print(
                f"submitted {job['id']} ({job['state']}); follow it: hounsfield show {job['id']} -f"
            )
        return
    if not json_out:
        console.print(f"submitted {job['id']}")
    final = follow_job(gateway, job["id"], console if not json_out else Console(quiet=True))
    if json_out:
        context.emit_json(final)
    else:
        print_outcome(console, final)
    raise typer.Exit(exit_status(final))


@context.handled
def list_jobs(
    state: str = typer.Option(None, "--state", help="only jobs in this state (queued, running, failed, …)"),
    owner: str = typer.Option(None, "--owner", help="only this user's jobs (admins and viewers)"),
    limit: int = typer.Option(50, "--limit", min=1, max=500, help="at most this many, newest first"),
    json_out: bool = context.JSON_OPTION,
) -> None:
    """Jobs, newest first: state, submit time, duration, step and ETA."""
    jobs = context.make_gateway().jobs(state=state, owner=owner, limit=limit)
    if json_out:
        context.emit_json(jobs)
        return
    context.make_console().print(jobs_table(jobs) if jobs else "no jobs")


@context.handled
def show(
    job_id: str = typer.Argument(..., help="the job's id"),
    follow: bool = typer.Option(False, "--follow", "-f", help="follow it live until it ends"),
    json_out: bool = context.JSON_OPTION,
) -> None:
    """One job: state, where it runs, progress, ETA, the cause when it failed."""
    gateway = context.make_gateway()
    if follow:
        console = context.make_console()
        final = follow_job(gateway, job_id, console if not json_out else Console(quiet=True))
        if json_out:
            context.emit_json(final)
        else:
            print_outcome(console, final)
        raise typer.Exit(exit_status(final))
    job = gateway.job(job_id)
    if json_out:
        context.emit_json(job)
        return
    console = context.make_console()
    for line in job_lines(job):
        console.print(line, highlight=False)
    if job["state"] in ("failed", "cancelled"):
        print_outcome(console, job)


@context.handled
def logs(
    job_id: str = typer.Argument(..., help="the job's id"),
    follow: bool = typer.Option(False, "--follow", "-f", help="keep printing new lines until the job ends"),
    attempt: int = typer.Option(None, "--attempt", min=1, help="this attempt (default: the latest)"),
    rank: str = typer.Option(None, "--rank", help="one global rank, or `launcher`"),
    tail: int = typer.Option(None, "--tail", min=1, help="only the last N lines"),
    json_out: bool = context.JSON_OPTION,
) -> None:
    """A job's log, every rank's lines prefixed with their rank; -f follows it."""
    gateway = context.make_gateway()
    if not follow:
        text = gateway.logs(job_id, attempt, rank, tail)
        if json_out:
            context.emit_json({"jobId": job_id, "lines": text.splitlines()})
        else:
            sys.stdout.write(text)
        return
    for event in gateway.follow_logs(job_id, attempt, rank, tail):
        data = json.loads(event.data)
        if json_out:
            sys.stdout.write(json.dumps({"event": event.event, **data}) + "\n")
        elif event.event == "line":
            where = f"rank {data['rank']}" if isinstance(data["rank"], int) else data["rank"]
            sys.stdout.write(f"[{where}] {data['text']}\n")
        elif event.event == "end":
            context.make_console(stderr=True).print(f"({data.get('reason', 'end')})")
        sys.stdout.flush()


@context.handled
def cancel(
    job_id: str = typer.Argument(..., help="the job's id"),
    grace: int = typer.Option(None, "--grace", min=0, help="seconds between SIGTERM and SIGKILL"),
    json_out: bool = context.JSON_OPTION,
) -> None:
    """Cancels a job: SIGTERM to its processes, SIGKILL after the grace period."""
    job = context.make_gateway().cancel(job_id, grace)
    if json_out:
        context.emit_json(job)
        return
    context.make_console().print(f"{job['id']} {job['state']}, stop requested")


@context.handled
def workers(json_out: bool = context.JSON_OPTION) -> None:
    """Workers and their GPUs, with the job holding each one."""
    found = context.make_gateway().workers()
    if json_out:
        context.emit_json(found)
        return
    context.make_console().print(workers_table(found) if found else "no workers have reported")


@context.handled
def metrics(
    job_id: str = typer.Argument(..., help="the job's id"),
    names: str = typer.Option(None, "--name", help="comma-separated series names (default: all)"),
    step_from: int = typer.Option(None, "--from", min=0, help="first step"),
    step_to: int = typer.Option(None, "--to", min=0, help="last step"),
    csv_out: Path = typer.Option(
        None, "--csv", help="write every point as CSV to this file (`-` for standard output)"
    ),
    json_out: bool = context.JSON_OPTION,
) -> None:
    """A job's stored metric series: a summary, or every point as CSV (--csv)."""
    answer = context.make_gateway().metrics(job_id, names.split(",") if names else None, step_from, step_to)
    series = answer["series"]
    if csv_out is not None:
        _write_csv(series, csv_out)
        return
    if json_out:
        context.emit_json(answer)
        return
    if not series:
        context.make_console().print(f"no stored series for {job_id} yet")
        return
    table = Table()
    columns = ("SERIES", "POINTS", "FIRST STEP", "LAST STEP", "LAST", "MIN", "MAX", "NON-FINITE", "CURVE")
    for column in columns:
        table.add_column(column)
    for one in series:
        points = one["points"]
        values = [p for p in points if p["value"] is not None]
        table.add_row(
            one["name"],
            str(len(points)),
            str(points[0]["step"]) if points else "-",
            str(points[-1]["step"]) if points else "-",
            number(values[-1]["value"]) if values else "-",
            number(min(p["min"] for p in values)) if values else "-",
            number(max(p["max"] for p in values)) if values else "-",
            str(sum(p["nonFinite"] for p in points)),
            sparkline([p["value"] for p in points]),
        )
    context.make_console().print(table)


CSV_COLUMNS = ("series", "step", "attempt", "value", "min", "max", "count", "nonFinite", "at")


def _write_csv(series: list[dict[str, Any]], target: Path) -> None:
    sink = sys.stdout if str(target) == "-" else target.open("w", newline="", encoding="utf-8")
    try:
        writer = csv.writer(sink)
        writer.writerow(CSV_COLUMNS)
        for one in series:
            for point in one["points"]:
                writer.writerow([one["name"], *(point.get(column) for column in CSV_COLUMNS[1:])])
    finally:
        if sink is not sys.stdout:
            sink.close()
