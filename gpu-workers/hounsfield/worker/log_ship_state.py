"""What the agent has shipped of an attempt's log, kept beside the segments.

``<attempt dir>/logs/.shipping.json``: the live cursor (lines published to the live stream) and,
per segment, what the store has committed. It is rewritten (atomically) after each publish and
each commit, so an agent that restarts and re-adopts the attempt continues where this one stood:
at worst it publishes or stores the last batch again, which readers recognise by seq.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from hounsfield.worker.log_cursor import LogCursor

_log = logging.getLogger(__name__)

STATE_FILE = ".shipping.json"


class StoredSegment(BaseModel):
    """A segment as last committed: its first ``bytes`` (``lines`` whole lines)."""

    bytes: int = Field(ge=0)
    lines: int = Field(ge=0)
    closed: bool


class ShipState(BaseModel):
    v: int = 1
    live: LogCursor = Field(default_factory=lambda: LogCursor())
    stored: dict[int, StoredSegment] = Field(default_factory=dict)
    #: Segments ``1 … dropped_before - 1`` were gone (rotation) at the last commit.
    dropped_before: int = Field(default=1, ge=1)
    #: The log was completed (final commit and end message sent).
    final: bool = False

    @classmethod
    def load(cls, directory: Path) -> ShipState:
        """The state in ``directory``, or a fresh one (a missing or unreadable file starts over)."""
        path = directory / STATE_FILE
        try:
            return cls.model_validate_json(path.read_bytes())
        except FileNotFoundError:
            return cls()
        except (OSError, ValidationError) as error:
            _log.warning("%s is unreadable (%s); shipping this log from its start", path, error)
            return cls()

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        temporary = directory / f".{STATE_FILE}.tmp"
        temporary.write_text(self.model_dump_json())
        os.replace(temporary, directory / STATE_FILE)
