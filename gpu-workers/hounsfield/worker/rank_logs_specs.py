"""torchrun's log destinations pointed at the launcher's per-rank capture pipes.

torchrun asks its ``LogsSpecs`` where each local rank's stdout and stderr go when it starts the
ranks (again after an elastic restart), passing each rank's environment: ``RANK`` there is the
global rank the rendezvous assigned, right on every node of a multi-node job. Both streams of a
rank go to that rank's pipe. Error files (``@record``) stay torchrun's, under ``log_dir``.

Imports torch: the launcher imports this module only after its cheap checks.
"""

from __future__ import annotations

from torch.distributed.elastic.multiprocessing.api import DefaultLogsSpecs, LogsDest

from hounsfield.worker.output_capture import OutputCapture


class RankLogsSpecs(DefaultLogsSpecs):
    def __init__(self, capture: OutputCapture, log_dir: str) -> None:
        super().__init__(log_dir=log_dir)
        self._capture = capture

    def reify(self, envs: dict[int, dict[str, str]]) -> LogsDest:
        destinations = super().reify(envs)
        for local_rank, env in envs.items():
            path = self._capture.rank_path(int(env.get("RANK", local_rank)))
            destinations.stdouts[local_rank] = path
            destinations.stderrs[local_rank] = path
        destinations.tee_stdouts.clear()
        destinations.tee_stderrs.clear()
        return destinations
