"""What the agent needs to capture and ship attempt logs: the limits, the timing, the transports.

``AttemptRunner`` asks it for the launcher's capture options and, once the trainer runs, for a
``LogShipper``. An agent that re-adopts a running trainer after a restart calls
``LogShipping.shipper(attempt_dir, job_id, attempt)``, ``start()`` and, once the trainer has
exited, ``finish()``: shipping continues from the state in the attempt directory.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nats.js.client import JetStreamContext

from hounsfield.worker.attempt_dir import AttemptDir
from hounsfield.worker.launcher import capture_command_options
from hounsfield.worker.log_live import JetStreamLivePublisher, LivePublisher
from hounsfield.worker.log_segments import KiB, LogLimits, MiB
from hounsfield.worker.log_shipper import LogShipper, LogStore, ShipTiming
from hounsfield.worker.settings import WorkerSettings


@dataclass(frozen=True)
class LogShipping:
    limits: LogLimits = field(default_factory=lambda: LogLimits())
    timing: ShipTiming = field(default_factory=ShipTiming)
    store: LogStore | None = None
    live: LivePublisher | None = None

    @classmethod
    def from_settings(
        cls, settings: WorkerSettings, store: LogStore | None, js: JetStreamContext | None
    ) -> LogShipping:
        return cls(
            limits=LogLimits(
                segment_bytes=settings.log_segment_kib * KiB, max_bytes=settings.log_max_mib * MiB
            ),
            timing=ShipTiming(
                live_seconds=settings.log_live_seconds,
                upload_seconds=settings.log_upload_seconds,
                finish_seconds=settings.log_finish_seconds,
            ),
            store=store,
            live=None if js is None else JetStreamLivePublisher(js),
        )

    def launcher_options(self, attempt_dir: AttemptDir) -> list[str]:
        """The launcher's options that capture the trainer's output into the attempt's log."""
        return capture_command_options(attempt_dir.logs_dir, self.limits)

    def shipper(self, attempt_dir: AttemptDir, job_id: str, attempt: int) -> LogShipper:
        """The shipper of one attempt's log; it continues from the state the directory holds."""
        return LogShipper(
            attempt_dir,
            job_id,
            attempt,
            limits=self.limits,
            timing=self.timing,
            store=self.store,
            live=self.live,
        )
