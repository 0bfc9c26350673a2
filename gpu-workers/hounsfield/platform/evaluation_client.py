"""The evaluation service's shard API over NATS request/reply, as a shard calls it.

Calls go on the shard's worker's own subjects (``hf.rpc.w.<worker>.evaluation.shards.…``).

Every reply is ``{"ok": true, "data": ...}`` or ``{"ok": false, "error": {code, message}}``;
failures become ``EvaluationServiceError`` with the service's code. ``unavailable`` (no answer)
and ``internal`` are worth retrying: the service may be restarting.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, TypeVar

from nats.aio.client import Client
from nats.errors import NoRespondersError, TimeoutError
from pydantic import BaseModel, ConfigDict, ValidationError

from hounsfield.contracts.models import (
    AccessGrant,
    EvaluationArtifactRequest,
    EvaluationCaseResult,
    EvaluationIdRequest,
    EvaluationPlanReply,
    EvaluationPlanRequest,
    EvaluationResultReply,
    EvaluationShardContext,
)
from hounsfield.contracts.subjects import (
    SCHEMA_VERSION,
    WORKER_RPC_EVALUATIONS_ARTIFACT,
    WORKER_RPC_EVALUATIONS_PLAN,
    WORKER_RPC_EVALUATIONS_RESULT,
    WORKER_RPC_EVALUATIONS_SHARD_CONTEXT,
    worker_rpc_subject,
)

_log = logging.getLogger(__name__)
Model = TypeVar("Model", bound=BaseModel)


class EvaluationArtifactGrant(BaseModel):
    """Reply to an artefact request (``evaluationArtifactGrantSchema``): the object key and its grant."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str
    grant: AccessGrant


class EvaluationServiceError(Exception):
    """The evaluation service refused or could not answer; ``code`` says which."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code

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
        return await self._call(WORKER_RPC_EVALUATIONS_SHARD_CONTEXT, request, EvaluationShardContext)

    async def plan(self, cases: list[tuple[str, str]], problem: str | None = None) -> int:
        request = EvaluationPlanRequest.model_validate(
            {
                "v": SCHEMA_VERSION,
                "evaluationId": self._id,
                "cases": [{"caseId": case_id, "defectClass": defect} for case_id, defect in cases],
                "problem": problem,
            }
        )
        return (await self._call(WORKER_RPC_EVALUATIONS_PLAN, request, EvaluationPlanReply)).total

    async def artifact_grant(self, case_id: str, file: str) -> EvaluationArtifactGrant:
        request = EvaluationArtifactRequest.model_validate(
            {"v": SCHEMA_VERSION, "evaluationId": self._id, "caseId": case_id, "file": file}
        )
        return await self._call(WORKER_RPC_EVALUATIONS_ARTIFACT, request, EvaluationArtifactGrant)

    async def report_result(self, result: EvaluationCaseResult) -> EvaluationResultReply:
        return await self._call(WORKER_RPC_EVALUATIONS_RESULT, result, EvaluationResultReply)

    async def _call(self, subject: str, request: BaseModel, reply: type[Model]) -> Model:
        """One request, retried with backoff while the service is unavailable (restarting)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._retry_for
        delay = 0.5
        while True:
            try:
                return await self._once(subject, request, reply)
            except EvaluationServiceError as error:
                if not error.retryable or loop.time() + delay > deadline:
                    raise
                _log.warning("%s failed (%s); retrying in %.1f s", subject, error, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _once(self, call: str, request: BaseModel, reply: type[Model]) -> Model:
        subject = worker_rpc_subject(self._worker_id, call)
        payload = request.model_dump_json(exclude_none=True).encode()
        try:
            message = await self._nc.request(subject, payload, timeout=self._timeout)
        except (NoRespondersError, TimeoutError) as error:
            raise EvaluationServiceError("unavailable", f"no answer on {subject}: {error!r}") from error
        try:
            body: Any = json.loads(message.data)
        except json.JSONDecodeError as error:
            raise EvaluationServiceError("internal", f"malformed reply on {subject}: {error}") from error
        if not isinstance(body, dict) or not body.get("ok"):
            failure = body.get("error", {}) if isinstance(body, dict) else {}
            raise EvaluationServiceError(
                str(failure.get("code", "internal")), str(failure.get("message", ""))
            )
        try:
            return reply.model_validate(body.get("data"))
        except ValidationError as error:
            raise EvaluationServiceError("internal", f"unexpected reply on {subject}: {error}") from error
