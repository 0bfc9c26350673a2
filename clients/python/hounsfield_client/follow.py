"""`submit --follow` / `show --follow`: a live progress bar per job, state changes printed above it."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn

from hounsfield_client.api import Gateway
from hounsfield_client.render import (
    TERMINAL_STATES,
    eta_seconds,
    human_seconds,
    loss_of,
    number,
    state_text,
)

# Exit statuses of a followed job, documented in `hounsfield submit --help`.
EXIT_FOR_STATE = {"succeeded": 0, "failed": 1, "cancelled": 3}
MAX_RECONNECTS = 20


def exit_status(job: dict[str, Any]) -> int:
    return EXIT_FOR_STATE.get(job["state"], 1)


class _Bar:
    """One job's bar: step/total, loss, samples/s and ETA from its latest progress report."""

    def __init__(self, progress: Progress, job: dict[str, Any]) -> None:
        self._progress = progress
        self.task: TaskID = progress.add_task(
            job["id"], total=None, state=job["state"], loss="-", rate="-", eta="-", steps="-"
        )
        if job.get("lastProgress"):
            self.report(job["lastProgress"])

    def state(self, state: str) -> None:
        self._progress.update(self.task, state=state)

    def report(self, event: dict[str, Any]) -> None:
        total = event.get("totalSteps")
        rate = event.get("samplesPerSecond")
        self._progress.update(
            self.task,
            completed=event["step"],
            total=total,
            steps=f"{event['step']}/{total}" if total else str(event["step"]),
            loss=number(loss_of(event.get("metrics") or {})),
            rate="-" if rate is None else f"{rate:.1f}",
            eta=human_seconds(eta_seconds(event)),
        )


def new_progress(console: Console) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}[/]"),
        TextColumn("{task.fields[state]}"),
        BarColumn(),
        TextColumn("step {task.fields[steps]}"),
        TextColumn("loss {task.fields[loss]}"),
        TextColumn("{task.fields[rate]} samples/s"),
        TextColumn("ETA {task.fields[eta]}"),
        console=console,
        transient=False,
    )


def follow_job(gateway: Gateway, job_id: str, console: Console) -> dict[str, Any]:
    """Follows the job's event stream until it ends (reconnecting where it broke off); the final record."""
    job = gateway.job(job_id)
    last_event: str | None = None
    with new_progress(console) as progress:
        bar = _Bar(progress, job)
        bar.state(state_text(job["state"]))
        for _ in range(MAX_RECONNECTS):
            if job["state"] in TERMINAL_STATES:
                break
            for event in gateway.job_events(job_id, last_event):
                last_event = event.id or last_event
                _show(progress, bar, json.loads(event.data))
            job = gateway.job(job_id)
        bar.state(state_text(job["state"]))
    return job


def _show(progress: Progress, bar: _Bar, event: dict[str, Any]) -> None:
    kind = event.get("type")
    if kind == "progress":
        bar.report(event)
    elif kind == "state":
        reason = f": {event['reason']}" if event.get("reason") else ""
        where = f" on {event['workerId']}" if event.get("workerId") else ""
        progress.console.print(
            f"{event['at'][11:19]} attempt {event['attempt']} {state_text(event['state'])}{where}{reason}",
            markup=True,
            highlight=False,
        )
        bar.state(state_text(event["state"]))
    elif kind == "alert":
        progress.console.print(
            f"[yellow]alert {event.get('status', '')}[/] {event.get('kind', '')}: {event.get('summary', '')}",
            highlight=False,
        )
    elif kind == "notice":
        progress.console.print(f"[cyan]notice[/] {event.get('message', '')}", highlight=False)
    elif kind == "environment":
        # A GPU job's environment phase ended (built before any GPU is leased).
        cached = " (cached)" if event.get("cached") else ""
        where = f" on {event.get('workerId', '?')}"
        progress.console.print(
            f"{event.get('at', '')[11:19]} environment {event.get('outcome', '')}{where}{cached}",
            markup=False,
            highlight=False,
        )


def print_outcome(console: Console, job: dict[str, Any]) -> None:
    """The end state; for a failed job its cause: the reason and the end of its log."""
    line = f"{job['id']} {state_text(job['state'])}"
    if job.get("exitCode") is not None:
        line += f" (exit code {job['exitCode']})"
    console.print(line, highlight=False)
    if job["state"] != "succeeded":
        if job.get("reason"):
            console.print(f"reason: {job['reason']}", highlight=False, markup=False)
        tail = job.get("logTail") or []
        if tail:
            console.print("[bold]end of its log:[/]")
            for text in tail[-20:]:
                console.print(text, highlight=False, markup=False)
