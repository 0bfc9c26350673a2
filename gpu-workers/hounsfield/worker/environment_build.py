"""A GPU job's environment phase on this worker: an assignment with ``phase: environment``.

The scheduler places it as CPU work (one CPU slot, no GPU lease) while the job stays queued. For a
``script`` job the worker fetches the job's code into ``<work>/cache/builds/<job>`` (for its
``requirements.txt``) and builds the environment in the shared cache (or finds it there). For a
recipe job (a kind whose recipe checks files its config names, such as ``slice_interp``'s VAE
weights) it runs the recipe's config check (``hounsfield.recipes.check``) in a child process. It
reports one ``environment`` event: ``ready`` (with the cache key of a built environment: GPU
placement then prefers workers that list it in their heartbeats), ``failed`` with pip's output or
the check's reason (kind ``environment`` or ``preflight``: the job fails, not retried;
``infrastructure``: the scheduler places the build again), or ``cancelled`` (the job was
cancelled: pip's or the check's process group is killed). No trainer starts and no attempt status
is published.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from hounsfield.contracts.models import Assignment, EnvironmentEvent, TrainingJobSpec
from hounsfield.sdk.report_format import utc_timestamp
from hounsfield.worker import job_code
from hounsfield.worker.event_publisher import EventPublisher
from hounsfield.worker.preflight import PreflightError, resolve_data_path

_log = logging.getLogger(__name__)

REASON_LIMIT = 4096

#: How long a recipe's config check may take (hashing a large weights file on slow storage).
CHECK_TIMEOUT_S = 600.0


def clip_reason(text: str) -> str:
    """At most REASON_LIMIT characters, keeping the end (where pip says what failed)."""
    if len(text) <= REASON_LIMIT:
        return text
    head = text.split("\n", 1)[0][:200]
    return f"{head}\n…\n{text[-(REASON_LIMIT - len(head) - 4) :]}"


class EnvironmentBuild:
    def __init__(
        self,
        assignment: Assignment,
        publisher: EventPublisher,
        cache: job_code.EnvironmentCache,
        work_dir: Path,
        source: job_code.CodeSource | None,
        *,
        python: str = sys.executable,
        data_roots: Sequence[Path] = (),
    ) -> None:
        self.assignment = assignment
        self._publisher = publisher
        self._cache = cache
        self._dir = work_dir / "cache" / "builds" / assignment.jobId
        self._source = source
        self._python = python
        self._data_roots = data_roots
        self._cancel = threading.Event()
        self.done = asyncio.Event()

    @property
    def job_id(self) -> str:
        return self.assignment.jobId

    def cancel(self) -> bool:
        """Stops the build (pip's process group is killed); False when it has already ended."""
        if self.done.is_set():
            return False
        self._cancel.set()
        return True

    async def run(self) -> None:
        try:
            await self._publish(await self._build())
        except asyncio.CancelledError:
            self._cancel.set()  # the agent is going away: pip's process group is killed too
            raise
        except Exception:
            _log.exception("environment build of %s failed inside the agent", self.job_id)
        finally:
            shutil.rmtree(self._dir, ignore_errors=True)
            self.done.set()

    async def _build(self) -> EnvironmentEvent:
        spec = self.assignment.spec
        if not isinstance(spec, TrainingJobSpec):
            reason = f"a {spec.kind} job has no environment to build"
            return self._event("failed", reason=reason, kind="preflight")
        try:
            self._dir.mkdir(parents=True, exist_ok=True)
            if spec.kind != "script":
                return await self._check_recipe(spec)
            code_dir = await job_code.fetch_code(
                self.job_id, spec, self._source, self._cache.root.parent, self._dir / "code"
            )
            if self._cancel.is_set():
                raise job_code.BuildCancelledError("cancelled before its environment was built")
            requirements = job_code.job_requirements(spec, code_dir)
            if not requirements:
                return self._event("ready")
            ready = await job_code.build_environment(
                requirements, self._cache, self._python, code_dir or self._dir, self._cancel
            )
        except job_code.BuildCancelledError as stopped:
            return self._event("cancelled", reason=str(stopped))
        except job_code.JobCodeError as error:
            return self._event("failed", reason=str(error), kind=error.kind)
        except OSError as error:
            reason = f"cannot build the environment here: {error}"
            return self._event("failed", reason=reason, kind="infrastructure")
        _log.info(
            "environment %s of job %s %s", ready.key, self.job_id, "was cached" if ready.cached else "built"
        )
        return self._event("ready", key=ready.key, cached=ready.cached)

    async def _check_recipe(self, spec: TrainingJobSpec) -> EnvironmentEvent:
        """A recipe job's phase: its config check in a child process (the agent never imports the
        recipes, and a cancel kills the check's process group)."""
        root: Path | None = None
        if spec.data.root:
            try:
                root = resolve_data_path(spec.data.root, self._data_roots)
            except PreflightError:
                root = None  # the attempt's own preflight decides on the worker that trains
        request = self._dir / "check.json"
        request.write_text(
            json.dumps(
                {
                    "kind": spec.kind,
                    "config": spec.config,
                    "hyperparameters": spec.hyperparameters.model_dump(mode="json", exclude_none=True),
                    "checkpoint": spec.checkpoint.model_dump(mode="json", exclude_none=True),
                    "dataRoot": None if root is None else str(root),
                }
            ),
            encoding="utf-8",
        )
        command = [self._python, "-m", "hounsfield.recipes.check", str(request)]
        try:
            code, output = await asyncio.to_thread(
                job_code.run_interruptible, command, self._dir, CHECK_TIMEOUT_S, self._cancel
            )
        except subprocess.TimeoutExpired:
            reason = f"the config check of this {spec.kind} job took longer than {CHECK_TIMEOUT_S:g} s"
            return self._event("failed", reason=reason, kind="preflight")
        if code == 0:
            _log.info("the config of job %s passed its check before the GPU lease", self.job_id)
            return self._event("ready")
        lines = [line for line in output.splitlines() if line.strip()]
        detail = lines[-1] if code == 2 and lines else f"exit code {code}: {output.strip()}"
        return self._event("failed", reason=f"before the GPU lease, {detail}", kind="preflight")

    def _event(
        self,
        outcome: Literal["ready", "failed", "cancelled"],
        *,
        key: str | None = None,
        cached: bool | None = None,
        reason: str | None = None,
        kind: Literal["environment", "infrastructure", "preflight"] | None = None,
    ) -> EnvironmentEvent:
        return EnvironmentEvent(
            v=1,
            type="environment",
            jobId=self.job_id,
            attempt=self.assignment.attempt,
            workerId=self.assignment.workerId,
            buildId=self.assignment.assignmentId,
            outcome=outcome,
            key=key,
            cached=cached,
            reason=None if reason is None else clip_reason(reason),
            failureKind=kind,
            at=utc_timestamp(),
        )

    async def _publish(self, event: EnvironmentEvent) -> None:
        if event.outcome != "ready":
            _log.warning("environment of job %s %s: %s", self.job_id, event.outcome, event.reason)
        await self._publisher.environment(event)
