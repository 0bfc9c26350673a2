"""The `hounsfield` command: jobs, logs, metrics, checkpoints and evaluations over the gateway's HTTP API.

Every command has its own `--help` and `--json` (the gateway's answer as JSON, for scripts). The
gateway is HOUNSFIELD_URL (or `hounsfield login --url`), the token HOUNSFIELD_TOKEN (or `login`).
Exit statuses: 0 success (a followed job succeeded), 1 the followed job failed, 3 it was cancelled,
4 the request failed (gateway unreachable, refused input, unknown id), 2 bad command-line usage.
"""

from __future__ import annotations

import csv
import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from hounsfield_client import __version__, config
from hounsfield_client.api import ClientError, Gateway
from hounsfield_client.follow import exit_status, follow_job, print_outcome
from hounsfield_client.render import (
    checkpoints_table,
    human_seconds,
    job_lines,
    jobs_table,
    local_time,
    number,
    sparkline,
    workers_table,
)
from hounsfield_client.spec_file import load_spec
from hounsfield_client.transfers import download_checkpoint

ERROR_EXIT = 4
JSON_OPTION = typer.Option(False, "--json", help="print the gateway's answer as JSON instead of a table")

app = typer.Typer(
    name="hounsfield",
    help=__doc__.split("\n\n")[0] if __doc__ else None,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
checkpoints_app = typer.Typer(help="List, download (verified) and import checkpoints.", no_args_is_help=True)
evaluations_app = typer.Typer(
    help="Submit evaluations, follow them, read their reports.", no_args_is_help=True
)
token_app = typer.Typer(help="API tokens: create (shown once), list, revoke.", no_args_is_help=True)
user_app = typer.Typer(help="(admins) API users and their roles.", no_args_is_help=True)
app.add_typer(checkpoints_app, name="checkpoints")
app.add_typer(evaluations_app, name="evaluations")
app.add_typer(token_app, name="token")
app.add_typer(user_app, name="user")


def make_gateway(url: str | None = None, token: str | None = None) -> Gateway:
    """The gateway the command talks to (tests replace this with one on an in-process transport)."""
    resolved = config.settings(url)
    return Gateway(resolved.url, token or resolved.token)


def make_console(stderr: bool = False) -> Console:
    return Console(stderr=stderr, highlight=False)


F = TypeVar("F", bound=Callable[..., Any])


def handled(command: F) -> F:
    """A ClientError (unreachable gateway, a problem answer, a bad file) becomes one message and status 4."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ClientError as error:
            make_console(stderr=True).print(f"[red]error:[/] {error}", highlight=False)
            raise typer.Exit(ERROR_EXIT) from None

    return wrapper  # type: ignore[return-value]


def emit_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2) + "\n")


# -- session --------------------------------------------------------------------------------------


@app.command()
@handled
def login(
    url: str = typer.Option(None, "--url", help="the gateway (default: HOUNSFIELD_URL or the saved one)"),
    token: str = typer.Option(
        None, "--token", help="the API token (hft_…); asked for, hidden, when left out"
    ),
    json_out: bool = JSON_OPTION,
) -> None:
    """Checks a token against the gateway and saves it with the URL (a file only you can read)."""
    target = url or config.settings().url
    secret = token or typer.prompt("API token", hide_input=True)
    gateway = make_gateway(target, secret)
    me = gateway.whoami()
    path = config.save_credentials(target, secret)
    if json_out:
        emit_json({"url": target, "user": me["user"], "role": me["role"], "credentials": str(path)})
        return
    make_console().print(f"logged in to {target} as {me['user']} ({me['role']}); token saved in {path}")


@app.command()
@handled
def whoami(json_out: bool = JSON_OPTION) -> None:
    """The token's user and role."""
    me = make_gateway().whoami()
    if json_out:
        emit_json(me)
        return
    expires = f", expires {me['expiresAt']}" if me.get("expiresAt") else ""
    make_console().print(f"{me['user']} ({me['role']}), token {me['tokenId']}{expires}")


@app.command()
def version() -> None:
    """The client's version."""
    typer.echo(__version__)


# -- jobs -----------------------------------------------------------------------------------------


@app.command()
@handled
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
    json_out: bool = JSON_OPTION,
) -> None:
    """Submits a job (YAML or JSON spec) and follows it to the end unless --detach."""
    spec = load_spec(spec_file)
    gateway = make_gateway()
    console = make_console()
    if code is not None:
        from hounsfield_client.code_upload import upload_code  # noqa: PLC0415 - only with --code

        uploaded = upload_code(gateway, code, console=None if json_out else console)
        spec["code"] = uploaded.reference()
    job = gateway.submit_job(spec)
    if not follow:
        if json_out:
            emit_json(job)
        else:
            console.print(
                f"submitted {job['id']} ({job['state']}); follow it: hounsfield show {job['id']} -f"
            )
        return
    if not json_out:
        console.print(f"submitted {job['id']}")
    final = follow_job(gateway, job["id"], console if not json_out else Console(quiet=True))
    if json_out:
        emit_json(final)
    else:
        print_outcome(console, final)
    raise typer.Exit(exit_status(final))


