"""Decoding report-file lines (``hounsfield.sdk.report_format``) into contract messages.

Progress and runtime records are validated by the contract models themselves, so the file format
cannot accept what the EVENTS stream would reject.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from hounsfield.contracts.models import JobNoticeEvent, ProgressEvent, RuntimeInfo
from hounsfield.contracts.subjects import SCHEMA_VERSION
from hounsfield.sdk.report_format import (
    KIND_LAUNCH_ERROR,
    KIND_NOTICE,
    KIND_OOM,
    KIND_PROGRESS,
    KIND_RUNTIME,
    REPORT_FORMAT_VERSION,
    utc_timestamp,
)

KNOWN_KINDS = (KIND_RUNTIME, KIND_PROGRESS, KIND_LAUNCH_ERROR, KIND_NOTICE, KIND_OOM)


class ReportRecordError(ValueError):
    """A line of the report file is not a record the agent understands (it is skipped)."""


@dataclass(frozen=True)
class AttemptIdentity:
    job_id: str
    attempt: int
    worker_id: str


def _first_issue(error: ValidationError) -> str:
    issue = error.errors()[0]
    where = ".".join(str(part) for part in issue["loc"]) or "record"
    return f"{where}: {issue['msg']}"


def decode_line(line: str) -> dict[str, Any]:
    """A JSON object of this format version with a known ``kind``."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise ReportRecordError(f"not JSON: {error}") from error
    if not isinstance(record, dict):
        raise ReportRecordError("not a JSON object")
    if record.get("v") != REPORT_FORMAT_VERSION:
        raise ReportRecordError(f"unsupported record version {record.get('v')!r}")
    if record.get("kind") not in KNOWN_KINDS:
        raise ReportRecordError(f"unknown record kind {record.get('kind')!r}")
    return record


def _payload(record: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in record.items() if name not in ("v", "kind", "at")}


def runtime_info(record: dict[str, Any]) -> RuntimeInfo:
    try:
        return RuntimeInfo.model_validate(_payload(record))
    except ValidationError as error:
        raise ReportRecordError(f"runtime record: {_first_issue(error)}") from error


def progress_event(record: dict[str, Any], identity: AttemptIdentity, seq: int) -> ProgressEvent:
    at = record.get("at")
    try:
        return ProgressEvent.model_validate(
            {
                **_payload(record),
                "v": SCHEMA_VERSION,
                "type": "progress",
                "jobId": identity.job_id,
                "attempt": identity.attempt,
                "workerId": identity.worker_id,
                "seq": seq,
                "at": at if isinstance(at, str) and 20 <= len(at) <= 40 else utc_timestamp(),
            }
        )
    except ValidationError as error:
        raise ReportRecordError(f"progress record: {_first_issue(error)}") from error


def notice_event(record: dict[str, Any], identity: AttemptIdentity) -> JobNoticeEvent:
    at = record.get("at")
    try:
        return JobNoticeEvent.model_validate(
            {
                "v": SCHEMA_VERSION,
                "type": "notice",
                "jobId": identity.job_id,
                "attempt": identity.attempt,
                "workerId": identity.worker_id,
                "kind": record.get("notice"),
                "level": record.get("level", "info"),
                "message": record.get("message"),
                "details": record.get("details") or {},
                "at": at if isinstance(at, str) and 20 <= len(at) <= 40 else utc_timestamp(),
            }
        )
    except ValidationError as error:
        raise ReportRecordError(f"notice record: {_first_issue(error)}") from error


def oom_message(record: dict[str, Any]) -> str:
    message = record.get("message")
    return str(message)[:4096] if message else "a rank ran out of memory"


def launch_error_reason(record: dict[str, Any]) -> str:
    reason = record.get("reason")
    return str(reason) if reason else "the launcher could not start the trainer"
