"""One attempt's checkpoints: the resume download before the trainer starts, uploads while it runs.

The trainer announces each complete checkpoint directory in its report file; they are uploaded
and committed one at a time, in order, in the background. When the trainer has exited, the attempt
waits (``finish``) until every announced checkpoint is committed, so the scheduler resumes a
restart from the newest one. After a commit, older local copies are deleted (the store has them).
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Callable
from pathlib import Path

from hounsfield.checkpoints.layout import committed_checkpoints
from hounsfield.contracts.models import (
    Assignment,
    CheckpointImportJobSpec,
    CheckpointRecord,
    Retention,
    TrainingJobSpec,
)
from hounsfield.platform.checkpoint_client import CheckpointClient, CheckpointServiceError
from hounsfield.platform.checkpoint_download import download_checkpoint
from hounsfield.platform.checkpoint_upload import UploadRejectedError, upload_checkpoint
from hounsfield.sdk.checkpoint_report import CheckpointSaved
from hounsfield.worker.cancellation import raise_if_cancelling

_log = logging.getLogger(__name__)

#: How long a finished attempt waits for its last uploads before reporting how it ended.
FINISH_TIMEOUT_SECONDS = 1800.0
#: Backoff while the checkpoints service is unavailable, up to this long per checkpoint.
UNAVAILABLE_RETRY_SECONDS = 600.0
#: A resume download's pin: retention keeps those bytes at least this long.
RESUME_PIN_SECONDS = 3600


def is_registry_reference(resume_from: str | None) -> bool:
    """A checkpoint id or ``<job>:<ref>`` (resolved by the service); absolute paths are local directories."""
    return bool(resume_from) and not str(resume_from).startswith("/")


class CheckpointSync:
    def __init__(
        self,
        client: CheckpointClient,
        assignment: Assignment,
        attempt_root: Path,
        on_settled: Callable[[CheckpointSaved], None] | None = None,
    ) -> None:
        self._client = client
        # Told when an announced checkpoint is committed or given up on (the relay state's pending list).
        self._on_settled = on_settled
        self._assignment = assignment
        self._attempt_root = attempt_root
        self._queue: asyncio.Queue[CheckpointSaved | None] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self.committed: list[CheckpointRecord] = []
        self.failures: list[str] = []

    async def download_resume(self) -> Path | None:
        """The verified local copy of the assignment's resume checkpoint (None when it names none)."""
        return await self._download(self._assignment.resumeFrom, "resume", "resumes from")

    async def download_init(self) -> Path | None:
        """The verified local copy of the warm-start checkpoint (``initFrom``), if the assignment has one."""
        return await self._download(self._assignment.initFrom, "init", "takes initial weights from")

    async def _download(self, ref: str | None, directory: str, verb: str) -> Path | None:
        if ref is None or not is_registry_reference(ref):
            return None
        record = await self._client.resolve(ref, pin_seconds=RESUME_PIN_SECONDS)
        path = await download_checkpoint(self._client, record, self._attempt_root / directory)
        _log.info(
            "attempt %s:%d %s checkpoint %s (step %d) at %s",
            self._assignment.jobId,
            self._assignment.attempt,
            verb,
            record.id,
            record.step,
            path,
        )
        return path

    def announce(self, saved: CheckpointSaved) -> None:
        """Queues a checkpoint the trainer completed; uploads start at once, one at a time."""
        if self._worker is None:
            self._worker = asyncio.create_task(
                self._upload_all(), name=f"checkpoints-{self._assignment.jobId}"
            )
        self._queue.put_nowait(saved)

    async def finish(self, timeout: float = FINISH_TIMEOUT_SECONDS) -> None:
        """Waits until every announced checkpoint is committed (or given up on)."""
        if self._worker is None:
            return
        self._queue.put_nowait(None)
        try:
            await asyncio.wait_for(asyncio.shield(self._worker), timeout)
        except TimeoutError:
            self._worker.cancel()
            self.failures.append(f"uploads still running after {timeout:g} s were abandoned")

    async def _upload_all(self) -> None:
        while (saved := await self._queue.get()) is not None:
            try:
                record = await self._upload(saved)
            except Exception as error:  # one lost checkpoint must not stop the next ones
                message = f"checkpoint step {saved.step} ({saved.path}) was not committed: {error}"
                _log.error("attempt %s:%d: %s", self._assignment.jobId, self._assignment.attempt, message)
                self.failures.append(message)
            else:
                self.committed.append(record)
                self._prune_local(saved.path)
            if self._on_settled is not None:
                self._on_settled(saved)

    async def _upload(self, saved: CheckpointSaved) -> CheckpointRecord:
        job = self._assignment.spec
        if not isinstance(job, TrainingJobSpec | CheckpointImportJobSpec):
            raise ValueError(f"a {job.kind} task commits no checkpoints")
        spec = job.checkpoint
        retention = Retention.model_validate(
            {"keepLast": spec.keepLast, "keepBest": spec.keepBest, "keepEvery": spec.keepEvery}
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + UNAVAILABLE_RETRY_SECONDS
        rejected_once = False
        delay = 1.0
        while True:
            try:
                record = await upload_checkpoint(
                    self._client,
                    saved.path,
                    job_id=self._assignment.jobId,
                    attempt=self._assignment.attempt,
                    retention=retention,
                )
                _log.info("checkpoint step %d committed as %s", record.step, record.id)
                return record
            except UploadRejectedError:
                # The bytes changed between disk and store; a second upload from disk settles it.
                if rejected_once:
                    raise
                rejected_once = True
            except CheckpointServiceError as error:
                raise_if_cancelling(error)
                if not error.retryable or loop.time() + delay > deadline:
                    raise
                _log.warning("checkpoint step %d: %s; retrying in %.0f s", saved.step, error, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    def _prune_local(self, kept: Path) -> None:
        """Deletes local checkpoints older than the one just committed; the store holds them."""
        for path in committed_checkpoints(kept.parent):
            if path == kept:
                break
            shutil.rmtree(path, ignore_errors=True)
