"""An evaluation shard: an ``evaluation_shard`` task that scores cases from the evaluation's work queue.

Run by the worker agent as the built-in task ``python -m hounsfield.evaluation.shard --evaluation
<id>`` (the evaluation service submits it). It talks to the services as its worker, with the NATS
access the agent hands it (``HOUNSFIELD_NATS_*``, ``HOUNSFIELD_WORKER_ID``); the job holds no
address or grant. It

1. asks the service for the evaluation (spec, pinned checkpoints with their trainer configs);
2. downloads and verifies the pinned checkpoints (PCDiff: diffusion + voxelization; vqgan3d,
   topo_unet, slice_interp: one model) like a resume checkpoint, and loads them once through the
   evaluator of the spec's kind (``hounsfield.evaluation.families``);
3. if no shard has yet, lists the cases from the dataset the worker resolved and sends the plan
   with the family options that run (resolved from the checkpoint's config);
4. pulls one case at a time from the evaluation's durable consumer, keeps its deadline alive with
   ``in_progress()`` while it works, stores the artefacts (``preview.png`` for every family;
   PCDiff's ``implant.nrrd`` and ``points.npy``) through write grants, reports the result (the
   service stores it by case: a redelivery overwrites) and only then acks. A shard killed
   mid-case never acks, so the case goes to another shard after the evaluation's
   ``caseTimeoutSeconds``.
5. exits when the service says every case has a result (or after ``--idle-exit-seconds`` with an
   empty queue and nothing in flight anywhere).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.client import JetStreamContext
from pydantic import ValidationError

from hounsfield.contracts.models import EvaluationCase, EvaluationCaseResult, EvaluationShardContext
from hounsfield.contracts.subjects import SCHEMA_VERSION
from hounsfield.evaluation.families import CaseEvaluator, PlannedCase, evaluator_loader
from hounsfield.platform.checkpoint_client import CheckpointClient
from hounsfield.platform.checkpoint_download import download_checkpoint
from hounsfield.platform.checkpoint_transfer import put_part
from hounsfield.platform.evaluation_client import EvaluationClient
from hounsfield.platform.nats import NatsAccess, connect_nats
from hounsfield.sdk.platform_env import ENV_CONTEXT, PlatformEnv

_log = logging.getLogger("hounsfield.evaluation.shard")

FETCH_TIMEOUT_SECONDS = 2.0


class Shard:
    def __init__(
        self,
        nc: Client,
        context: EvaluationShardContext,
        evaluator: CaseEvaluator,
        data_root: Path,
        work_dir: Path,
        job_id: str | None,
        worker_id: str,
    ) -> None:
        self._nc = nc
        self._js: JetStreamContext = nc.jetstream()
        self._context = context
        self._client = EvaluationClient(nc, context.evaluationId, worker_id)
        self._evaluator = evaluator
        self._data_root = data_root
        self._work_dir = work_dir
        self._job_id = job_id

    async def plan(self) -> None:
        """Sends the case list and the options that run (the service keeps the first one it gets)."""
        try:
            cases: list[PlannedCase] = await asyncio.to_thread(self._evaluator.cases)
            options = self._evaluator.options()
        except Exception as error:  # a missing split or an unreadable dataset fails the evaluation
            await self._client.plan([], problem=f"cannot list the cases under {self._data_root}: {error}")
            raise
        problem = None if cases else f"no case under {self._data_root} matches the spec's dataset"
        total = await self._client.plan([(c.case_id, c.group) for c in cases], problem, options)
        _log.info("evaluation %s: %d case(s) planned", self._context.evaluationId, total)

    async def consume(self, idle_exit_seconds: float) -> int:
        """Pulls and scores cases until the evaluation is complete; returns the cases scored here."""
        subscription = await self._js.pull_subscribe_bind(
            durable=self._context.consumer, stream=self._context.stream
        )
        scored = 0
        idle_since: float | None = None
        loop = asyncio.get_running_loop()
        try:
            while True:
                try:
                    messages = await subscription.fetch(1, timeout=FETCH_TIMEOUT_SECONDS)
                except NatsTimeoutError:
                    messages = []
                if messages:
                    idle_since = None
                    scored += await self._handle(messages[0])
                    continue
                if (await self._client.context()).complete:
                    return scored
                info = await self._js.consumer_info(self._context.stream, self._context.consumer)
                if info.num_pending or info.num_ack_pending:
                    idle_since = None  # another shard holds a case; it may come back to us
                    continue
                idle_since = idle_since if idle_since is not None else loop.time()
                if loop.time() - idle_since >= idle_exit_seconds:
                    _log.warning("queue empty and nothing in flight for %.0f s; leaving", idle_exit_seconds)
                    return scored
        finally:
            await subscription.unsubscribe()

    async def _handle(self, message: Msg) -> int:
        try:
            case = EvaluationCase.model_validate_json(message.data)
        except ValidationError as error:
            _log.error("terminating an unreadable case message: %s", error)
            await message.term()
            return 0
        keepalive = asyncio.create_task(self._keep_alive(message))
        try:
            result = await self._score(case)
            await self._client.report_result(result)
            await message.ack()
            return 1
        except Exception:
            _log.exception("case %s failed; it goes back to the queue", case.caseId)
            await message.nak(delay=5)
            return 0
        finally:
            keepalive.cancel()

    async def _keep_alive(self, message: Msg) -> None:
        interval = max(1.0, self._context.spec.caseTimeoutSeconds / 3)
        while True:
            await asyncio.sleep(interval)
            try:
                await message.in_progress()
            except Exception as error:  # a lost link: the case may be redelivered; the result still counts
                _log.warning("in_progress failed: %s", error)

    async def _score(self, case: EvaluationCase) -> EvaluationCaseResult:
        artifacts = []
        with tempfile.TemporaryDirectory(dir=self._work_dir) as scratch:
            score = await asyncio.to_thread(self._evaluator.evaluate, case.caseId, case.index, Path(scratch))
            for path in score.files:
                granted = await self._client.artifact_grant(case.caseId, path.name)
                await asyncio.to_thread(put_part, granted.grant.root, path, 0, path.stat().st_size)
                artifacts.append({"name": path.name, "key": granted.key})
        _log.info("case %s: %s in %.1f s", case.caseId, score.metrics, score.seconds)
        return EvaluationCaseResult.model_validate(
            {
                "v": SCHEMA_VERSION,
                "evaluationId": case.evaluationId,
                "caseId": case.caseId,
                "defectClass": case.defectClass,
                "metrics": score.metrics,
                "fallback": score.fallback,
                "seconds": score.seconds,
                "shardJobId": self._job_id,
                "artifacts": artifacts,
                "finishedAt": datetime.now(UTC).isoformat(),
            }
        )


async def load_evaluator(
    nc: Client, context: EvaluationShardContext, data_root: Path, work_dir: Path, worker_id: str
) -> CaseEvaluator:
    """The pinned checkpoints, downloaded and verified, loaded once by the evaluator of the spec's kind."""
    loader = evaluator_loader(context.spec.kind)
    checkpoints = CheckpointClient(nc, worker_id)
    directories: dict[str, Path] = {}
    for role, model in context.models.model_dump().items():
        record = await checkpoints.resolve(model["checkpointId"])
        directories[role] = await download_checkpoint(checkpoints, record, work_dir / "checkpoints")
    return await asyncio.to_thread(loader, context, directories, data_root, work_dir)


