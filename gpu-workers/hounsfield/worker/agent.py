"""The agent's core: which attempts run here, starting them, stopping them.

It knows nothing about how assignments arrive or how cancellation is requested; the consumer and
the cancel listener call into it. Several attempts may run at once on disjoint GPUs.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from enum import StrEnum

from hounsfield.contracts.models import Assignment, RunningItem
from hounsfield.platform.checkpoint_client import CheckpointClient
from hounsfield.worker.attempt_dir import AttemptDir
from hounsfield.worker.attempt_runner import AttemptRunner, StopKind
from hounsfield.worker.attempt_status import AttemptStatus, FailureKind, StatusState
from hounsfield.worker.environment_build import EnvironmentBuild
from hounsfield.worker.event_publisher import EventPublisher
from hounsfield.worker.job_code import EnvironmentCache
from hounsfield.worker.log_shipping import LogShipping
from hounsfield.worker.orphan_reaper import LaunchRecord, mark_ended
from hounsfield.worker.preflight import Preflight
from hounsfield.worker.report_records import AttemptIdentity
from hounsfield.worker.settings import WorkerSettings
from hounsfield.worker.trainer_launch import threads_per_process

_log = logging.getLogger(__name__)

AttemptKey = tuple[str, int]
#: How many ended (or cancelled-before-start) attempts are remembered to recognise re-deliveries.
REMEMBERED_ATTEMPTS = 10_000


class CancelOutcome(StrEnum):
    STOPPING = "stopping"  # SIGTERM sent (or the trainer will not be started)
    FINISHED = "finished"  # the attempt already ended here; its terminal status was published
    NOT_STARTED = "not_started"  # not seen yet; if its assignment arrives it is reported cancelled


class _BoundedSet:
    """Insertion-ordered set that forgets its oldest members beyond ``limit``."""

    def __init__(self, limit: int) -> None:
        self._items: OrderedDict[AttemptKey, None] = OrderedDict()
        self._limit = limit

    def add(self, key: AttemptKey) -> None:
        self._items[key] = None
        self._items.move_to_end(key)
        while len(self._items) > self._limit:
            self._items.popitem(last=False)

    def discard(self, key: AttemptKey) -> None:
        self._items.pop(key, None)

    def __contains__(self, key: object) -> bool:
        return key in self._items


class Agent:
    def __init__(
        self,
        settings: WorkerSettings,
        publisher: EventPublisher,
        *,
        gpu_count: int,
        base_env: Mapping[str, str] | None = None,
        preflight: Preflight | None = None,
        checkpoints: CheckpointClient | None = None,
        logs: LogShipping | None = None,
        gpu_devices: Sequence[int] | None = None,
    ) -> None:
        self._settings = settings
        # The node's device index of each GPU this agent reports (None: the same indices).
        self._gpu_devices = None if gpu_devices is None else tuple(gpu_devices)
        self._logs = logs
        self._preflight = preflight
        self._checkpoints = checkpoints
        self._publisher = publisher
        self._gpu_count = gpu_count
        self._base_env = base_env
        self._runners: dict[AttemptKey, AttemptRunner] = {}
        # GPU jobs' environment phases (``environment_build``), by job, and the shared cache.
        self._builds: dict[str, EnvironmentBuild] = {}
        assert settings.work_dir is not None  # set by the settings' validator
        self._env_cache = EnvironmentCache.of(settings.work_dir / "cache" / "envs", settings.env_cache_max)
        self._tasks: set[asyncio.Task[None]] = set()
        self._ended = _BoundedSet(REMEMBERED_ATTEMPTS)
        self._cancelled_early = _BoundedSet(REMEMBERED_ATTEMPTS)

    @property
    def worker_id(self) -> str:
        return self._settings.worker_id

    # --- views for heartbeats -----------------------------------------------------------------

    def running(self) -> list[RunningItem]:
        """Attempts started here that have not ended (the heartbeat's ``running``)."""
        return [runner.running_item for runner in self._runners.values()]

    def environment_keys(self) -> list[str]:
        """The environments cached here (the heartbeat's ``environments``)."""
        return self._env_cache.ready_keys()

    def environment_builds(self) -> list[str]:
        """Jobs whose environment is being built here (the heartbeat's ``environmentBuilds``)."""
        return list(self._builds)

    def process_roots(self) -> list[int]:
        """The agent's pid and each running trainer's root pid: the trees NVML must not call foreign."""
        return [os.getpid(), *(pid for r in self._runners.values() if (pid := r.root_pid) is not None)]

    # --- assignments --------------------------------------------------------------------------

    async def accept(self, assignment: Assignment) -> None:
        """Starts the attempt (or reports why not). Returns once it may be acked; raises to nak.

        A re-delivered attempt that runs or ran here is ignored, so acking it is always right.
        """
        key = (assignment.jobId, assignment.attempt)
        if assignment.phase == "environment":
            self._accept_build(assignment)
            return
        if key in self._runners or key in self._ended:
            _log.info("assignment for %s:%d delivered again; already handled here", *key)
            return
        if key in self._cancelled_early:
            await self._report_unstarted(
                assignment, "cancelled", "cancelled before the worker started it", None
            )
            return
        refusal = self._gpu_refusal(assignment)
        if refusal is not None:
            await self._report_unstarted(assignment, "failed", refusal, "infrastructure")
            return
        runner = self._runner(assignment)
        await runner.announce_starting()
        self._begin(key, runner)

    def _accept_build(self, assignment: Assignment) -> None:
        """A GPU job's environment phase: build its environment, report an ``environment`` event."""
        job_id = assignment.jobId
        if job_id in self._builds or (job_id, assignment.attempt) in self._ended:
            _log.info("environment build %s delivered again; already handled here", assignment.assignmentId)
            return
        assert self._settings.work_dir is not None
        build = EnvironmentBuild(
            assignment,
            self._publisher,
            self._env_cache,
            self._settings.work_dir,
            self._checkpoints,
            data_roots=self._settings.data_roots,
        )
        if (job_id, assignment.attempt) in self._cancelled_early:
            self._cancelled_early.discard((job_id, assignment.attempt))
            build.cancel()
        self._builds[job_id] = build

        async def run() -> None:
            try:
                await build.run()
            finally:
                self._builds.pop(job_id, None)

        task = asyncio.create_task(run(), name=f"environment-{job_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def adopt(self, assignment: Assignment, record: LaunchRecord) -> None:
        """Takes over an attempt whose trainer a previous agent of this worker started (running,
        or ended while no agent watched): its reports, cancellation and end are handled here."""
        key = (assignment.jobId, assignment.attempt)
        if key in self._runners:
            return
        _log.info("re-adopting attempt %s:%d (supervisor pid %d)", *key, record.pid)
        self._begin(key, self._runner(assignment, record))

    def _runner(self, assignment: Assignment, adopt: LaunchRecord | None = None) -> AttemptRunner:
        return AttemptRunner(
            assignment,
            AttemptDir.of(self._settings.attempts_dir, assignment.jobId, assignment.attempt),
            self._publisher,
            base_env=self._base_env,
            task_nats=self._settings.nats_access,
            preflight=self._preflight,
            checkpoints=self._checkpoints,
            logs=self._logs,
            adopt=adopt,
            env_cache=self._env_cache,
            gpu_devices=self._gpu_devices,
            threads_per_process=threads_per_process(
                assignment, self._settings.usable_cpu_slots, self._gpu_count
            ),
            local_address=self._settings.advertised_address,
        )

    def _begin(self, key: AttemptKey, runner: AttemptRunner) -> None:
        self._runners[key] = runner
        task = asyncio.create_task(self._run(key, runner), name=f"attempt-{key[0]}-{key[1]}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, key: AttemptKey, runner: AttemptRunner) -> None:
        try:
            await runner.run()
            # Seen to the end (its status is published): a later agent must not reap it. A
            # detached runner's task is cancelled instead, and never gets here.
            mark_ended(AttemptDir.of(self._settings.attempts_dir, *key).root)
        finally:
            self._runners.pop(key, None)
            self._ended.add(key)

    def _gpu_refusal(self, assignment: Assignment) -> str | None:
        """The scheduler owns placement; this only guards against a stale or doubled lease."""
        wanted = {index.root for index in assignment.gpuIndices}
        missing = sorted(index for index in wanted if index >= self._gpu_count)
        if missing:
            return f"GPU(s) {missing} do not exist on worker {self.worker_id} (it has {self._gpu_count})"
        for (job_id, attempt), runner in self._runners.items():
            busy = sorted(wanted & runner.gpu_indices)
            if busy:
                return f"GPU(s) {busy} on worker {self.worker_id} are in use by {job_id} attempt {attempt}"
        return None

    async def report_unreadable(self, data: bytes, error: Exception) -> None:
        """An assignment for this worker that it cannot read fails its job visibly, instead of
        leaving it assigned until the scheduler's timeout and then placing it again forever."""
        try:
            raw = json.loads(data)
        except ValueError:
            return
        if not isinstance(raw, dict) or raw.get("workerId") != self.worker_id:
            return
        job_id, attempt = raw.get("jobId"), raw.get("attempt")
        if not isinstance(job_id, str) or not isinstance(attempt, int) or attempt < 1:
            return
        reason = (
            f"worker {self.worker_id} cannot read this assignment ({error}); the worker's hounsfield "
            "package and the scheduler disagree on the contracts: upgrade the worker"
        )
        identity = AttemptIdentity(job_id, attempt, self.worker_id)
        await AttemptStatus(identity, self._publisher).publish(
            "failed", reason=reason[:4096], failureKind="preflight"
        )
        self._ended.add((job_id, attempt))

    async def _report_unstarted(
        self, assignment: Assignment, state: StatusState, reason: str, failure_kind: FailureKind | None
    ) -> None:
        """The attempt ends here without a trainer; raises (→ nak) if the event cannot be stored."""
        key = (assignment.jobId, assignment.attempt)
        _log.warning("attempt %s:%d not started: %s", *key, reason)
        identity = AttemptIdentity(assignment.jobId, assignment.attempt, self.worker_id)
        await AttemptStatus(identity, self._publisher).publish(state, reason=reason, failureKind=failure_kind)
        self._cancelled_early.discard(key)
        self._ended.add(key)

    # --- stopping -----------------------------------------------------------------------------

    def _find(self, job_id: str, attempt: int | None) -> AttemptRunner | None:
        for (running_job, running_attempt), runner in self._runners.items():
            if running_job == job_id and (attempt is None or running_attempt == attempt):
                return runner
        return None

    def request_cancel(self, job_id: str, attempt: int, grace_seconds: float | None = None) -> CancelOutcome:
        """Begins cancelling one attempt and returns at once (the cancel request's reply)."""
        grace = self._settings.stop_grace_seconds if grace_seconds is None else grace_seconds
        build = self._builds.get(job_id)
        if build is not None and build.assignment.attempt == attempt and build.cancel():
            return CancelOutcome.STOPPING  # pip's process group is killed; ``cancelled`` is reported
        runner = self._find(job_id, attempt)
        if runner is not None and runner.request_stop(StopKind.CANCEL, grace):
            return CancelOutcome.STOPPING
        if runner is not None or (job_id, attempt) in self._ended:
            return CancelOutcome.FINISHED
        self._cancelled_early.add((job_id, attempt))
        return CancelOutcome.NOT_STARTED

    async def stop_attempt(self, job_id: str, grace_seconds: float, attempt: int | None = None) -> bool:
        """SIGTERM to the attempt's trainer, SIGKILL after ``grace_seconds``; reports ``cancelled``.

        Waits until the attempt has ended and its status was published. False when no such
        attempt runs here.
        """
        runner = self._find(job_id, attempt)
        if runner is None or not runner.request_stop(StopKind.CANCEL, grace_seconds):
            return False
        await runner.done.wait()
        return True

    async def shutdown(self, grace_seconds: float) -> None:
        """Stops every attempt (reported ``preempted``, so it is requeued) and waits for them to end."""
        for build in self._builds.values():
            build.cancel()  # reported cancelled; a build the scheduler still wants is placed again
        runners = list(self._runners.values())
        if runners:
            _log.info("stopping %d attempt(s) before shutdown (grace %.1f s)", len(runners), grace_seconds)
        for runner in runners:
            runner.request_stop(StopKind.SHUTDOWN, grace_seconds)
        if self._tasks:
            # The grace period, then time to publish the final events.
            _done, pending = await asyncio.wait(set(self._tasks), timeout=grace_seconds + 30.0)
            for task in pending:
                task.cancel()

    async def detach(self) -> None:
        """Leaves every trainer running for the next agent of this worker to re-adopt (an agent
        restart or upgrade): nothing is stopped or reported, relay and log positions stay on disk."""
        runners = list(self._runners.values())
        if runners:
            _log.info("leaving %d attempt(s) running for the next agent to re-adopt", len(runners))
        for runner in runners:
            runner.detach()
        tasks = set(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
