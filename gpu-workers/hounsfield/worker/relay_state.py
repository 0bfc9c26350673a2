"""How far an agent has relayed an attempt's report file, kept beside it (``relay.json``).

Rewritten atomically after each relayed batch: the byte offset into ``report.jsonl``, the
sequence numbers the next progress event and notice take, and the checkpoint lines announced but
not yet committed (a re-adopting agent uploads those again). An agent that re-adopts the running
trainer resumes there. Progress and notices carry message ids built from those sequence numbers,
so a batch published just before an agent died and published again by its successor is stored
once (JetStream drops the duplicate id).
"""

from __future__ import annotations

import logging
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

_log = logging.getLogger(__name__)


class RelayState(BaseModel):
    offset: int = Field(default=0, ge=0)
    progress_seq: int = Field(default=0, ge=0)
    notice_seq: int = Field(default=0, ge=0)
    running_published: bool = False
    pending_checkpoints: list[str] = Field(default_factory=list)

    def save(self, path: Path) -> None:
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_text(self.model_dump_json())
        temporary.replace(path)

    @classmethod
    def load(cls, path: Path) -> RelayState:
        """The saved state; from the start of the file when none (or an unreadable one) is there."""
        try:
            return cls.model_validate_json(path.read_text())
        except FileNotFoundError:
            return cls()
        except (OSError, ValidationError) as error:
            _log.warning("relay state %s unreadable (%s); relaying the report from its start", path, error)
            return cls()
