"""Shipping a log: live lines on a real JetStream, segments through path grants; resumed by a new agent."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from nats.aio.client import Client

from hounsfield.contracts.models import (
    AccessGrant2,
    LogAttemptSummary,
    LogEndMessage,
    LogLine,
    LogLinesMessage,
    LogSegmentCommit,
)
from hounsfield.contracts.subjects import job_logs_subject
from hounsfield.worker.attempt_dir import AttemptDir
from hounsfield.worker.log_lines import format_line
from hounsfield.worker.log_live import JetStreamLivePublisher, batches
from hounsfield.worker.log_segments import LogLimits, SegmentWriter, list_segments
from hounsfield.worker.log_shipper import LogShipper, ShipTiming

pytestmark = pytest.mark.timeout(120)

LIMITS = LogLimits(segment_bytes=64 * 1024, max_bytes=256 * 1024)


class PathStore:
    """The checkpoints service's logs API on a directory: path grants, and the commits it received."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.grants: list[int] = []
        self.commits: list[LogSegmentCommit] = []

    async def log_segment_grant(self, job_id: str, attempt: int, index: int) -> AccessGrant2:
        self.grants.append(index)
        directory = self.root / job_id / str(attempt)
        directory.mkdir(parents=True, exist_ok=True)
        return AccessGrant2(kind="path", path=str(directory / f"{index:06d}.log"))

    async def log_segment_commit(self, commit: LogSegmentCommit) -> LogAttemptSummary:
        self.commits.append(commit)
        return LogAttemptSummary(
            attempt=commit.attempt, lines=0, bytes=0, complete=commit.final, updatedAt=commit.capturedAt
        )

    def stored_text(self, job_id: str, attempt: int) -> list[str]:
        """The stored log as its latest commits describe it (each object read up to its committed bytes)."""
        latest = {c.index: c for c in self.commits}
        lines: list[str] = []
        for index in sorted(latest):
            data = (self.root / job_id / str(attempt) / f"{index:06d}.log").read_bytes()
            lines += data[: latest[index].bytes].decode().splitlines()
        return lines


def _lines(start: int, count: int) -> list[tuple[int, str]]:
    return [(i % 2, f"line {i} " + "." * 150) for i in range(start, start + count)]


async def _live_messages(nc: Client, subject: str) -> list[LogLinesMessage | LogEndMessage]:
    subscription = await nc.jetstream().pull_subscribe(subject, durable=None)
    messages: list[LogLinesMessage | LogEndMessage] = []
    try:
        while True:
            try:
                batch = await subscription.fetch(100, timeout=1.0)
            except TimeoutError:
                return messages
            for message in batch:
                kind = LogEndMessage if b'"type":"end"' in message.data else LogLinesMessage
                messages.append(kind.model_validate_json(message.data))
    finally:
        await subscription.unsubscribe()


def _shipper(attempt_dir: AttemptDir, job_id: str, store: PathStore, nc: Client) -> LogShipper:
    return LogShipper(
        attempt_dir,
        job_id,
        1,
        limits=LIMITS,
        timing=ShipTiming(live_seconds=0.05, upload_seconds=0.05, finish_seconds=5.0),
        store=store,
        live=JetStreamLivePublisher(nc.jetstream()),
    )


async def test_a_new_agent_resumes_shipping_where_the_last_one_stood(nc: Client, tmp_path: Path) -> None:
    job_id = f"job-{uuid.uuid4().hex[:8]}"
    attempt_dir = AttemptDir(tmp_path / "attempt-1")
    attempt_dir.prepare()
    store = PathStore(tmp_path / "store")
    writer = SegmentWriter(attempt_dir.logs_dir, LIMITS)
    writer.write(_lines(0, 600))  # two segments and a bit

    first = _shipper(attempt_dir, job_id, store, nc)
    assert await first.publish_new()
    assert await first.store_changed()
    stored_before = {c.index: c.bytes for c in store.commits}
    # This agent dies here. The trainer goes on; a restarted agent re-adopts the attempt.
    writer.write(_lines(600, 200))
    writer.close()
    attempt_dir.log_file.write_text("launcher: printed outside the capture\n")

    second = _shipper(attempt_dir, job_id, store, nc)
    assert second.state.live.seq == 600
    second.start()
    await second.finish()

    expected = [format_line(source, text) for source, text in _lines(0, 800)]
    expected.append("[launcher] launcher: printed outside the capture")
    # Live: every line exactly once, in seq order, then the end.
    messages = await _live_messages(nc, job_logs_subject(job_id, 1))
    live = [line for m in messages if isinstance(m, LogLinesMessage) for line in m.lines]
    assert [line.seq for line in live] == list(range(801))
    assert [_formatted(line) for line in live] == expected
    assert isinstance(messages[-1], LogEndMessage) and messages[-1].lines == 801
    # Stored: the whole log; segments stored whole before were not stored again.
    assert store.stored_text(job_id, 1) == expected
    unchanged = [index for index, size in stored_before.items() if size == _size(attempt_dir, index)]
    assert unchanged == [0] and store.grants.count(0) == 1
    final = store.commits[-1]
    assert final.final and final.index == list_segments(attempt_dir.logs_dir)[-1].index
    assert final.firstSeq + final.lines == 801
    assert second.state.final and attempt_dir.log_file.read_bytes() == b""


