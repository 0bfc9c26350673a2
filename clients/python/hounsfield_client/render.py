"""How jobs, workers and checkpoints look in a terminal: tables, durations, ETAs."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from rich.table import Table

TERMINAL_STATES = ("succeeded", "failed", "cancelled")
STATE_STYLES = {
    "queued": "yellow",
    "assigned": "cyan",
    "starting": "cyan",
    "running": "blue",
    "succeeded": "green",
    "failed": "red",
    "cancelled": "magenta",
    "preempted": "yellow",
}


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def now() -> datetime:
    return datetime.now(timezone.utc)


def human_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours >= 24:
        return f"{hours // 24}d{hours % 24:02d}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def local_time(value: str | None) -> str:
    moment = parse_time(value)
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def job_duration(job: dict[str, Any]) -> float | None:
    """Seconds since the job started (to its end once it ended); None while it has not started."""
    started = parse_time(job.get("startedAt"))
    if started is None:
        return None
    ended = parse_time(job.get("finishedAt")) if job.get("state") in TERMINAL_STATES else None
    return ((ended or now()) - started).total_seconds()


def eta_seconds(progress: dict[str, Any] | None) -> float | None:
    """Remaining steps × seconds per step of the latest report; None when either is unknown."""
    if not progress or not progress.get("totalSteps") or not progress.get("stepSeconds"):
        return None
    return max(0, progress["totalSteps"] - progress["step"]) * progress["stepSeconds"]


def job_eta(job: dict[str, Any]) -> float | None:
    return None if job.get("state") in TERMINAL_STATES else eta_seconds(job.get("lastProgress"))


def state_text(state: str) -> str:
    return f"[{STATE_STYLES.get(state, 'white')}]{state}[/]"


def step_text(progress: dict[str, Any] | None) -> str:
    if not progress:
        return "-"
    total = progress.get("totalSteps")
    return f"{progress['step']}/{total}" if total else str(progress["step"])


def loss_of(metrics: dict[str, Any]) -> Any:
    """The metric the bar shows: `loss` when reported, else the first one whose name has `loss` in it."""
    if "loss" in metrics:
        return metrics["loss"]
    return next((v for k, v in sorted(metrics.items()) if "loss" in k), None)


def number(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float | None], width: int = 40) -> str:
    """The last `width` points as bar glyphs scaled to their range (`!` where no value was finite)."""
    points = values[-width:]
    finite = [v for v in points if v is not None]
    if not finite:
        return "!" * len(points)
    low, high = min(finite), max(finite)
    scale = (len(BARS) - 1) / (high - low) if high > low else 0.0
    return "".join("!" if v is None else BARS[round((v - low) * scale)] for v in points)


def jobs_table(jobs: list[dict[str, Any]]) -> Table:
    table = Table(title=None, show_lines=False)
    for column in ("ID", "NAME", "KIND", "STATE", "OWNER", "SUBMITTED", "DURATION", "STEP", "ETA"):
        table.add_column(column, no_wrap=column in ("ID", "STATE", "SUBMITTED"))
    for job in jobs:
        spec = job.get("spec", {})
        table.add_row(
            job["id"],
            spec.get("name", ""),
            spec.get("kind", ""),
            state_text(job["state"]),
            job.get("owner") or "-",
            local_time(job.get("createdAt")),
            human_seconds(job_duration(job)),
            step_text(job.get("lastProgress")),
            human_seconds(job_eta(job)),
        )
    return table


def job_lines(job: dict[str, Any]) -> list[str]:
    spec = job.get("spec", {})
    lines = [
        f"[bold]{job['id']}[/] {spec.get('name', '')} ({spec.get('kind', '')}) {state_text(job['state'])}"
        f" attempt {job.get('attempt', 1)}, restarts {job.get('restarts', 0)}",
        f"owner {job.get('owner') or '-'}, submitted {local_time(job.get('createdAt'))}, "
        f"running for {human_seconds(job_duration(job))}, ETA {human_seconds(job_eta(job))}",
    ]
    if job.get("workerId"):
        lines.append(f"worker {job['workerId']}, GPUs {job.get('gpuIndices') or []}")
    if job.get("pendingReason"):
        lines.append(f"waiting: {job['pendingReason']}")
    code = spec.get("code")
    if code:
        commit = (
            f", git {code['gitCommit'][:12]}{' (dirty)' if code.get('dirty') else ''}"
            if code.get("gitCommit")
            else ""
        )
        lines.append(f"code {code['digest'][:19]}…{commit}")
    progress = job.get("lastProgress")
    if progress:
        metrics = ", ".join(f"{k} {number(v)}" for k, v in sorted(progress.get("metrics", {}).items()))
        lines.append(f"step {step_text(progress)}  {metrics}")
    if job.get("reason"):
        lines.append(f"reason: {job['reason']}")
    return lines


def workers_table(workers: list[dict[str, Any]]) -> Table:
    table = Table()
    for column in ("WORKER", "HOST", "GPU", "NAME", "MEMORY GiB", "UTIL", "LEASED BY", "LAST SEEN"):
        table.add_column(column)
    for worker in workers:
        gpus = worker.get("gpus") or [None]
        for gpu in gpus:
            table.add_row(
                worker["workerId"],
                worker.get("hostname", "") + (" (simulated)" if worker.get("simulated") else ""),
                "-" if gpu is None else str(gpu["index"]),
                "-" if gpu is None else gpu["name"],
                "-"
                if gpu is None
                else f"{gpu['memoryUsedBytes'] / 2**30:.1f}/{gpu['memoryTotalBytes'] / 2**30:.1f}",
                "-" if gpu is None else f"{gpu['utilizationPercent']}%",
                "-" if gpu is None else gpu.get("leasedBy") or "-",
                local_time(worker.get("lastSeenAt")),
            )
    return table


def checkpoints_table(checkpoints: list[dict[str, Any]]) -> Table:
    table = Table()
    for column in ("ID", "STEP", "ATTEMPT", "COMMITTED", "SIZE MiB", "FILES", "METRICS"):
        table.add_column(column)
    for ck in checkpoints:
        metrics = ck.get("meta", {}).get("metrics") or {}
        table.add_row(
            ck["id"],
            str(ck["step"]),
            str(ck["attempt"]),
            local_time(ck.get("committedAt")),
            f"{ck['totalSize'] / 2**20:.1f}",
            str(len(ck["files"])),
            ", ".join(f"{k} {number(v)}" for k, v in sorted(metrics.items())) or "-",
        )
    return table
