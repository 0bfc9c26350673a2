"""The checkpoints service's request/reply API, as the worker agent and the CLI call it over NATS.

Calls go on the worker's own subjects (``hf.rpc.w.<worker>.checkpoints.…``), which NATS lets only
that worker publish on: the service knows who asks.

Every reply is ``{"ok": true, "data": ...}`` or ``{"ok": false, "error": {code, message, details}}``;
failures become ``CheckpointServiceError`` with the service's code (``invalid_request``,
``not_found``, ``conflict``, ``unavailable``, ``internal``).
"""

from __future__ import annotations

from nats.aio.client import Client

from hounsfield.contracts import rpc
from hounsfield.contracts.models import (
    AccessGrant1,
    AccessGrant2,
    CheckpointCommitRequest,
    CheckpointImportSourceRequest,
    CheckpointPartRequest,
    CheckpointPartUploaded,
    CheckpointRecord,
    CheckpointResolveRequest,
    CheckpointUploadRequest,
    CheckpointUploadSession,
    CodeSourceRequest,
    LogAttemptSummary,
    LogSegmentCommit,
    LogSegmentGrantRequest,
)
from hounsfield.contracts.rpc import Rep, Req, WorkerRpc
from hounsfield.contracts.subjects import SCHEMA_VERSION
from hounsfield.platform.rpc import PlatformRpcError, call_worker_rpc

Grant = AccessGrant1 | AccessGrant2

#: Verifying a part or a whole commit reads bytes back from the store; allow for large ones.
COMMIT_TIMEOUT_SECONDS = 600.0


class CheckpointServiceError(PlatformRpcError):
    """The checkpoints service refused or could not answer; ``code`` says which."""

    @property
    def retryable(self) -> bool:
        """Worth another try later: the service (or its store) was down, or a commit was in progress."""
        return self.code in ("unavailable", "conflict", "internal")


class CheckpointClient:
    def __init__(self, nc: Client, worker_id: str, *, timeout: float = 30.0) -> None:
        self._nc = nc
        self._worker_id = worker_id
        self._timeout = timeout

    async def begin_upload(
        self, job_id: str, attempt: int, step: int, files: list[tuple[str, int]]
    ) -> CheckpointUploadSession:
        request = CheckpointUploadRequest.model_validate(
            {
                "v": SCHEMA_VERSION,
                "jobId": job_id,
                "attempt": attempt,
                "step": step,
                "files": [{"name": name, "size": size} for name, size in files],
            }
        )
        return await self._call(rpc.WORKER_CHECKPOINTS_UPLOAD_BEGIN, request)

    async def upload_grant(self, upload_id: str, file: str, part: int) -> Grant:
        request = CheckpointPartRequest.model_validate(
            {"v": SCHEMA_VERSION, "id": upload_id, "file": file, "part": part}
        )
        return (await self._call(rpc.WORKER_CHECKPOINTS_UPLOAD_PART, request)).root

    async def part_uploaded(self, upload_id: str, file: str, part: int, size: int) -> None:
        request = CheckpointPartUploaded.model_validate(
            {"v": SCHEMA_VERSION, "uploadId": upload_id, "file": file, "part": part, "size": size}
        )
        await self._call(rpc.WORKER_CHECKPOINTS_PART_UPLOADED, request, COMMIT_TIMEOUT_SECONDS)

    async def commit(self, request: CheckpointCommitRequest) -> CheckpointRecord:
        return await self._call(rpc.WORKER_CHECKPOINTS_COMMIT, request, COMMIT_TIMEOUT_SECONDS)

    async def resolve(
        self, ref: str, job_id: str | None = None, pin_seconds: int | None = None
    ) -> CheckpointRecord:
        request = CheckpointResolveRequest.model_validate(
            {"v": SCHEMA_VERSION, "ref": ref, "jobId": job_id, "pinSeconds": pin_seconds}
        )
        return await self._call(rpc.WORKER_CHECKPOINTS_RESOLVE, request)

    async def download_grant(self, checkpoint_id: str, file: str, part: int) -> Grant:
        request = CheckpointPartRequest.model_validate(
            {"v": SCHEMA_VERSION, "id": checkpoint_id, "file": file, "part": part}
        )
        return (await self._call(rpc.WORKER_CHECKPOINTS_DOWNLOAD_PART, request)).root

    async def import_source(self, import_id: str, job_id: str) -> Grant:
        """A read grant for the legacy file a ``checkpoint_import`` task converts (its own job only)."""
        request = CheckpointImportSourceRequest.model_validate(
            {"v": SCHEMA_VERSION, "importId": import_id, "jobId": job_id}
        )
        return (await self._call(rpc.WORKER_CHECKPOINTS_IMPORT_SOURCE, request)).root

    async def code_source(self, job_id: str, digest: str) -> Grant:
        """A read grant for the uploaded code of a job placed on this worker (``submit --code``)."""
        request = CodeSourceRequest.model_validate({"v": SCHEMA_VERSION, "jobId": job_id, "digest": digest})
        return (await self._call(rpc.WORKER_CODE_SOURCE, request)).root

    async def log_segment_grant(self, job_id: str, attempt: int, index: int) -> Grant:
        """Where to store segment ``index`` of an attempt's log (``log_shipper``)."""
        request = LogSegmentGrantRequest.model_validate(
            {"v": SCHEMA_VERSION, "jobId": job_id, "attempt": attempt, "index": index}
        )
        return (await self._call(rpc.WORKER_LOGS_SEGMENT_GRANT, request)).root

    async def log_segment_commit(self, commit: LogSegmentCommit) -> LogAttemptSummary:
        """Makes a stored log segment readable."""
        return await self._call(rpc.WORKER_LOGS_SEGMENT_COMMIT, commit)

    async def _call(self, call: WorkerRpc[Req, Rep], request: Req, timeout: float | None = None) -> Rep:
        return await call_worker_rpc(
            self._nc,
            self._worker_id,
            call,
            request,
            timeout=timeout or self._timeout,
            failure=CheckpointServiceError,
        )
