"""Server-sent events (``text/event-stream``) read line by line, as the gateway sends them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class ServerSentEvent:
    event: str
    data: str
    id: str | None = None


def read_events(lines: Iterable[str]) -> Iterator[ServerSentEvent]:
    """One event per blank-line-terminated frame; comments (keep-alives) and data-less frames skipped."""
    fields: dict[str, str] = {}
    data: list[str] = []
    for raw in lines:
        line = raw.rstrip("\r\n")
        if not line:
            if data:
                yield ServerSentEvent(fields.get("event", "message"), "\n".join(data), fields.get("id"))
            fields, data = {}, []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            data.append(value)
        else:
            fields[name] = value
    if data:
        yield ServerSentEvent(fields.get("event", "message"), "\n".join(data), fields.get("id"))
