"""The on-disk layout of one attempt under the agent's work directory.

<work_dir>/jobs/<job_id>/attempt-<n>/
    logs/            stdout + stderr of every rank and of the launcher, one line per line, prefixed
                     with its source, in rotated segments (``log_segments``), and the shipping state
    launcher.log     what the launcher printed outside its capture (normally nothing; a launcher
                     that cannot even start writes its error here); added to ``logs/`` at the end
    report.jsonl     the SDK's report file (see ``hounsfield.sdk.report_format``)
    context.json     the trainer context (``hounsfield.sdk.platform_env``), HOUNSFIELD_CONTEXT
    assignment.json  the assignment, so that a restarted agent can re-adopt the running trainer
    launch.json      the supervisor's pid and start time (``orphan_reaper``)
    exit.json        how the trainer ended, written by its supervisor (``supervisor``)
    relay.json       how far the agent has relayed report.jsonl (``relay_state``)
    output/          the trainer's outputs (the context's ``paths.outputDir``)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class AttemptDir:
    root: Path

    @classmethod
    def of(cls, attempts_dir: Path, job_id: str, attempt: int) -> AttemptDir:
        return cls(attempts_dir / job_id / f"attempt-{attempt}")

    @property
    def log_file(self) -> Path:
        """The launcher's own stdout and stderr, outside its capture."""
        return self.root / "launcher.log"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def report_file(self) -> Path:
        return self.root / "report.jsonl"

    @property
    def assignment_file(self) -> Path:
        return self.root / "assignment.json"

    @property
    def exit_file(self) -> Path:
        return self.root / "exit.json"

    @property
    def relay_file(self) -> Path:
        return self.root / "relay.json"

    @property
    def output_dir(self) -> Path:
        return self.root / "output"

    def prepare(self) -> None:
        """Creates the directories and an empty report file.

        A re-delivered attempt (after an agent restart) reuses the directory; the old report is
        emptied so its records are not relayed twice (and the relay position and exit status of
        the earlier run are dropped), while outputs and the log are kept.
        """
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self.report_file.write_text("")
        self.relay_file.unlink(missing_ok=True)
        self.exit_file.unlink(missing_ok=True)
