"""An attempt's new log lines as live messages on the HF_LOGS stream (``hf.logs.<job>.<attempt>``).

Lines go out in seq order, cut into ``LogLinesMessage``s of at most ``MESSAGE_LINES`` lines and
about ``MESSAGE_BYTES`` as sent; the ``LogEndMessage`` follows the last. Each message carries a
``Nats-Msg-Id`` naming its seq range, so one published twice within the stream's duplicate window
is stored once (readers skip seqs they have seen in any case).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Protocol

from nats.js.client import JetStreamContext

from hounsfield.contracts.models import LogEndMessage, LogLinesMessage
from hounsfield.contracts.subjects import SCHEMA_VERSION, STREAM_LOGS, job_logs_subject
from hounsfield.worker.log_cursor import SeqLine

#: One live message holds at most this many lines, and about this many bytes as sent.
MESSAGE_LINES = 1000
MESSAGE_BYTES = 256 * 1024
MSG_ID_HEADER = "Nats-Msg-Id"


class LivePublisher(Protocol):
    async def publish(self, subject: str, payload: bytes, msg_id: str) -> None: ...


class JetStreamLivePublisher:
    """Publishes to the HF_LOGS stream (tried once: the shipper's next round publishes again)."""

    def __init__(self, js: JetStreamContext, *, timeout: float = 5.0) -> None:
        self._js = js
        self._timeout = timeout

    async def publish(self, subject: str, payload: bytes, msg_id: str) -> None:
        await self._js.publish(
            subject, payload, timeout=self._timeout, stream=STREAM_LOGS, headers={MSG_ID_HEADER: msg_id}
        )


class LiveLines:
    """One attempt's live messages."""

    def __init__(self, publisher: LivePublisher, job_id: str, attempt: int) -> None:
        self._publisher = publisher
        self._job_id = job_id
        self._attempt = attempt
        self._subject = job_logs_subject(job_id, attempt)

    async def lines(self, lines: list[SeqLine]) -> None:
        for batch in batches(lines):
            message = LogLinesMessage.model_validate(
                {
                    "v": SCHEMA_VERSION,
                    "type": "lines",
                    "jobId": self._job_id,
                    "attempt": self._attempt,
                    "lines": [{"seq": seq, "rank": source, "text": text} for seq, source, text in batch],
                }
            )
            msg_id = f"{self._job_id}:{self._attempt}:log:{batch[0][0]}-{batch[-1][0]}"
            await self._publisher.publish(self._subject, message.model_dump_json().encode(), msg_id)

    async def end(self, lines: int) -> None:
        """The log is complete and stored: ``lines`` lines, seq 0 to ``lines - 1``."""
        message = LogEndMessage.model_validate(
            {
                "v": SCHEMA_VERSION,
                "type": "end",
                "jobId": self._job_id,
                "attempt": self._attempt,
                "lines": lines,
                "at": now(),
            }
        )
        msg_id = f"{self._job_id}:{self._attempt}:log:end:{lines}"
        await self._publisher.publish(self._subject, message.model_dump_json().encode(), msg_id)


def batches(lines: list[SeqLine]) -> list[list[SeqLine]]:
    """Consecutive lines cut into messages of at most MESSAGE_LINES lines and about MESSAGE_BYTES."""
    cut: list[list[SeqLine]] = []
    size = 0
    for line in lines:
        # Measured as sent: JSON escapes (terminal colour codes are common) can make a line 6 times longer.
        encoded = len(json.dumps(line[2], ensure_ascii=False).encode()) + 32
        if not cut or len(cut[-1]) >= MESSAGE_LINES or size + encoded > MESSAGE_BYTES:
            cut.append([])
            size = 0
        cut[-1].append(line)
        size += encoded
    return cut


def now() -> str:
    """UTC, as the contracts' timestamps are written."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