def _formatted(line: LogLine) -> str:
    rank = line.rank
    return format_line(rank if isinstance(rank, str) else rank.root, line.text)


def _size(attempt_dir: AttemptDir, index: int) -> int:
    segment = next(s for s in list_segments(attempt_dir.logs_dir) if s.index == index)
    return segment.path.stat().st_size


async def test_segments_dropped_before_shipping_are_skipped_and_reported(nc: Client, tmp_path: Path) -> None:
    job_id = f"job-{uuid.uuid4().hex[:8]}"
    attempt_dir = AttemptDir(tmp_path / "attempt-1")
    attempt_dir.prepare()
    store = PathStore(tmp_path / "store")
    shipper = _shipper(attempt_dir, job_id, store, nc)
    writer = SegmentWriter(attempt_dir.logs_dir, LIMITS)
    writer.write(_lines(0, 100))
    await shipper.publish_new()
    await shipper.store_changed()
    # A burst rotates several segments away while shipping stalls.
    writer.write(_lines(100, 5000))
    writer.close()
    segments = list_segments(attempt_dir.logs_dir)
    assert segments[1].index > 2

    while await shipper.publish_new():
        pass
    await shipper.store_changed()

    messages = await _live_messages(nc, job_logs_subject(job_id, 1))
    seqs = [line.seq for m in messages if isinstance(m, LogLinesMessage) for line in m.lines]
    # Segment 0 is never dropped: its lines all come, then the newest segments' lines.
    first_segment_lines = segments[0].path.read_bytes().count(b"\n")
    assert seqs == list(range(first_segment_lines)) + list(range(segments[1].first_seq, 5100))
    assert store.commits[-1].droppedBefore == segments[1].index
    assert set(shipper.state.stored) == {s.index for s in segments}


def test_live_messages_stay_small_even_when_every_character_is_escaped() -> None:
    # Terminal colour codes: each ESC is six characters in JSON.
    lines = [(seq, 0, "\x1b" * 16_000) for seq in range(200)]
    cut = batches(lines)
    assert [line for batch in cut for line in batch] == lines
    for batch in cut:
        message = LogLinesMessage.model_validate(
            {
                "v": 1,
                "type": "lines",
                "jobId": "job-1",
                "attempt": 1,
                "lines": [{"seq": seq, "rank": rank, "text": text} for seq, rank, text in batch],
            }
        )
        assert len(message.model_dump_json().encode()) < 1024 * 1024  # NATS's default message limit


class CancelSwallowingStore(PathStore):
    """A store whose grant call turns the first cancel it receives into another error, as Python
    3.11's ``asyncio.wait_for`` can when the reply lands in the same moment as the cancel."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.in_grant = asyncio.Event()
        self.swallowed = 0

    async def log_segment_grant(self, job_id: str, attempt: int, index: int) -> AccessGrant2:
        self.in_grant.set()
        if self.swallowed == 0:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError as cancel:
                self.swallowed += 1
                raise RuntimeError("the reply arrived as the call was cancelled") from cancel
        return await super().log_segment_grant(job_id, attempt, index)


async def test_finishing_stops_a_shipping_loop_whose_cancel_was_swallowed(nc: Client, tmp_path: Path) -> None:
    job_id = f"job-{uuid.uuid4().hex[:8]}"
    attempt_dir = AttemptDir(tmp_path / "attempt-1")
    attempt_dir.prepare()
    writer = SegmentWriter(attempt_dir.logs_dir, LIMITS)
    writer.write(_lines(0, 10))
    writer.close()
    store = CancelSwallowingStore(tmp_path / "store")
    shipper = _shipper(attempt_dir, job_id, store, nc)
    shipper.start()
    await asyncio.wait_for(store.in_grant.wait(), 10)
    # Before the fix the loop went on after the swallowed cancel and `finish` waited for it forever.
    await asyncio.wait_for(shipper.finish(), 20)
    assert store.swallowed == 1
    assert store.stored_text(job_id, 1) == [format_line(source, text) for source, text in _lines(0, 10)]
    assert shipper.state.final