@app.command("list")
@handled
def list_jobs(
    state: str = typer.Option(None, "--state", help="only jobs in this state (queued, running, failed, …)"),
    owner: str = typer.Option(None, "--owner", help="only this user's jobs (admins and viewers)"),
    limit: int = typer.Option(50, "--limit", min=1, max=500, help="at most this many, newest first"),
    json_out: bool = JSON_OPTION,
) -> None:
    """Jobs, newest first: state, submit time, duration, step and ETA."""
    jobs = make_gateway().jobs(state=state, owner=owner, limit=limit)
    if json_out:
        emit_json(jobs)
        return
    make_console().print(jobs_table(jobs) if jobs else "no jobs")


@app.command()
@handled
def show(
    job_id: str = typer.Argument(..., help="the job's id"),
    follow: bool = typer.Option(False, "--follow", "-f", help="follow it live until it ends"),
    json_out: bool = JSON_OPTION,
) -> None:
    """One job: state, where it runs, progress, ETA, the cause when it failed."""
    gateway = make_gateway()
    if follow:
        console = make_console()
        final = follow_job(gateway, job_id, console if not json_out else Console(quiet=True))
        if json_out:
            emit_json(final)
        else:
            print_outcome(console, final)
        raise typer.Exit(exit_status(final))
    job = gateway.job(job_id)
    if json_out:
        emit_json(job)
        return
    console = make_console()
    for line in job_lines(job):
        console.print(line, highlight=False)
    if job["state"] in ("failed", "cancelled"):
        print_outcome(console, job)


@app.command()
@handled
def logs(
    job_id: str = typer.Argument(..., help="the job's id"),
    follow: bool = typer.Option(False, "--follow", "-f", help="keep printing new lines until the job ends"),
    attempt: int = typer.Option(None, "--attempt", min=1, help="this attempt (default: the latest)"),
    rank: str = typer.Option(None, "--rank", help="one global rank, or `launcher`"),
    tail: int = typer.Option(None, "--tail", min=1, help="only the last N lines"),
    json_out: bool = JSON_OPTION,
) -> None:
    """A job's log, every rank's lines prefixed with their rank; -f follows it."""
    gateway = make_gateway()
    if not follow:
        text = gateway.logs(job_id, attempt, rank, tail)
        if json_out:
            emit_json({"jobId": job_id, "lines": text.splitlines()})
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
            make_console(stderr=True).print(f"({data.get('reason', 'end')})")
        sys.stdout.flush()


@app.command()
@handled
def cancel(
    job_id: str = typer.Argument(..., help="the job's id"),
    grace: int = typer.Option(None, "--grace", min=0, help="seconds between SIGTERM and SIGKILL"),
    json_out: bool = JSON_OPTION,
) -> None:
    """Cancels a job: SIGTERM to its processes, SIGKILL after the grace period."""
    job = make_gateway().cancel(job_id, grace)
    if json_out:
        emit_json(job)
        return
    make_console().print(f"{job['id']} {job['state']}, stop requested")


