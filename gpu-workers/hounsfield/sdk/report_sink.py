"""Where a trainer's reports go: the agent's report file, the console, or nowhere (ranks > 0)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Protocol

from hounsfield.sdk.report_format import KIND_PROGRESS, KIND_RUNTIME, dumps_record

_log = logging.getLogger("hounsfield.sdk")


class ReportSink(Protocol):
    def write(self, record: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


class FileReportSink:
    """Appends one JSON line per record and flushes it, so the agent's tailer sees whole lines."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", encoding="utf-8")

    def write(self, record: dict[str, Any]) -> None:
        self._file.write(dumps_record(record) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def _format_value(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


class ConsoleReportSink:
    """Standalone mode: progress becomes a log line such as ``step 10/100 loss=0.52 lr=0.001``."""

    def write(self, record: dict[str, Any]) -> None:
        if record["kind"] == KIND_PROGRESS:
            total = record.get("totalSteps")
            step = f"step {record['step']}" + (f"/{total}" if total else "")
            metrics = " ".join(f"{name}={_format_value(value)}" for name, value in record["metrics"].items())
            extras = " ".join(
                f"{name}={_format_value(record[name])}"
                for name in ("epoch", "lr", "samplesPerSecond", "dataWaitSeconds", "stepSeconds")
                if name in record
            )
            _log.info("%s %s %s", step, metrics, extras)
        elif record["kind"] == KIND_RUNTIME:
            _log.debug("runtime: %s", record)

    def close(self) -> None:
        return None


class NullReportSink:
    """Ranks other than 0 report nothing; their metrics would only duplicate rank 0's."""

    def write(self, record: dict[str, Any]) -> None:
        return None

    def close(self) -> None:
        return None