async def run_shard(
    evaluation_id: str,
    nats: NatsAccess,
    worker_id: str,
    data_root: Path,
    work_dir: Path,
    idle_exit_seconds: float,
) -> int:
    env = PlatformEnv.read()
    nc = await connect_nats(nats, f"eval-shard-{evaluation_id}")
    try:
        client = EvaluationClient(nc, evaluation_id, worker_id)
        context = await client.context()
        if context.complete:
            _log.info("evaluation %s is complete; nothing to do", evaluation_id)
            return 0
        work_dir.mkdir(parents=True, exist_ok=True)
        evaluator = await load_evaluator(nc, context, data_root, work_dir, worker_id)
        shard = Shard(nc, context, evaluator, data_root, work_dir, env.job_id, worker_id)
        if not context.planned:
            await shard.plan()
        scored = await shard.consume(idle_exit_seconds)
        _log.info("evaluation %s: this shard scored %d case(s)", evaluation_id, scored)
        return 0
    finally:
        await nc.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Score evaluation cases from the work queue.")
    parser.add_argument("--evaluation", required=True, help="evaluation id")
    parser.add_argument(
        "--data-root", type=Path, help="dataset root (default: the one the worker resolved from data.root)"
    )
    parser.add_argument(
        "--work-dir", type=Path, help="downloads and scratch (default: the attempt's output dir)"
    )
    parser.add_argument("--idle-exit-seconds", type=float, default=120.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    env = PlatformEnv.read()
    data_root = args.data_root or env.data_root
    if data_root is None:
        parser.error("no dataset root: pass --data-root or run as a job whose spec names data.root")
    if env.worker_id is None:
        parser.error(
            f"no worker: run under a worker agent ({ENV_CONTEXT} names the attempt) "
            "with its HOUNSFIELD_NATS_* access"
        )
    work_dir = args.work_dir or env.output_dir or Path(tempfile.mkdtemp(prefix="hf-eval-shard-"))
    nats = NatsAccess.from_env()
    return asyncio.run(
        run_shard(args.evaluation, nats, env.worker_id, data_root, work_dir, args.idle_exit_seconds)
    )


if __name__ == "__main__":
    raise SystemExit(main())