@app.command()
@handled
def workers(json_out: bool = JSON_OPTION) -> None:
    """Workers and their GPUs, with the job holding each one."""
    found = make_gateway().workers()
    if json_out:
        emit_json(found)
        return
    make_console().print(workers_table(found) if found else "no workers have reported")


@app.command()
@handled
def metrics(
    job_id: str = typer.Argument(..., help="the job's id"),
    names: str = typer.Option(None, "--name", help="comma-separated series names (default: all)"),
    step_from: int = typer.Option(None, "--from", min=0, help="first step"),
    step_to: int = typer.Option(None, "--to", min=0, help="last step"),
    csv_out: Path = typer.Option(
        None, "--csv", help="write every point as CSV to this file (`-` for standard output)"
    ),
    json_out: bool = JSON_OPTION,
) -> None:
    """A job's stored metric series: a summary, or every point as CSV (--csv)."""
    answer = make_gateway().metrics(job_id, names.split(",") if names else None, step_from, step_to)
    series = answer["series"]
    if csv_out is not None:
        _write_csv(series, csv_out)
        return
    if json_out:
        emit_json(answer)
        return
    if not series:
        make_console().print(f"no stored series for {job_id} yet")
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
    make_console().print(table)


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


# -- checkpoints ----------------------------------------------------------------------------------


@checkpoints_app.command("list")
@handled
def checkpoints_list(
    job_id: str = typer.Argument(..., help="the job whose checkpoints to list"),
    limit: int = typer.Option(50, "--limit", min=1, max=500),
    json_out: bool = JSON_OPTION,
) -> None:
    """A job's committed checkpoints, latest first."""
    found = make_gateway().checkpoints(job_id, limit)
    if json_out:
        emit_json(found)
        return
    make_console().print(checkpoints_table(found) if found else f"{job_id} has no committed checkpoint yet")


@checkpoints_app.command("show")
@handled
def checkpoints_show(
    ref: str = typer.Argument(..., help="ck-… or <job>:latest, <job>:best:<metric>:<min|max>, <job>:<step>"),
    json_out: bool = JSON_OPTION,
) -> None:
    """One checkpoint: its files, step and metrics."""
    record = make_gateway().checkpoint(ref)
    if json_out:
        emit_json(record)
        return
    make_console().print(checkpoints_table([record]))


@checkpoints_app.command("download")
@handled
def checkpoints_download(
    ref: str = typer.Argument(..., help="ck-… or <job>:latest, <job>:best:<metric>:<min|max>, <job>:<step>"),
    out: Path = typer.Option(Path("."), "--out", help="directory to create <checkpoint id>/ in"),
    json_out: bool = JSON_OPTION,
) -> None:
    """Streams a checkpoint's files through the gateway and verifies each against its manifest."""
    record, path = download_checkpoint(make_gateway(), ref, out)
    if json_out:
        emit_json(
            {"checkpoint": record["id"], "path": str(path), "files": [f["name"] for f in record["files"]]}
        )
        return
    make_console().print(
        f"{record['id']} (step {record['step']}, {len(record['files'])} files, sha256 verified) in {path}"
    )


