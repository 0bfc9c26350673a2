"""A GPU job's environment phase on this worker: an assignment with ``phase: environment``.

The scheduler places it as CPU work (one CPU slot, no GPU lease) while the job stays queued. The
worker fetches the job's code into ``<work>/cache/builds/<job>`` (for its ``requirements.txt``),
builds the environment in the shared cache (or finds it there) and reports one ``environment``
event: ``ready`` with the cache key (GPU placement then prefers workers that list it in their
heartbeats), ``failed`` with pip's output (kind ``environment``: the job fails, not retried;
``infrastructure``: the scheduler places the build again), or ``cancelled`` (the job was cancelled:
pip's process group is killed). No trainer starts and no attempt status is published.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import sys
import threading
from pathlib import Path
from typing import Literal

from hounsfield.contracts.models import Assignment, EnvironmentEvent, TrainingJobSpec
from hounsfield.sdk.report_format import utc_timestamp
from hounsfield.worker import job_code
from hounsfield.worker.event_publisher import EventPublisher

_log = logging.getLogger(__name__)

REASON_LIMIT = 4096


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
    ) -> None:
        self.assignment = assignment
        self._publisher = publisher
        self._cache = cache
        self._dir = work_dir / "cache" / "builds" / assignment.jobId
        self._source = source
        self._python = python
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
