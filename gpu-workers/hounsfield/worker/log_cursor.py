"""Reading the lines of an attempt's log segments that were not read yet, in seq order.

A cursor is (segment index, byte offset, seq of the next line). Only whole lines are read: an
unfinished one at the end of the open segment waits for the next read. A segment the writer has
moved past is complete; once read to its end the cursor moves to the next. When rotation deleted
the cursor's segment before it was read, the cursor moves on to the next segment that exists and
the lines in between are skipped (their seq numbers jump; readers see the gap).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from hounsfield.worker.log_lines import MAX_LINE_BYTES, Source, parse_line
from hounsfield.worker.log_segments import Segment, list_segments

#: Bytes one read takes at most (a log far behind catches up over several reads).
READ_BUDGET_BYTES = 1024 * 1024

SeqLine = tuple[int, Source, str]


class LogCursor(BaseModel):
    index: int = Field(default=0, ge=0)
    offset: int = Field(default=0, ge=0)
    seq: int = Field(default=0, ge=0)


def read_new_lines(
    directory: Path, cursor: LogCursor, budget: int = READ_BUDGET_BYTES
) -> tuple[list[SeqLine], LogCursor]:
    """The whole lines after ``cursor`` (about ``budget`` bytes at most) and the cursor after them."""
    segments = [segment for segment in list_segments(directory) if segment.index >= cursor.index]
    lines: list[SeqLine] = []
    index, offset, seq = cursor.index, cursor.offset, cursor.seq
    for position, segment in enumerate(segments):
        if segment.index != index:  # the previous segment is done, or was deleted unread
            index, offset, seq = segment.index, 0, segment.first_seq
        # The writer never adds to a segment once a newer one exists.
        closed = position < len(segments) - 1
        wanted = budget
        data = _read_from(segment, offset, wanted)
        if data is None:  # deleted by rotation since the listing
            continue
        end = data.rfind(b"\n") + 1
        for raw in data[:end].splitlines():
            source, text = parse_line(raw.decode("utf-8", errors="replace"))
            lines.append((seq, source, text[:MAX_LINE_BYTES]))  # only a foreign writer's line is longer
            seq += 1
        offset += end
        budget -= end
        reached_end = len(data) < wanted
        if not closed or not reached_end or budget <= 0:
            break
    return lines, LogCursor(index=index, offset=offset, seq=seq)


def _read_from(segment: Segment, offset: int, length: int) -> bytes | None:
    try:
        with segment.path.open("rb") as file:
            file.seek(offset)
            return file.read(max(length, 0))
    except FileNotFoundError:
        return None
