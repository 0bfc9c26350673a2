"""Calls of the RPC table (``hounsfield.contracts.rpc``) over NATS request/reply, from Python.

Every reply is ``{"ok": true, "data": ...}`` or ``{"ok": false, "error": {code, message,
details}}``. The request must be the table's request model and the data is validated against its
reply model, so both directions follow the contract the TypeScript services are typed by. A
failure raises the caller's error class (a ``PlatformRpcError``) with the service's code, or
``unavailable`` when nobody answered and ``internal`` when the reply broke the contract.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from nats.aio.client import Client
from nats.errors import NoRespondersError, TimeoutError
from pydantic import BaseModel, ValidationError

from hounsfield.contracts.rpc import WorkerRpc

Req = TypeVar("Req", bound=BaseModel)
Rep = TypeVar("Rep", bound=BaseModel)


class PlatformRpcError(Exception):
    """A service refused a call or could not answer; ``code`` says which."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.details = details or {}


async def call_worker_rpc(
    nc: Client,
    worker_id: str,
    rpc: WorkerRpc[Req, Rep],
    request: Req,
    *,
    timeout: float,
    failure: type[PlatformRpcError] = PlatformRpcError,
) -> Rep:
    """Sends ``request`` on this worker's subject of ``rpc`` and returns its validated reply."""
    if rpc.request is not None and not isinstance(request, rpc.request):
        raise TypeError(f"{rpc.call} takes {rpc.request.__name__}, not {type(request).__name__}")
    if rpc.reply is None:
        raise TypeError(f"{rpc.call} has no reply model; call it with call_subject")
    data = await call_subject(nc, rpc.subject(worker_id), request, timeout=timeout, failure=failure)
    try:
        return rpc.reply.model_validate(data)
    except ValidationError as error:
        raise failure(
            "internal", f"reply on {rpc.subject(worker_id)} breaks its contract: {error}"
        ) from error


async def call_subject(
    nc: Client,
    subject: str,
    request: BaseModel,
    *,
    timeout: float,
    failure: type[PlatformRpcError] = PlatformRpcError,
) -> Any:
    """Sends ``request`` on ``subject`` and returns the reply's unvalidated ``data``."""
    payload = request.model_dump_json(exclude_none=True).encode()
    try:
        message = await nc.request(subject, payload, timeout=timeout)
    except (NoRespondersError, TimeoutError) as error:
        raise failure("unavailable", f"no answer on {subject}: {error!r}") from error
    try:
        body = json.loads(message.data)
    except json.JSONDecodeError as error:
        raise failure("internal", f"malformed reply on {subject}: {error}") from error
    if not isinstance(body, dict) or not body.get("ok"):
        error_body = body.get("error", {}) if isinstance(body, dict) else {}
        raise failure(
            str(error_body.get("code", "internal")),
            str(error_body.get("message", "no message")),
            error_body.get("details"),
        )
    return body.get("data")