@checkpoints_app.command("import")
@handled
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
    timeout: float = typer.Option(1800.0, "--timeout", help="seconds to wait for the platform's import job"),
    json_out: bool = JSON_OPTION,
) -> None:
    """Brings a legacy file in: uploaded and converted by a CPU job on a worker (or locally with --out)."""
    if format not in ("auto", "pth", "lightning"):
        raise ClientError(f"--format {format!r}: choose auto, pth or lightning")
    if out is not None:
        path = _import_locally(source, out, format, step)
        emit_json({"path": str(path)}) if json_out else make_console().print(f"converted into {path}")
        return
    gateway = make_gateway()
    with source.open("rb") as file:
        accepted = gateway.import_checkpoint(file, source.name, source.stat().st_size, format, step)
    if not json_out:
        make_console(stderr=True).print(f"uploaded {source.name}; import job {accepted['jobId']} converts it")
    job = _wait(gateway, accepted["jobId"], timeout)
    if job["state"] != "succeeded":
        print_outcome(make_console(stderr=True), job)
        raise typer.Exit(exit_status(job))
    found = gateway.checkpoints(job["id"], 1)
    if json_out:
        emit_json({"import": accepted, "checkpoint": found[0] if found else None})
    elif found:
        make_console().print(f"imported as {found[0]['id']} (job {job['id']})")
    if not found:
        raise ClientError(f"import job {job['id']} succeeded but committed no checkpoint")


def _import_locally(source: Path, out: Path, format: str, step: int | None) -> Path:
    try:
        from hounsfield.checkpoints.importer import import_to_directory  # noqa: PLC0415
    except ImportError as error:
        raise ClientError(
            "--out converts on this machine and needs the `hounsfield` worker package (with PyTorch); "
            "leave out --out to convert on the platform instead"
        ) from error
    return Path(import_to_directory(source, out, format=format, step=step, trust_pickled=False))


def _wait(gateway: Gateway, job_id: str, timeout: float) -> dict[str, Any]:
    import time  # noqa: PLC0415

    deadline = time.monotonic() + timeout
    while True:
        job = gateway.job(job_id)
        if job["state"] in ("succeeded", "failed", "cancelled"):
            return job
        if time.monotonic() > deadline:
            raise ClientError(f"job {job_id} is still {job['state']} after {timeout:g} s")
        time.sleep(0.5)


# -- evaluations ----------------------------------------------------------------------------------


@evaluations_app.command("submit")
@handled
def evaluations_submit(
    spec_file: Path = typer.Argument(..., help="the evaluation spec, YAML or JSON"),
    json_out: bool = JSON_OPTION,
) -> None:
    """Submits an evaluation of a diffusion + voxelization checkpoint pair."""
    record = make_gateway().submit_evaluation(load_spec(spec_file))
    if json_out:
        emit_json(record)
        return
    make_console().print(
        f"evaluation {record['id']} {record['status']}; hounsfield evaluations show {record['id']}"
    )


@evaluations_app.command("list")
@handled
def evaluations_list(
    owner: str = typer.Option(None, "--owner", help="only this user's (admins and viewers)"),
    limit: int = typer.Option(50, "--limit", min=1, max=500, help="at most this many, newest first"),
    json_out: bool = JSON_OPTION,
) -> None:
    """Evaluations, newest first: status, cases done, ETA, submit time."""
    found = make_gateway().evaluations(owner, limit)
    if json_out:
        emit_json(found)
        return
    if not found:
        make_console().print("no evaluations")
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
    make_console().print(table)


@evaluations_app.command("show")
@handled
def evaluations_show(
    evaluation_id: str = typer.Argument(..., help="the evaluation's id"),
    json_out: bool = JSON_OPTION,
) -> None:
    """An evaluation's status, progress (cases, ETA) and summary."""
    record = make_gateway().evaluation(evaluation_id)
    if json_out:
        emit_json(record)
        return
    console = make_console()
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


