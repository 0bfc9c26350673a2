"""The checkpoints service's request/reply API, as the worker agent and the CLI call it over NATS.

Calls go on the worker's own subjects (``hf.rpc.w.<worker>.checkpoints.…``), which NATS lets only
that worker publish on: the service knows who asks.

Every reply is ``{"ok": true, "data": ...}`` or ``{"ok": false, "error": {code, message, details}}``;
failures become ``CheckpointServiceError`` with the service's code (``invalid_request``,
``not_found``, ``conflict``, ``unavailable``, ``internal``).
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from nats.aio.client import Client
from nats.errors import NoRespondersError, TimeoutError
from pydantic import BaseModel, ValidationError

from hounsfield.contracts.models import (
    AccessGrant,
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
from hounsfield.contracts.subjects import (
    SCHEMA_VERSION,
    WORKER_RPC_CHECKPOINTS_COMMIT,
    WORKER_RPC_CHECKPOINTS_DOWNLOAD_PART,
    WORKER_RPC_CHECKPOINTS_IMPORT_SOURCE,
    WORKER_RPC_CHECKPOINTS_PART_UPLOADED,
    WORKER_RPC_CHECKPOINTS_RESOLVE,
    WORKER_RPC_CHECKPOINTS_UPLOAD_BEGIN,
    WORKER_RPC_CHECKPOINTS_UPLOAD_PART,
    WORKER_RPC_CODE_SOURCE,
    WORKER_RPC_LOGS_SEGMENT_COMMIT,
    WORKER_RPC_LOGS_SEGMENT_GRANT,
    worker_rpc_subject,
)

Model = TypeVar("Model", bound=BaseModel)
Grant = AccessGrant1 | AccessGrant2

#: Verifying a part or a whole commit reads bytes back from the store; allow for large ones.
COMMIT_TIMEOUT_SECONDS = 600.0


class CheckpointServiceError(Exception):
    """The checkpoints service refused or could not answer; ``code`` says which."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.details = details or {}

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
        return await self._call(WORKER_RPC_CHECKPOINTS_UPLOAD_BEGIN, request, CheckpointUploadSession)

    async def upload_grant(self, upload_id: str, file: str, part: int) -> Grant:
        request = CheckpointPartRequest.model_validate(
            {"v": SCHEMA_VERSION, "id": upload_id, "file": file, "part": part}
        )
        return (await self._call(WORKER_RPC_CHECKPOINTS_UPLOAD_PART, request, AccessGrant)).root

    async def part_uploaded(self, upload_id: str, file: str, part: int, size: int) -> None:
        request = CheckpointPartUploaded.model_validate(
            {"v": SCHEMA_VERSION, "uploadId": upload_id, "file": file, "part": part, "size": size}
        )
        await self._call(WORKER_RPC_CHECKPOINTS_PART_UPLOADED, request, None, COMMIT_TIMEOUT_SECONDS)

    async def commit(self, request: CheckpointCommitRequest) -> CheckpointRecord:
        return await self._call(
            WORKER_RPC_CHECKPOINTS_COMMIT, request, CheckpointRecord, COMMIT_TIMEOUT_SECONDS
        )

    async def resolve(
        self, ref: str, job_id: str | None = None, pin_seconds: int | None = None
    ) -> CheckpointRecord:
        request = CheckpointResolveRequest.model_validate(
            {"v": SCHEMA_VERSION, "ref": ref, "jobId": job_id, "pinSeconds": pin_seconds}
        )
        return await self._call(WORKER_RPC_CHECKPOINTS_RESOLVE, request, CheckpointRecord)

    async def download_grant(self, checkpoint_id: str, file: str, part: int) -> Grant:
        request = CheckpointPartRequest.model_validate(
            {"v": SCHEMA_VERSION, "id": checkpoint_id, "file": file, "part": part}
        )
        return (await self._call(WORKER_RPC_CHECKPOINTS_DOWNLOAD_PART, request, AccessGrant)).root

    async def import_source(self, import_id: str, job_id: str) -> Grant:
        """A read grant for the legacy file a ``checkpoint_import`` task converts (its own job only)."""
        request = CheckpointImportSourceRequest.model_validate(
            {"v": SCHEMA_VERSION, "importId": import_id, "jobId": job_id}
        )
        return (await self._call(WORKER_RPC_CHECKPOINTS_IMPORT_SOURCE, request, AccessGrant)).root

    async def code_source(self, job_id: str, digest: str) -> Grant:
        """A read grant for the uploaded code of a job placed on this worker (``submit --code``)."""
        request = CodeSourceRequest.model_validate({"v": SCHEMA_VERSION, "jobId": job_id, "digest": digest})
        return (await self._call(WORKER_RPC_CODE_SOURCE, request, AccessGrant)).root

    async def log_segment_grant(self, job_id: str, attempt: int, index: int) -> Grant:
        """Where to store segment ``index`` of an attempt's log (``log_shipper``)."""
        request = LogSegmentGrantRequest.model_validate(
            {"v": SCHEMA_VERSION, "jobId": job_id, "attempt": attempt, "index": index}
        )
        return (await self._call(WORKER_RPC_LOGS_SEGMENT_GRANT, request, AccessGrant)).root

    async def log_segment_commit(self, commit: LogSegmentCommit) -> LogAttemptSummary:
        """Makes a stored log segment readable."""
        return await self._call(WORKER_RPC_LOGS_SEGMENT_COMMIT, commit, LogAttemptSummary)

    async def _call(
        self, call: str, request: BaseModel, reply: type[Model] | None, timeout: float | None = None
    ) -> Any:
        subject = worker_rpc_subject(self._worker_id, call)
        payload = request.model_dump_json(exclude_none=True).encode()
        try:
            message = await self._nc.request(subject, payload, timeout=timeout or self._timeout)
        except (NoRespondersError, TimeoutError) as error:
            raise CheckpointServiceError(
                "unavailable", f"the checkpoints service did not answer on {subject}: {error!r}"
            ) from error
        try:
            body = json.loads(message.data)
        except json.JSONDecodeError as error:
            raise CheckpointServiceError("internal", f"malformed reply on {subject}: {error}") from error
        if not isinstance(body, dict) or not body.get("ok"):
            failure = body.get("error", {}) if isinstance(body, dict) else {}
            raise CheckpointServiceError(
                str(failure.get("code", "internal")),
                str(failure.get("message", "no message")),
                failure.get("details"),
            )
        if reply is None:
            return body.get("data")
        try:
            return reply.model_validate(body.get("data"))
        except ValidationError as error:
            raise CheckpointServiceError("internal", f"unexpected reply on {subject}: {error}") from error
