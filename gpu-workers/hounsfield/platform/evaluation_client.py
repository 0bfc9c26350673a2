"""The evaluation service's shard API over NATS request/reply, as a shard calls it.

Calls go on the shard's worker's own subjects (``hf.rpc.w.<worker>.evaluation.shards.…``).

Every reply is ``{"ok": true, "data": ...}`` or ``{"ok": false, "error": {code, message}}``;
failures become ``EvaluationServiceError`` with the service's code. ``unavailable`` (no answer)
and ``internal`` are worth retrying: the service may be restarting.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

from nats.aio.client import Client
from pydantic import BaseModel, ConfigDict

from hounsfield.contracts import rpc
from hounsfield.contracts.models import (
    AccessGrant,
    EvaluationArtifactRequest,
    EvaluationCaseResult,
    EvaluationIdRequest,
    EvaluationPlanRequest,
    EvaluationResultReply,
    EvaluationShardContext,
)
from hounsfield.contracts.rpc import Rep, Req, WorkerRpc
from hounsfield.contracts.subjects import SCHEMA_VERSION
from hounsfield.platform.rpc import PlatformRpcError, call_subject, call_worker_rpc

_log = logging.getLogger(__name__)
T = TypeVar("T")


class EvaluationArtifactGrant(BaseModel):
    """Reply to an artefact request (``evaluationArtifactGrantSchema``): the object key and its grant."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str
    grant: AccessGrant


class EvaluationServiceError(PlatformRpcError):
    """The evaluation service refused or could not answer; ``code`` says which."""

    @property
    def retryable(self) -> bool:
        return self.code in ("unavailable", "internal")


class EvaluationClient:
    def __init__(
        self,
        nc: Client,
        evaluation_id: str,
        worker_id: str,
        *,
        timeout: float = 30.0,
        retry_for: float = 300.0,
    ) -> None:
        self._nc = nc
        self._id = evaluation_id
        self._worker_id = worker_id
        self._timeout = timeout
        self._retry_for = retry_for

    async def context(self) -> EvaluationShardContext:
        request = EvaluationIdRequest.model_validate({"v": SCHEMA_VERSION, "evaluationId": self._id})
        return await self._call(rpc.WORKER_EVALUATIONS_SHARD_CONTEXT, request)

    async def plan(
        self,
        cases: list[tuple[str, str]],
        problem: str | None = None,
        options: Mapping[str, object] | None = None,
    ) -> int:
        request = EvaluationPlanRequest.model_validate(
            {
                "v": SCHEMA_VERSION,
                "evaluationId": self._id,
                "cases": [{"caseId": case_id, "defectClass": defect} for case_id, defect in cases],
                "problem": problem,
                **({"options": dict(options)} if options else {}),
            }
        )
        return (await self._call(rpc.WORKER_EVALUATIONS_PLAN, request)).total

    async def artifact_grant(self, case_id: str, file: str) -> EvaluationArtifactGrant:
        request = EvaluationArtifactRequest.model_validate(
            {"v": SCHEMA_VERSION, "evaluationId": self._id, "caseId": case_id, "file": file}
        )
        # The table has no model of this reply (the generated one would replace AccessGrant's).
        data = await self._retried(
            rpc.WORKER_EVALUATIONS_ARTIFACT.call,
            lambda: call_subject(
                self._nc,
                rpc.WORKER_EVALUATIONS_ARTIFACT.subject(self._worker_id),
                request,
                timeout=self._timeout,
                failure=EvaluationServiceError,
            ),
        )
        return EvaluationArtifactGrant.model_validate(data)

    async def report_result(self, result: EvaluationCaseResult) -> EvaluationResultReply:
        return await self._call(rpc.WORKER_EVALUATIONS_RESULT, result)

    async def _call(self, call: WorkerRpc[Req, Rep], request: Req) -> Rep:
        return await self._retried(
            call.call,
            lambda: call_worker_rpc(
                self._nc,
                self._worker_id,
                call,
                request,
                timeout=self._timeout,
                failure=EvaluationServiceError,
            ),
        )

    async def _retried(self, what: str, once: Callable[[], Awaitable[T]]) -> T:
        """One request, retried with backoff while the service is unavailable (restarting)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._retry_for
        delay = 0.5
        while True:
            try:
                return await once()
            except EvaluationServiceError as error:
                if not error.retryable or loop.time() + delay > deadline:
                    raise
                _log.warning("%s failed (%s); retrying in %.1f s", what, error, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