@evaluations_app.command("report")
@handled
def evaluations_report(
    evaluation_id: str = typer.Argument(..., help="the evaluation's id"),
    format: str = typer.Option("markdown", "--format", help="markdown, yaml or csv"),
    out: Path = typer.Option(None, "--out", help="write it to this file (default: standard output)"),
    json_out: bool = JSON_OPTION,
) -> None:
    """A succeeded evaluation's report, read through the gateway."""
    body = make_gateway().evaluation_report(evaluation_id, format)
    if out is not None:
        out.write_bytes(body)
    if json_out:
        emit_json(
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
        make_console().print(f"{format} report of {evaluation_id} written to {out}")


# -- tokens and users -----------------------------------------------------------------------------


@token_app.command("create")
@handled
def token_create(
    name: str = typer.Argument(..., help="what the token is for (laptop, ci, …)"),
    user: str = typer.Option(None, "--user", help="(admins) a token for this user"),
    expires_in: int = typer.Option(None, "--expires-in", min=1, help="seconds until it stops working"),
    json_out: bool = JSON_OPTION,
) -> None:
    """A new API token; its secret is printed once."""
    created = make_gateway().create_token(name, user, expires_in)
    if json_out:
        emit_json(created)
        return
    expires = f", expires {created['expiresAt']}" if created.get("expiresAt") else ""
    make_console().print(f"{created['id']} for {created['user']}{expires}; the token (shown once):")
    typer.echo(created["token"])


@token_app.command("list")
@handled
def token_list(
    user: str = typer.Option(None, "--user", help="(admins) this user's tokens"), json_out: bool = JSON_OPTION
) -> None:
    """Tokens (never their secrets)."""
    found = make_gateway().tokens(user)
    if json_out:
        emit_json(found)
        return
    table = Table()
    for column in ("ID", "USER", "NAME", "CREATED", "STATE"):
        table.add_column(column)
    for t in found:
        state = (
            f"revoked {t['revokedAt']}"
            if t.get("revokedAt")
            else (f"expires {t['expiresAt']}" if t.get("expiresAt") else "no expiry")
        )
        table.add_row(t["id"], t["user"], t["name"], local_time(t.get("createdAt")), state)
    make_console().print(table)


@token_app.command("revoke")
@handled
def token_revoke(token_id: str = typer.Argument(..., help="tok_…"), json_out: bool = JSON_OPTION) -> None:
    """Stops a token at once."""
    revoked = make_gateway().revoke_token(token_id)
    emit_json(revoked) if json_out else make_console().print(
        f"{revoked['id']} revoked at {revoked['revokedAt']}"
    )


@user_app.command("create")
@handled
def user_create(
    name: str = typer.Argument(...),
    role: str = typer.Argument(..., help="admin, user or viewer"),
    json_out: bool = JSON_OPTION,
) -> None:
    """A new user; give it a token with `hounsfield token create <name> --user <user>`."""
    created = make_gateway().create_user(name, role)
    emit_json(created) if json_out else make_console().print(
        f"user {created['name']} ({created['role']}) created"
    )


@user_app.command("list")
@handled
def user_list(json_out: bool = JSON_OPTION) -> None:
    """Users with their roles."""
    found = make_gateway().users()
    if json_out:
        emit_json(found)
        return
    table = Table()
    for column in ("USER", "ROLE", "STATE", "CREATED"):
        table.add_column(column)
    for u in found:
        table.add_row(
            u["name"],
            u["role"],
            "disabled" if u.get("disabled") else "active",
            local_time(u.get("createdAt")),
        )
    make_console().print(table)


@user_app.command("set-role")
@handled
def user_set_role(
    name: str = typer.Argument(...), role: str = typer.Argument(...), json_out: bool = JSON_OPTION
) -> None:
    """Changes a user's role."""
    updated = make_gateway().update_user(name, {"role": role})
    emit_json(updated) if json_out else make_console().print(
        f"user {updated['name']} is now {updated['role']}"
    )


@user_app.command("disable")
@handled
def user_disable(name: str = typer.Argument(...), json_out: bool = JSON_OPTION) -> None:
    """Disables a user: its tokens stop working now."""
    updated = make_gateway().update_user(name, {"disabled": True})
    emit_json(updated) if json_out else make_console().print(f"user {updated['name']} disabled")


@user_app.command("enable")
@handled
def user_enable(name: str = typer.Argument(...), json_out: bool = JSON_OPTION) -> None:
    """Enables a disabled user again."""
    updated = make_gateway().update_user(name, {"disabled": False})
    emit_json(updated) if json_out else make_console().print(f"user {updated['name']} enabled")


def main() -> None:
    app()
