"""Runs one attempt of a job: start the trainer, relay its reports, stop it, report how it ended.

Status events for an attempt, in order: ``starting`` (before the assignment is acked), ``running``
(when the trainer reports its runtime, or its first progress, or after RUNNING_FALLBACK_SECONDS),
then exactly one of ``succeeded``, ``failed``, ``cancelled`` (stopped on request) or ``preempted``
(stopped because the worker shut down; the scheduler requeues it).

The trainer runs under a supervisor (``supervisor``) that records its exit status in the attempt
directory, so an attempt outlives its agent: a restarted agent re-adopts it (``adopt``), resumes
relaying its reports where the previous agent stood (``relay_state``) and reports its end, even
one that happened while no agent ran. An agent that exits leaving trainers running ``detach``es.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from hounsfield.contracts.models import Assignment, RunningItem, RuntimeInfo
from hounsfield.platform.checkpoint_client import CheckpointClient
from hounsfield.platform.nats import NatsAccess
from hounsfield.sdk.checkpoint_report import CheckpointSaved, decode_checkpoint_line
from hounsfield.sdk.report_format import (
    EXIT_OUT_OF_MEMORY,
    KIND_LAUNCH_ERROR,
    KIND_NOTICE,
    KIND_OOM,
    KIND_PROGRESS,
    KIND_RUNTIME,
)
from hounsfield.worker import job_code
from hounsfield.worker.attempt_dir import AttemptDir
from hounsfield.worker.attempt_status import AttemptStatus
from hounsfield.worker.checkpoint_sync import CheckpointSync
from hounsfield.worker.event_publisher import EventPublisher
from hounsfield.worker.exit_status import describe_exit, looks_out_of_memory
from hounsfield.worker.log_shipper import LogShipper
from hounsfield.worker.log_shipping import LogShipping
from hounsfield.worker.log_tail import tail_lines
from hounsfield.worker.orphan_reaper import LaunchRecord
from hounsfield.worker.preflight import Preflight, PreflightError, RendezvousPortBusyError
from hounsfield.worker.relay_state import RelayState
from hounsfield.worker.report_records import (
    AttemptIdentity,
    ReportRecordError,
    decode_line,
    launch_error_reason,
    notice_event,
    oom_message,
    progress_event,
    runtime_info,
)
from hounsfield.worker.report_tailer import ReportTailer
from hounsfield.worker.supervisor import supervised_command
from hounsfield.worker.trainer_launch import (
    cuda_visible_devices,
    launch_command,
    trainer_context,
    trainer_env,
    write_context,
)
from hounsfield.worker.trainer_process import AdoptedProcess, SpawnedProcess
from hounsfield.worker.trainer_stop import TrainerProcess, TrainerStop

_log = logging.getLogger(__name__)

#: The attempt's per-job environment key, for an agent that re-adopts its trainer.
ENVIRONMENT_KEY_FILE = "environment-key"

POLL_SECONDS = 0.2
#: A trainer that never uses the SDK still shows as running after this long.
RUNNING_FALLBACK_SECONDS = 60.0


class StopKind(StrEnum):
    CANCEL = "cancel"  # asked for by the scheduler → ``cancelled``
    SHUTDOWN = "shutdown"  # the worker is going away → ``preempted``, to be retried elsewhere


@dataclass
class _StopRequest:
    kind: StopKind
    grace_seconds: float
    trainer: TrainerStop | None = None  # None while no process exists

    @property
    def killed(self) -> bool:
        return self.trainer is not None and self.trainer.killed


class AttemptRunner:
    """One attempt's lifecycle. ``run()`` never raises: every outcome becomes a status event."""

    def __init__(
        self,
        assignment: Assignment,
        attempt_dir: AttemptDir,
        publisher: EventPublisher,
        *,
        base_env: Mapping[str, str] | None = None,
        python: str = sys.executable,
        poll_seconds: float = POLL_SECONDS,
        preflight: Preflight | None = None,
        checkpoints: CheckpointClient | None = None,
        logs: LogShipping | None = None,
        task_nats: NatsAccess | None = None,
        adopt: LaunchRecord | None = None,
        env_cache: job_code.EnvironmentCache | None = None,
        gpu_devices: Sequence[int] | None = None,
        threads_per_process: int = 1,
        local_address: str | None = None,
    ) -> None:
        self._threads_per_process = threads_per_process
        # Where other nodes of a multi-node attempt reach this worker (HOUNSFIELD_WORKER_ADDRESS).
        self._local_address = local_address
        self._preflight = preflight
        # Output is always captured and rotated; it is shipped when ``logs`` has transports.
        self._logs = logs or LogShipping()
        self._shipper: LogShipper | None = None
        # Built-in tasks (evaluation shards, imports) talk to the services as this worker.
        self._task_nats = task_nats
        self._data_root: Path | None = None
        # Resume download and checkpoint uploads; without a client, resumeFrom passes through as given.
        self._checkpoints = (
            None
            if checkpoints is None
            else CheckpointSync(checkpoints, assignment, attempt_dir.root, self._checkpoint_settled)
        )
        self._resume_dir: Path | None = None
        self._init_dir: Path | None = None
        # A script job's uploaded code and per-job environment (``job_code``), ready before launch.
        self._code_source = checkpoints
        self._code = job_code.JobCode()
        self._env_cache = env_cache
        # The per-job environment this attempt's trainer runs in, held in use (never evicted) until
        # the attempt ends; recorded in the attempt directory so a re-adopting agent holds it too.
        self._env_key: str | None = None
        if adopt is not None and env_cache is not None:
            try:
                self._env_key = (attempt_dir.root / ENVIRONMENT_KEY_FILE).read_text().strip() or None
            except OSError:
                self._env_key = None
            if self._env_key is not None:
                env_cache.acquire(self._env_key)
        # Set by a stop: pip, if it is building the job's environment, is killed (its process group).
        self._prepare_cancel = threading.Event()
        self.assignment = assignment
        self.identity = AttemptIdentity(assignment.jobId, assignment.attempt, assignment.workerId)
        self._dir = attempt_dir
        self._publisher = publisher
        self._status = AttemptStatus(self.identity, publisher)
        self._base_env = dict(os.environ if base_env is None else base_env)
        self._gpu_devices = gpu_devices
        self._python = python
        self._poll_seconds = poll_seconds
        self._process: TrainerProcess | None = None
        self._stop: _StopRequest | None = None
        # A trainer a previous agent started: followed from where that agent's relay stood.
        self._adopted = None if adopt is None else AdoptedProcess(adopt, attempt_dir.exit_file, poll_seconds)
        self._relayed = RelayState.load(attempt_dir.relay_file) if adopt is not None else RelayState()
        self._detached = False
        self._launch_error: str | None = None
        self._out_of_memory: str | None = None
        self.done = asyncio.Event()

    # --- what the agent asks ----------------------------------------------------------------

    @property
    def running_item(self) -> RunningItem:
        return RunningItem(jobId=self.identity.job_id, attempt=self.identity.attempt)

    @property
    def gpu_indices(self) -> set[int]:
        return {index.root for index in self.assignment.gpuIndices}

    @property
    def adopted(self) -> bool:
        return self._adopted is not None

    @property
    def root_pid(self) -> int | None:
        process = self._process
        return process.pid if process is not None and process.returncode is None else None

    async def announce_starting(self) -> None:
        """Publishes ``starting``; the agent acks the assignment only after this succeeded."""
        await self._status.publish("starting")

    def request_stop(self, kind: StopKind, grace_seconds: float) -> bool:
        """SIGTERM now, SIGKILL after the grace period; False when the trainer has already exited.

        Idempotent: a second request keeps the first one's kind and deadline.
        """
        if self.done.is_set() or (self._process is not None and self._process.returncode is not None):
            return False
        if self._stop is not None:
            return True
        self._stop = _StopRequest(kind, max(grace_seconds, 0.0))
        self._prepare_cancel.set()
        if self._process is not None:
            self._terminate()
        # Not started yet: run() sees the request and never starts the trainer.
        return True

    def detach(self) -> None:
        """The agent exits and leaves the trainer running for the next agent to re-adopt: once
        the runner's task is cancelled, nothing is stopped and no end is reported."""
        self._detached = True

    # --- the lifecycle ----------------------------------------------------------------------

    async def run(self) -> None:
        try:
            await self._run()
        except Exception as error:
            _log.exception(
                "attempt %s:%d failed inside the agent", self.identity.job_id, self.identity.attempt
            )
            await self._status.publish_final(
                "failed", reason=f"worker agent error: {error}"[:4096], failure_kind="infrastructure"
            )
        finally:
            if self._env_cache is not None and self._env_key is not None:
                self._env_cache.release(self._env_key)  # evictable again
            if not self._detached:
                self._kill_leftovers()
            if self._shipper is not None:
                self._shipper.stop()
            self.done.set()

    async def _run(self) -> None:
        process = self._adopted or await self._start()
        if process is None:
            return
        self._process = process
        self._shipper = self._logs.shipper(self._dir, self.identity.job_id, self.identity.attempt)
        self._shipper.start()
        _log.info(
            "attempt %s:%d %s (pid %d, CUDA_VISIBLE_DEVICES=%r)",
            self.identity.job_id,
            self.identity.attempt,
            "re-adopted" if self._adopted is not None else "started",
            process.pid,
            cuda_visible_devices(self.assignment, self._gpu_devices),
        )
        if self._stop is not None:  # a stop arrived while the process was being created
            self._terminate()
        if self._checkpoints is not None:
            # Announced to the previous agent but not committed by it.
            for line in self._relayed.pending_checkpoints:
                if (saved := decode_checkpoint_line(line)) is not None:
                    self._checkpoints.announce(saved)
        returncode = await self._follow(process)
        if self._checkpoints is not None:
            # A restart resumes from the newest committed checkpoint: commit them before reporting.
            await self._checkpoints.finish()
        # The whole log is stored before the attempt's end is reported.
        await self._shipper.finish()
        await self._publish_end(returncode)

    async def _start(self) -> TrainerProcess | None:
        """Prepares the directory, checks, fetches checkpoints and starts the trainer (None: the
        attempt already ended here, and its status was published)."""
        try:
            self._dir.prepare()
        except OSError as error:
            await self._status.publish_final(
                "failed",
                reason=f"cannot create the attempt directory {self._dir.root}: {error}",
                failure_kind="infrastructure",
            )
            return None
        if self._stop is not None:
            await self._publish_stopped(returncode=None)
            return None
        if self._preflight is not None:
            try:
                self._data_root = self._preflight.check(self.assignment)
            except PreflightError as error:
                # A busy rendezvous port passes: requeued (no restart spent), on another port.
                busy = isinstance(error, RendezvousPortBusyError)
                await self._status.publish_final(
                    "failed",
                    reason=f"preflight: {error}",
                    failure_kind="infrastructure" if busy else "preflight",
                )
                return None
        try:
            self._code = await job_code.prepare(
                self.assignment,
                self._dir,
                self._code_source,
                python=self._python,
                cache=self._env_cache,
                cancel=self._prepare_cancel,
            )
        except job_code.BuildCancelledError:
            await self._publish_stopped(returncode=None)
            return None
        except job_code.JobCodeError as error:
            await self._status.publish_final("failed", reason=str(error)[:4096], failure_kind=error.kind)
            return None
        self._env_key = self._code.environment_key  # held by prepare until the attempt ends
        if self._env_key is not None:
            try:
                (self._dir.root / ENVIRONMENT_KEY_FILE).write_text(self._env_key + "\n")
            except OSError as error:
                _log.warning("cannot record the attempt's environment: %s", error)
        if self._stop is not None:  # cancelled while the code or its environment was being prepared
            await self._publish_stopped(returncode=None)
            return None
        if self._checkpoints is not None:
            try:
                self._resume_dir = await self._checkpoints.download_resume()
                self._init_dir = await self._checkpoints.download_init()
            except Exception as error:
                # Not the trainer's fault: the scheduler requeues, and resolves the latest checkpoint again.
                await self._status.publish_final(
                    "failed",
                    reason=f"cannot fetch the checkpoint to start from "
                    f"({self.assignment.resumeFrom or self.assignment.initFrom}): {error}"[:4096],
                    failure_kind="infrastructure",
                )
                return None
        process = await self._spawn()
        if process is not None:
            self._record_launch(process.pid)
        return process

    async def _publish_end(self, returncode: int) -> None:
        if self._adopted is not None and self._adopted.exit_unknown and self._stop is None:
            await self._status.publish_final(
                "failed",
                reason=f"the trainer's supervisor (pid {self._adopted.pid}) ended while no agent "
                "watched it, without recording how the trainer ended; requeued without spending "
                "a restart",
                log_tail=tail_lines(self._dir.logs_dir),
                failure_kind="infrastructure",
            )
        elif self._stop is not None:
            await self._publish_stopped(returncode)
        elif self._launch_error is not None:
            await self._status.publish_final(
                "failed",
                exit_code=returncode,
                reason=f"cannot start the trainer: {self._launch_error}",
                log_tail=tail_lines(self._dir.logs_dir),
                failure_kind="preflight",
            )
        elif returncode == 0:
            await self._status.publish_final("succeeded", exit_code=0)
        else:
            tail = tail_lines(self._dir.logs_dir)
            oom = self._out_of_memory
            if oom is None and (returncode == EXIT_OUT_OF_MEMORY or looks_out_of_memory(tail)):
                oom = "the trainer ran out of memory (see the log tail)"
            await self._status.publish_final(
                "failed",
                exit_code=returncode,
                reason=describe_exit(returncode) if oom is None else f"out of memory: {oom}",
                log_tail=tail,
                failure_kind="trainer" if oom is None else "oom",
            )

    def _record_launch(self, pid: int) -> None:
        """What a restarted agent needs to find this trainer if this agent dies (see orphan_reaper)."""
        identity = self.identity
        record = LaunchRecord.of(identity.job_id, identity.attempt, identity.worker_id, pid)
        if record is None:
            return  # already gone (or no /proc): nothing could be left behind
        try:
            record.write(self._dir.root)
        except OSError as error:
            _log.warning(
                "attempt %s:%d: launch record not written: %s", identity.job_id, identity.attempt, error
            )

    async def _spawn(self) -> TrainerProcess | None:
        command = supervised_command(
            self._python,
            self._dir.exit_file,
            launch_command(
                self.assignment,
                self._code.python or self._python,
                self._logs.launcher_options(self._dir),
                self._local_address,
            ),
        )
        context = trainer_context(
            self.assignment,
            self._dir,
            resume_dir=self._resume_dir,
            init_dir=self._init_dir,
            data_root=self._data_root,
        )
        env = self._code.apply(
            trainer_env(
                self.assignment,
                self._dir,
                self._base_env,
                write_context(context, self._dir),
                self._task_nats,
                self._threads_per_process,
                self._gpu_devices,
            )
        )
        try:
            # What a restarted agent needs to re-adopt the trainer.
            self._dir.assignment_file.write_text(self.assignment.model_dump_json())
            with self._dir.log_file.open("ab") as log:
                # Its own session: signals meant for the agent (Ctrl-C in a terminal) do not reach
                # the trainer, the trainer's process group can be signalled as a whole, and the
                # trainer outlives an agent that dies or exits leaving it running.
                popen = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                    cwd=self._code.code_dir,
                    start_new_session=True,
                )
            return SpawnedProcess(popen, self._poll_seconds)
        except OSError as error:
            await self._status.publish_final(
                "failed",
                reason=f"cannot start the trainer ({command[0]}): {error}",
                failure_kind="infrastructure",
            )
            return None

    async def _follow(self, process: TrainerProcess) -> int:
        """Relays reports while the trainer runs, then drains the file once more."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        tailer = ReportTailer(self._dir.report_file, self._relayed.offset)
        exited = asyncio.ensure_future(process.wait())
        try:
            while not exited.done():
                await asyncio.wait({exited}, timeout=self._poll_seconds)
                await self._relay(tailer.read_lines(), tailer.position)
                if not self._relayed.running_published and loop.time() - started > RUNNING_FALLBACK_SECONDS:
                    await self._publish_running(None)
            await self._relay(tailer.read_remaining(), tailer.position)
        finally:
            tailer.close()
            if not exited.done():
                exited.cancel()
        return await exited

    async def _relay(self, lines: list[str], position: int) -> None:
        if not lines:
            return
        for line in lines:
            try:
                await self._relay_line(line)
            except ReportRecordError as error:
                _log.warning(
                    "attempt %s:%d: skipped report line (%s): %.200s",
                    self.identity.job_id,
                    self.identity.attempt,
                    error,
                    line,
                )
            except Exception:
                # The publisher already retried for minutes; losing one event must not end the
                # attempt (the trainer keeps running and the terminal status still follows).
                _log.exception(
                    "attempt %s:%d: event not published", self.identity.job_id, self.identity.attempt
                )
        self._relayed.offset = position
        self._save_relay()

    async def _relay_line(self, line: str) -> None:
        saved = decode_checkpoint_line(line)
        if saved is not None:
            if self._checkpoints is not None:
                self._relayed.pending_checkpoints.append(line)
                self._checkpoints.announce(saved)
            return
        record = decode_line(line)
        kind = record["kind"]
        if kind == KIND_RUNTIME:
            if not self._relayed.running_published:
                await self._publish_running(runtime_info(record))
        elif kind == KIND_PROGRESS:
            event = progress_event(record, self.identity, self._relayed.progress_seq)
            # The seq is spent even if publishing fails, so message ids never repeat.
            self._relayed.progress_seq += 1
            if not self._relayed.running_published:
                await self._publish_running(None)
            await self._publisher.progress(event)
        elif kind == KIND_LAUNCH_ERROR:
            self._launch_error = launch_error_reason(record)
        elif kind == KIND_OOM:
            self._out_of_memory = self._out_of_memory or oom_message(record)
        elif kind == KIND_NOTICE:
            notice = notice_event(record, self.identity)
            self._relayed.notice_seq += 1
            await self._publisher.notice(notice, self._relayed.notice_seq)

    # --- stopping ---------------------------------------------------------------------------

    def _terminate(self) -> None:
        assert self._process is not None and self._stop is not None
        label = f"attempt {self.identity.job_id}:{self.identity.attempt} ({self._stop.kind})"
        self._stop.trainer = TrainerStop(self._process, self._stop.grace_seconds, label)
        self._stop.trainer.begin()

    def _checkpoint_settled(self, saved: CheckpointSaved) -> None:
        pending = self._relayed.pending_checkpoints
        self._relayed.pending_checkpoints = [
            line for line in pending if (known := decode_checkpoint_line(line)) is None or known != saved
        ]
        self._save_relay()

    def _save_relay(self) -> None:
        try:
            self._relayed.save(self._dir.relay_file)
        except OSError as error:
            _log.warning("attempt %s:%d: relay state not saved: %s", *self._key, error)

    @property
    def _key(self) -> tuple[str, int]:
        return self.identity.job_id, self.identity.attempt

    async def _publish_running(self, runtime: RuntimeInfo | None) -> None:
        self._relayed.running_published = True
        await self._status.publish("running", runtime=runtime)

    def _kill_leftovers(self) -> None:
        """The trainer never outlives its attempt, even when the agent itself failed mid-way."""
        trainer = self._stop.trainer if self._stop is not None else None
        if trainer is not None:
            trainer.cancel_timer()
        process = self._process
        if process is not None and process.returncode is None:
            (trainer or TrainerStop(process, 0.0, f"attempt {self.identity.job_id}")).kill_now()

    async def _publish_stopped(self, returncode: int | None) -> None:
        stop = self._stop
        assert stop is not None
        if returncode is None:
            how = "before the trainer started"
        elif stop.killed:
            how = f"the trainer ignored SIGTERM for {stop.grace_seconds:g} s and was killed"
        else:
            how = f"the trainer stopped after SIGTERM ({describe_exit(returncode)})"
        log_tail = tail_lines(self._dir.logs_dir) if returncode not in (None, 0) else None
        if stop.kind == StopKind.CANCEL:
            await self._status.publish_final(
                "cancelled", exit_code=returncode, reason=f"cancelled on request; {how}", log_tail=log_tail
            )
        else:
            await self._status.publish_final(
                "preempted",
                exit_code=returncode,
                reason=f"worker {self.identity.worker_id} shut down; {how}",
                log_tail=log_tail,
            )
